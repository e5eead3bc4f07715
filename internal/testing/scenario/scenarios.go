package scenario

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ecs-medic/ecs-medic/internal/chatops"
	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/runbook"
	"github.com/ecs-medic/ecs-medic/internal/testing/eventgen"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakeecs"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakepagerduty"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakes"
)

// Scale is how big a run is: Short for `make test`, Full for `make bench`.
type Scale struct {
	Events   int
	Services int
	Clients  int
	Cycles   int // flapping
	// DynamoURL is the DynamoDB endpoint (dynalite, started by the caller) the DynamoDB storm
	// keeps its incidents in; empty skips that scenario.
	DynamoURL string
}

// Short and Full are the two sizes.
var (
	Short = Scale{Events: 400, Services: 4, Clients: 8, Cycles: 3}
	Full  = Scale{Events: 10000, Services: 20, Clients: 16, Cycles: 10}
)

// Result is one scenario's outcome: whether every count held, and its figures.
type Result struct {
	Name     string
	Problems []string
	Figures  [][2]string
}

// Passed reports whether every count held.
func (r *Result) Passed() bool { return len(r.Problems) == 0 }

func (r *Result) expect(ok bool, format string, args ...any) {
	if !ok {
		r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
	}
}

func (r *Result) figure(name, format string, args ...any) {
	r.Figures = append(r.Figures, [2]string{name, fmt.Sprintf(format, args...)})
}

// Scenario is one named run.
type Scenario struct {
	Name string
	Run  func(ctx context.Context, s Scale) Result
}

// All are the scenarios, in the order they are reported.
var All = []Scenario{
	{"crash-loop storm", Storm},
	{"flapping service", Flapping},
	{"bad deploy during a storm", BadDeploy},
	{"PagerDuty answering 429/500", PagerDutyOutage},
	{"Slack down", SlackDown},
	{"ECS throttling and slow", ECSThrottling},
	{"hostile input mixed in", Hostile},
	{"killed mid-storm and restarted", Restart},
	{"crash-loop storm, Lambda handler on DynamoDB", DynamoStorm},
}

func down(name string) fakeecs.Service {
	return fakeecs.Service{Cluster: "prod", Name: name, Desired: 4, Running: 0, Pending: 0,
		TaskDefinition: "arn:aws:ecs:us-east-1:111122223333:task-definition/" + name + ":1"}
}

func svcName(i int) string { return fmt.Sprintf("svc-%02d", i) }

// stormEvents builds a crash-loop storm: every service fails with three causes, 5 % of events
// delivered twice, all shuffled.
func stormEvents(n, services int, seed uint64) ([][]byte, int) {
	return buildStorm(n, services, 0.05, seed, 3, threeCauses)
}

// threeCauses cycles every service through an OOM, an image pull failure and a crash.
func threeCauses(svc string, i, services int) []byte {
	switch (i / services) % 3 {
	case 0:
		return eventgen.OOM("prod", svc, i)
	case 1:
		return eventgen.ImagePull("prod", svc, i)
	default:
		return eventgen.Crash("prod", svc, i, 1)
	}
}

// oomOnly is a crash loop of OOM kills on every service.
func oomOnly(svc string, i, _ int) []byte { return eventgen.OOM("prod", svc, i) }

// buildStorm builds n STOPPED task events spread round-robin over `services` services (event i by
// kind(service, i, services)), a fraction `redelivered` of them sent twice as EventBridge's
// at-least-once delivery would, all shuffled by a generator seeded with (seed, stream). It returns
// the bodies and how many are redeliveries.
func buildStorm(n, services int, redelivered float64, seed, stream uint64, kind func(svc string, i, services int) []byte) ([][]byte, int) {
	rng := rand.New(rand.NewPCG(seed, stream))
	out := make([][]byte, 0, n+int(float64(n)*redelivered)+1)
	for i := range n {
		b := kind(svcName(i%services), i, services)
		out = append(out, b)
		if rng.Float64() < redelivered {
			out = append(out, b)
		}
	}
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out, len(out) - n
}

func services(n int) []fakeecs.Service {
	var out []fakeecs.Service
	for i := range n {
		out = append(out, down(svcName(i)))
	}
	return out
}

func (e *Env) incidents(ctx context.Context) []*incident.Incident {
	incs, _ := e.Store.List(ctx, incident.Filter{Limit: 100000})
	return incs
}

