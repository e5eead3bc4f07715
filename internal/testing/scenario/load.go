package scenario

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"github.com/ecs-medic/ecs-medic/internal/testing/fakeecs"
)

// Load describes a bare load run (cmd/medic-load): the `medic serve` stack (HTTP server, pipeline,
// embedded store, the real ECS SDK client against a fake ECS on loopback) with no PagerDuty or
// Slack, driven by an OOM storm. It reports what the storm cost: events per second, decision
// latency, store writes, ECS calls, memory.
type Load struct {
	Events      int     // STOPPED task events to send
	Services    int     // spread across this many services
	Redelivered float64 // fraction of events sent twice (EventBridge at-least-once)
	Clients     int     // concurrent HTTP senders (like concurrent Lambda invocations)
	Seed        uint64
}

// LoadReport is what a load run measured.
type LoadReport struct {
	Load            Load
	Sent            int // requests, redeliveries included
	Elapsed         time.Duration
	EventsPerSecond float64
	P50, P99, Max   time.Duration
	Incidents       int
	Occurrences     int
	Duplicates      int
	StoreWrites     int64 // log records appended (one per event that changed something)
	StoreCommits    int64 // bbolt transactions, each with its fsync (the folds of the log)
	DescribeCalls   int
	RetainedMB      float64 // live heap after the run minus before it, both after a GC: what medic kept
	TotalAllocMB    float64 // allocated during the run, the load generator's share included
}

// RunLoad starts the stack on loopback, sends the storm, and reads back what it did.
func RunLoad(ctx context.Context, l Load) (*LoadReport, error) {
	if l.Clients <= 0 {
		l.Clients = 16
	}
	var svcs []fakeecs.Service
	for i := range l.Services {
		svcs = append(svcs, fakeecs.Service{Cluster: "prod", Name: svcName(i), Desired: 4, Running: 1})
	}
	e, err := NewEnv(ctx, Options{Services: svcs, Bare: true})
	if err != nil {
		return nil, err
	}
	defer e.Close()

	// Build the storm up front so generation is not measured.
	bodies, _ := buildStorm(l.Events, l.Services, l.Redelivered, l.Seed, 7, oomOnly)

	before, allocBefore := heapNow(true), heapAllocated()
	sent, err := Post(ctx, e.URL+"/events", bodies, l.Clients)
	if err != nil {
		return nil, err
	}
	if sent.Rejected > 0 {
		return nil, fmt.Errorf("%d events refused", sent.Rejected)
	}
	// The request bodies are live before and after, so the difference is what the run retained.
	// The last second's changes are folded first: a fold in flight holds the bbolt pages it
	// rewrites, a working set of its own (about the marks of one fold interval), not retained.
	if err := e.Bolt.Fold(); err != nil {
		return nil, err
	}
	// Two collections: the first leaves sync.Pool caches (bbolt's page buffers, sized by the last
	// fold) to the second.
	runtime.GC()
	after, allocAfter := heapNow(true), heapAllocated()
	runtime.KeepAlive(bodies)
	incs := e.incidents(ctx)
	r := &LoadReport{Load: l, Sent: sent.Requests, Elapsed: sent.Elapsed, Incidents: len(incs),
		EventsPerSecond: float64(sent.Requests) / sent.Elapsed.Seconds(),
		P50:             sent.Percentile(0.5), P99: sent.Percentile(0.99), Max: sent.Percentile(1),
		StoreWrites: e.Writes(), StoreCommits: e.Bolt.Commits(), DescribeCalls: len(e.ECS.Calls("DescribeServices")),
		RetainedMB:   mib(after) - mib(before),
		TotalAllocMB: mib(allocAfter - allocBefore)}
	for _, inc := range incs {
		r.Occurrences += inc.Occurrences.Count
		r.Duplicates += inc.Suppressed["duplicate"]
	}
	return r, nil
}

// Markdown renders the report as a table row block for docs/benchmarks.md.
func (r *LoadReport) Markdown() string {
	return fmt.Sprintf(`| figure | value |
|---|---|
| events sent (incl. %.0f%% redelivered) | %d |
| services | %d |
| concurrent senders | %d |
| wall time | %s |
| throughput | %.0f events/s |
| decision latency p50 / p99 / max | %s / %s / %s |
| incidents | %d |
| occurrences counted | %d |
| redeliveries recognised | %d |
| store log records / bbolt commits (fsync) | %d / %d |
| DescribeServices calls | %d |
| heap retained after the run (GC'd) / allocated during | %.1f MiB / %.1f MiB (%.1f KiB per event) |
`, r.Load.Redelivered*100, r.Sent, r.Load.Services, r.Load.Clients, r.Elapsed.Round(time.Millisecond), r.EventsPerSecond,
		r.P50.Round(time.Microsecond), r.P99.Round(time.Microsecond), r.Max.Round(time.Microsecond),
		r.Incidents, r.Occurrences, r.Duplicates, r.StoreWrites, r.StoreCommits, r.DescribeCalls, r.RetainedMB, r.TotalAllocMB,
		r.TotalAllocMB*1024/float64(max(r.Sent, 1)))
}
