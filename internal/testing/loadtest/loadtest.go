// Package loadtest drives the `medic serve` stack (HTTP server, pipeline, embedded store, the real
// ECS SDK client against a fake ECS on loopback) with an event storm and reports what it cost:
// events per second, decision latency, store writes, ECS calls, memory. The short form runs in
// `make test` with its counts asserted; `make bench` runs the full storm and prints the figures.
package loadtest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"go.uber.org/zap"

	"github.com/ecs-medic/ecs-medic/internal/app"
	"github.com/ecs-medic/ecs-medic/internal/boltstore"
	"github.com/ecs-medic/ecs-medic/internal/config"
	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/testing/eventgen"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakeecs"
)

// Storm describes a load run.
type Storm struct {
	Events      int     // STOPPED task events to send
	Services    int     // spread across this many services
	Redelivered float64 // fraction of events sent twice (EventBridge at-least-once)
	Clients     int     // concurrent HTTP senders (like concurrent Lambda invocations)
	Seed        uint64
}

// Report is what a run measured.
type Report struct {
	Storm           Storm
	Sent            int // requests, redeliveries included
	Elapsed         time.Duration
	EventsPerSecond float64
	P50, P99, Max   time.Duration
	Incidents       int
	Occurrences     int
	Duplicates      int
	StoreWrites     int64
	DescribeCalls   int
	RetainedMB      float64 // live heap after the run minus before it, both after a GC: what medic kept
	TotalAllocMB    float64 // allocated during the run, the load generator's share included
}

// Run starts the stack on loopback, sends the storm, and reads back what it did.
func Run(ctx context.Context, s Storm) (*Report, error) {
	if s.Clients <= 0 {
		s.Clients = 16
	}
	var services []fakeecs.Service
	for i := range s.Services {
		services = append(services, fakeecs.Service{Cluster: "prod", Name: svcName(i), Desired: 4, Running: 1})
	}
	fake := fakeecs.New(services...)
	defer fake.Close()

	dir, err := os.MkdirTemp("", "medic-load-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	store, err := boltstore.Open(filepath.Join(dir, "medic.db"))
	if err != nil {
		return nil, err
	}
	defer store.Close()

	awsCfg := aws.Config{Region: eventgen.Region, Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		BaseEndpoint: aws.String(fake.URL)}
	cfg, _ := config.Load(func(string) string { return "" })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	a, err := app.New(ctx, cfg, zap.NewNop(), app.Options{Store: store, Console: io.Discard, AWS: &awsCfg, Listener: ln})
	if err != nil {
		ln.Close()
		return nil, err
	}
	if err := a.Start(ctx); err != nil {
		return nil, err
	}
	defer func() { _ = a.Stop(context.Background()) }()
	url := "http://" + ln.Addr().String() + "/events"

	// Build the storm up front so generation is not measured: a crash loop on every service, some
	// events delivered twice, all shuffled.
	rng := rand.New(rand.NewPCG(s.Seed, 7))
	var bodies [][]byte
	for i := range s.Events {
		b := eventgen.OOM("prod", svcName(i%s.Services), i)
		bodies = append(bodies, b)
		if rng.Float64() < s.Redelivered {
			bodies = append(bodies, b)
		}
	}
	rng.Shuffle(len(bodies), func(i, j int) { bodies[i], bodies[j] = bodies[j], bodies[i] })

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: s.Clients}}
	latencies := make([]time.Duration, len(bodies))
	work := make(chan int)
	errc := make(chan error, s.Clients)
	var wg sync.WaitGroup
	start := time.Now()
	for range s.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				t0 := time.Now()
				resp, err := client.Post(url, "application/json", bytes.NewReader(bodies[i]))
				if err != nil {
					errc <- err
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					errc <- fmt.Errorf("event %d: HTTP %d", i, resp.StatusCode)
					return
				}
				latencies[i] = time.Since(t0)
			}
		}()
	}
	for i := range bodies {
		select {
		case work <- i:
		case err := <-errc:
			close(work)
			wg.Wait()
			return nil, err
		}
	}
	close(work)
	wg.Wait()
	elapsed := time.Since(start)
	select {
	case err := <-errc:
		return nil, err
	default:
	}

	// The request bodies are live before and after, so the difference is what the run retained.
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(bodies)
	incs, err := store.List(ctx, incident.Filter{Limit: 10000})
	if err != nil {
		return nil, err
	}
	r := &Report{Storm: s, Sent: len(bodies), Elapsed: elapsed, Incidents: len(incs),
		EventsPerSecond: float64(len(bodies)) / elapsed.Seconds(),
		StoreWrites:     store.Writes(), DescribeCalls: len(fake.Calls("DescribeServices")),
		RetainedMB:   (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / (1 << 20),
		TotalAllocMB: float64(after.TotalAlloc-before.TotalAlloc) / (1 << 20)}
	for _, inc := range incs {
		r.Occurrences += inc.Occurrences.Count
		r.Duplicates += inc.Suppressed["duplicate"]
	}
	slices.Sort(latencies)
	r.P50, r.P99, r.Max = latencies[len(latencies)/2], latencies[len(latencies)*99/100], latencies[len(latencies)-1]
	return r, nil
}

func svcName(i int) string { return fmt.Sprintf("svc-%02d", i) }

// Markdown renders the report as a table row block for docs/benchmarks.md.
func (r *Report) Markdown() string {
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
| store write transactions | %d |
| DescribeServices calls | %d |
| heap retained after the run (GC'd) / allocated during | %.1f MiB / %.1f MiB (%.1f KiB per event) |
`, r.Storm.Redelivered*100, r.Sent, r.Storm.Services, r.Storm.Clients, r.Elapsed.Round(time.Millisecond), r.EventsPerSecond,
		r.P50.Round(time.Microsecond), r.P99.Round(time.Microsecond), r.Max.Round(time.Microsecond),
		r.Incidents, r.Occurrences, r.Duplicates, r.StoreWrites, r.DescribeCalls, r.RetainedMB, r.TotalAllocMB,
		r.TotalAllocMB*1024/float64(max(r.Sent, 1)))
}