// Storm: one incident, one page and one Slack message per service and cause.
func Storm(ctx context.Context, s Scale) Result {
	r := Result{Name: "crash-loop storm"}
	e, err := NewEnv(ctx, Options{Services: services(s.Services)})
	if err != nil {
		r.expect(false, "%v", err)
		return r
	}
	defer e.Close()
	before := heapNow(true)
	bodies, dups := stormEvents(s.Events, s.Services, 1)
	heap := watchHeap(20 * time.Millisecond)
	sent, err := e.Send(ctx, bodies, s.Clients)
	peak := heap.Stop()
	r.expect(err == nil, "send: %v", err)
	incs := e.incidents(ctx)
	want := s.Services * 3
	occ, dupSeen := 0, 0
	var firstPage time.Time
	for _, inc := range incs {
		occ += inc.Occurrences.Count
		dupSeen += inc.Suppressed["duplicate"]
	}
	e.settle(ctx)
	triggers := e.PD.Events("trigger")
	posts := e.messages()
	r.expect(len(incs) == want, "%d incidents, want %d", len(incs), want)
	r.expect(occ == s.Events, "%d occurrences, want %d", occ, s.Events)
	r.expect(dupSeen == dups, "%d redeliveries recognised, %d sent", dupSeen, dups)
	r.expect(len(triggers) == want, "%d pages, want %d", len(triggers), want)
	r.expect(posts == want, "%d Slack messages, want %d", posts, want)
	for _, inc := range incs {
		for _, en := range inc.Timeline {
			if en.Actor == "pagerduty" && en.Kind == "notified" && (firstPage.IsZero() || en.At.Before(firstPage)) {
				firstPage = en.At
			}
		}
	}
	ecsCalls := len(e.ECS.Calls(""))
	r.figure("events sent (5 % redelivered, shuffled)", "%d across %d services × 3 causes", sent.Requests, s.Services)
	r.figure("throughput", "%.0f events/s", float64(sent.Requests)/sent.Elapsed.Seconds())
	r.figure("decision latency p50 / p99", "%s / %s", sent.Percentile(0.5).Round(time.Microsecond), sent.Percentile(0.99).Round(time.Microsecond))
	r.figure("incidents / pages / Slack messages", "%d / %d / %d", len(incs), len(triggers), posts)
	if !firstPage.IsZero() {
		r.figure("first event → first page", "%s", firstPage.Sub(sent.First).Round(time.Millisecond))
	}
	r.figure("per incident: ECS calls / PagerDuty events / Slack calls / store writes", "%.1f / %.1f / %.1f / %.0f",
		float64(ecsCalls)/float64(want), float64(len(e.PD.Events("")))/float64(want), float64(len(e.Slack.Calls("")))/float64(want),
		float64(e.Writes())/float64(want))
	r.figure("Go heap, whole process (load generator included): before / peak / after (GC'd)", "%.1f / %.1f / %.1f MiB",
		mib(before), mib(peak), mib(heapNow(true)))
	return r
}

// DynamoStorm is the crash-loop storm through the ecs-events Lambda handler with incidents in
// DynamoDB (dynalite), as the functions run: the same counts under many concurrent conditional
// writes.
func DynamoStorm(ctx context.Context, s Scale) Result {
	r := Result{Name: "crash-loop storm, Lambda handler on DynamoDB"}
	if s.DynamoURL == "" {
		r.figure("skipped", "no DynamoDB endpoint")
		return r
	}
	e, err := NewEnv(ctx, Options{Services: services(s.Services), Dynamo: s.DynamoURL})
	if err != nil {
		r.expect(false, "%v", err)
		return r
	}
	defer e.Close()
	bodies, dups := stormEvents(s.Events/2, s.Services, 7)
	// Through the Lambda handler itself (awslambda.Events), as concurrent invocations would.
	before := e.Dynamo.Stats()
	sent, err := e.Invoke(ctx, bodies, s.Clients)
	during := e.Dynamo.Stats()
	r.expect(err == nil, "invoke: %v", err)
	e.settle(ctx)
	incs := e.incidents(ctx)
	occ, dupSeen := 0, 0
	for _, inc := range incs {
		occ += inc.Occurrences.Count
		dupSeen += inc.Suppressed["duplicate"]
	}
	want := s.Services * 3
	r.expect(len(incs) == want, "%d incidents, want %d", len(incs), want)
	r.expect(occ == s.Events/2, "%d occurrences, want %d", occ, s.Events/2)
	r.expect(dupSeen == dups, "%d redeliveries recognised, %d sent", dupSeen, dups)
	r.expect(len(e.PD.Events("trigger")) == want, "%d pages, want %d", len(e.PD.Events("trigger")), want)
	r.figure("events / concurrent invocations", "%d / %d", sent.Requests, s.Clients)
	r.figure("throughput", "%.0f events/s", float64(sent.Requests)/sent.Elapsed.Seconds())
	r.figure("decision latency p50 / p99", "%s / %s", sent.Percentile(0.5).Round(time.Microsecond), sent.Percentile(0.99).Round(time.Microsecond))
	r.figure("incidents / pages / DynamoDB writes per incident", "%d / %d / %.0f", len(incs), len(e.PD.Events("trigger")), float64(e.Writes())/float64(want))
	n := float64(sent.Requests)
	r.figure("per event: DynamoDB reads / writes / RCU / WCU / conditional writes refused", "%.1f / %.1f / %.1f / %.1f / %.2f",
		float64(during.Reads-before.Reads)/n, float64(during.Writes-before.Writes)/n,
		(during.ReadUnits-before.ReadUnits)/n, (during.WriteUnits-before.WriteUnits)/n, float64(during.ConditionFailures-before.ConditionFailures)/n)
	return r
}

// Flapping: a service that breaks and recovers again and again gets a new incident (and page)
// each time, never two at once, every one resolved.
func Flapping(ctx context.Context, s Scale) Result {
	r := Result{Name: "flapping service"}
	e, err := NewEnv(ctx, Options{Services: []fakeecs.Service{down("flappy")}})
	if err != nil {
		r.expect(false, "%v", err)
		return r
	}
	defer e.Close()
	n := 0
	for c := range s.Cycles {
		e.ECS.SetCounts("prod", "flappy", 4, 0)
		e.App.ForgetState(stateRef("flappy"))
		var bodies [][]byte
		for range 20 {
			n++
			bodies = append(bodies, eventgen.OOM("prod", "flappy", 100000*c+n))
		}
		if _, err := e.Send(ctx, bodies, 4); err != nil {
			r.expect(false, "cycle %d: %v", c, err)
		}
		active, _ := e.Store.List(ctx, incident.Filter{Active: true})
		r.expect(len(active) == 1, "cycle %d: %d active incidents, want 1", c, len(active))
		e.ECS.SetCounts("prod", "flappy", 4, 4)
		e.App.ForgetState(stateRef("flappy"))
		_, _ = e.Rec.Run(ctx) // recovering
		_, _ = e.Rec.Run(ctx) // resolved (quiet period 0 here)
	}
	incs := e.incidents(ctx)
	ids := map[string]bool{}
	resolved := 0
	for _, inc := range incs {
		ids[inc.ID] = true
		if inc.State == incident.Resolved {
			resolved++
		}
	}
	r.expect(len(incs) == s.Cycles && len(ids) == s.Cycles, "%d incidents (%d ids), want %d", len(incs), len(ids), s.Cycles)
	r.expect(resolved == s.Cycles, "%d resolved, want %d", resolved, s.Cycles)
	r.expect(len(e.PD.Events("trigger")) == s.Cycles && len(e.PD.Events("resolve")) == s.Cycles,
		"%d triggers and %d resolves, want %d each", len(e.PD.Events("trigger")), len(e.PD.Events("resolve")), s.Cycles)
	r.figure("cycles → incidents / triggers / resolves", "%d → %d / %d / %d", s.Cycles, len(incs), len(e.PD.Events("trigger")), len(e.PD.Events("resolve")))
	return r
}

// BadDeploy: a new revision crashing on start during a storm on other services is rolled back
// once, to the revision that ran before it.
func BadDeploy(ctx context.Context, s Scale) Result {
	r := Result{Name: "bad deploy during a storm"}
	svcs := services(s.Services)
	bad := fakeecs.Service{Cluster: "prod", Name: "payments", Desired: 4, Running: 1, TaskDefinition: "arn:aws:ecs:us-east-1:111122223333:task-definition/payments:2",
		Deployments: []fakeecs.Deployment{
			{ID: "ecs-svc/2", Status: "PRIMARY", TaskDefinition: "arn:aws:ecs:us-east-1:111122223333:task-definition/payments:2", RolloutState: "IN_PROGRESS", Desired: 4, Failed: 3},
			{ID: "ecs-svc/1", Status: "ACTIVE", TaskDefinition: "arn:aws:ecs:us-east-1:111122223333:task-definition/payments:1", RolloutState: "COMPLETED", Desired: 4, Running: 1}}}
	e, err := NewEnv(ctx, Options{Services: append(svcs, bad), AutoFix: runbook.Auto, Auto: []string{"essential-exit"}})
	if err != nil {
		r.expect(false, "%v", err)
		return r
	}
	defer e.Close()
	bodies, _ := stormEvents(s.Events/2, s.Services, 2)
	for i := range s.Events / 10 {
		bodies = append(bodies, eventgen.Crash("prod", "payments", 500000+i, 2))
	}
	rand.New(rand.NewPCG(9, 9)).Shuffle(len(bodies), func(i, j int) { bodies[i], bodies[j] = bodies[j], bodies[i] })
	if _, err := e.Send(ctx, bodies, s.Clients); err != nil {
		r.expect(false, "send: %v", err)
	}
	// No wait: the Env's remedy runs the remediator within the event's request, so every fix is
	// done when Send returns.
	var rollbacks []fakeecs.Call
	for _, c := range e.ECS.Mutations() {
		if c.Body["service"] == "payments" {
			rollbacks = append(rollbacks, c)
		}
	}
	r.expect(len(rollbacks) == 1, "%d changes to payments, want 1 rollback", len(rollbacks))
	if len(rollbacks) == 1 {
		r.expect(rollbacks[0].Body["taskDefinition"] == "arn:aws:ecs:us-east-1:111122223333:task-definition/payments:1", "rolled back to %v", rollbacks[0].Body["taskDefinition"])
	}
	others := len(e.ECS.Mutations()) - len(rollbacks)
	r.expect(others == 0, "%d changes to other services (their runbooks only suggest)", others)
	r.figure("mutating ECS calls", "%d (one rollback payments:2 → payments:1)", len(e.ECS.Mutations()))
	return r
}

// PagerDutyOutage: PagerDuty throttles and fails while incidents open; every page arrives once,
// late, through the reconciler's re-sends.
func PagerDutyOutage(ctx context.Context, s Scale) Result {
	r := Result{Name: "PagerDuty answering 429/500"}
	e, err := NewEnv(ctx, Options{Services: services(s.Services)})
	if err != nil {
		r.expect(false, "%v", err)
		return r
	}
	defer e.Close()
	e.PD.SetDown(true)
	bodies, _ := stormEvents(s.Events/4, s.Services, 3)
	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	_, err = e.Send(sctx, bodies, s.Clients)
	r.expect(err == nil, "send: %v", err)
	want := len(e.incidents(ctx))
	r.expect(len(e.PD.Events("trigger")) == 0, "pages accepted while down")
	e.PD.SetDown(false)
	e.PD.Fail(fakepagerduty.Statuses(429, 500)...) // coming back, still shaky
	e.settle(ctx)
	r.expect(len(e.PD.Events("trigger")) == want, "%d pages after the outage, want %d (one per incident)", len(e.PD.Events("trigger")), want)
	r.expect(e.messages() == want, "PagerDuty down disturbed Slack: %d messages for %d incidents", e.messages(), want)
	r.figure("incidents during the outage → pages after it", "%d → %d", want, len(e.PD.Events("trigger")))
	return r
}

// SlackDown: Slack failing never stops a page; the messages follow when it is back.
func SlackDown(ctx context.Context, s Scale) Result {
	r := Result{Name: "Slack down"}
	e, err := NewEnv(ctx, Options{Services: services(s.Services)})
	if err != nil {
		r.expect(false, "%v", err)
		return r
	}
	defer e.Close()
	var fails []fakes.Fault
	for range 1000 {
		fails = append(fails, fakes.Fault{Status: 503})
	}
	e.Slack.Fail(fails...)
	bodies, _ := stormEvents(s.Events/4, s.Services, 4)
	_, err = e.Send(ctx, bodies, s.Clients)
	r.expect(err == nil, "send: %v", err)
	want := len(e.incidents(ctx))
	r.expect(len(e.PD.Events("trigger")) == want, "%d pages while Slack was down, want %d", len(e.PD.Events("trigger")), want)
	e.Slack.Clear() // Slack is back
	e.settle(ctx)
	posted := 0
	for _, inc := range e.incidents(ctx) {
		if n := inc.Notices["slack"]; n != nil && n.Ref != "" {
			posted++
		}
	}
	r.expect(posted == want, "%d Slack messages after the outage, want %d (one per incident)", posted, want)
	r.figure("incidents / pages while Slack was down / Slack messages after re-sends", "%d / %d / %d", want, len(e.PD.Events("trigger")), posted)
	return r
}

// ECSThrottling: ECS throttles and answers slowly; events are still handled, severity falls back
// and says why, and the cache keeps the calls bounded.
func ECSThrottling(ctx context.Context, s Scale) Result {
	r := Result{Name: "ECS throttling and slow"}
	e, err := NewEnv(ctx, Options{Services: services(s.Services)})
	if err != nil {
		r.expect(false, "%v", err)
		return r
	}
	defer e.Close()
	e.ECS.SetDelay(50 * time.Millisecond)
	e.ECS.FailNext(1<<30, fakeecs.Throttled)
	bodies, _ := stormEvents(s.Events/2, s.Services, 5)
	sent, err := e.Send(ctx, bodies, s.Clients)
	r.expect(err == nil, "send: %v", err)
	incs := e.incidents(ctx)
	unknown := 0
	for _, inc := range incs {
		if inc.StateError != "" {
			unknown++
		}
	}
	r.expect(len(incs) == s.Services*3, "%d incidents, want %d", len(incs), s.Services*3)
	r.expect(unknown == len(incs), "%d of %d incidents say why the state is unknown", unknown, len(incs))
	calls := len(e.ECS.Calls("DescribeServices"))
	r.figure("events / DescribeServices calls while throttled", "%d / %d", sent.Requests, calls)
	r.figure("decision latency p50 / p99 while throttled", "%s / %s", sent.Percentile(0.5).Round(time.Microsecond), sent.Percentile(0.99).Round(time.Microsecond))
	return r
}

// Hostile: malformed, oversized and unknown events and forged Slack requests mixed into a storm
// are refused, and every good event still counts.
func Hostile(ctx context.Context, s Scale) Result {
	r := Result{Name: "hostile input mixed in"}
	e, err := NewEnv(ctx, Options{Services: services(s.Services)})
	if err != nil {
		r.expect(false, "%v", err)
		return r
	}
	defer e.Close()
	good, _ := stormEvents(s.Events/4, s.Services, 6)
	goodCount := len(good)
	bad := [][]byte{[]byte("{"), []byte(`{"id":"x","detail-type":"ECS Task State Change","detail":{"taskArn":1}}`),
		[]byte(`{"id":"y","detail-type":"EC2 Instance State-change Notification","detail":{}}`), []byte(strings.Repeat("\x00A", 300000)),
		[]byte(`[{"id":"z"},`), []byte(`{"detail-type":"ECS Task State Change","detail":{}}`)}
	bodies := append(append([][]byte{}, good...), bad...)
	sent, err := e.Send(ctx, bodies, s.Clients)
	r.expect(err == nil, "send: %v", err)
	r.expect(sent.Rejected == len(bad), "%d requests refused, want %d", sent.Rejected, len(bad))
	forged := 0
	for _, hdr := range []http.Header{{}, chatops.Sign("wrong", time.Now(), []byte("text=ack")), chatops.Sign(signingSecret, time.Now().Add(-time.Hour), []byte("text=ack"))} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.URL+"/slack/commands", strings.NewReader(url.Values{"text": {"resolve all"}}.Encode()))
		req.Header = hdr
		if resp, err := http.DefaultClient.Do(req); err == nil {
			if resp.StatusCode == http.StatusUnauthorized {
				forged++
			}
			resp.Body.Close()
		}
	}
	r.expect(forged == 3, "%d of 3 forged Slack requests refused", forged)
	occ := 0
	for _, inc := range e.incidents(ctx) {
		occ += inc.Occurrences.Count + inc.Suppressed["duplicate"]
	}
	r.expect(occ == goodCount, "%d good events counted, want %d", occ, goodCount)
	r.figure("good / hostile events / forged Slack requests refused", "%d / %d / %d", goodCount, sent.Rejected, forged)
	return r
}

// messages counts incident messages posted to Slack (not thread replies).
func (e *Env) messages() int {
	n := 0
	for _, c := range e.Slack.Calls("chat.postMessage") {
		if c.ThreadTS == "" {
			n++
		}
	}
	return n
}

// settle delivers what Slack's queue holds and runs the reconciler until nothing is pending (at
// most 20 passes): what a storm queued or an outage held back goes out, as it would over the next
// minutes. It waits through the App's Flush, never by the clock.
func (e *Env) settle(ctx context.Context) {
	for range 20 {
		_ = e.App.Flush(ctx)
		_, _ = e.Rec.Run(ctx)
		_ = e.App.Flush(ctx)
		pending := false
		for _, inc := range e.incidents(ctx) {
			for _, n := range inc.Notices {
				if n.Pending != "" {
					pending = true
				}
			}
		}
		if !pending {
			return
		}
	}
}
