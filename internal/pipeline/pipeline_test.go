package pipeline_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"go.uber.org/zap"

	"github.com/ecs-medic/ecs-medic/internal/boltstore"
	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/metrics/prom"
	"github.com/ecs-medic/ecs-medic/internal/notify"
	"github.com/ecs-medic/ecs-medic/internal/notify/console"
	"github.com/ecs-medic/ecs-medic/internal/pipeline"
	"github.com/ecs-medic/ecs-medic/internal/servicestate"
	"github.com/ecs-medic/ecs-medic/internal/testing/eventgen"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakeecs"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakes"
)

type rig struct {
	p       *pipeline.Pipeline
	store   *boltstore.Store
	ecs     *fakeecs.Server
	source  *servicestate.Source
	console *bytes.Buffer
}

func newRig(t *testing.T, services ...fakeecs.Service) *rig {
	t.Helper()
	fake := fakeecs.New(services...)
	t.Cleanup(fake.Close)
	client := ecs.NewFromConfig(fakes.AWSConfig(fake.URL))
	src := servicestate.New(client)
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "medic.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	buf := &bytes.Buffer{}
	var mu sync.Mutex
	w := writerFunc(func(b []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return buf.Write(b) })
	fan := notify.NewFanout([]notify.Notifier{console.New(w)})
	p := pipeline.New(incident.NewManager(st), src, fan, zap.NewNop(), prom.New())
	return &rig{p: p, store: st, ecs: fake, source: src, console: buf}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

func (r *rig) handle(t *testing.T, raw []byte) pipeline.Result {
	t.Helper()
	res, err := r.p.HandleRaw(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestOOMCrashLoopIsOneP1Incident(t *testing.T) {
	r := newRig(t, fakeecs.Service{Cluster: "prod", Name: "checkout", Desired: 4, Running: 0})
	first := r.handle(t, eventgen.OOM("prod", "checkout", 1))
	if first.Outcome != pipeline.OutcomeOpened || first.Cause != "oom-killed" || first.Severity != "P1" || first.Incident == "" {
		t.Fatalf("first event: %+v", first)
	}
	for i := 2; i <= 30; i++ {
		res := r.handle(t, eventgen.OOM("prod", "checkout", i))
		if res.Outcome != pipeline.OutcomeOccurrence || res.Incident != first.Incident {
			t.Fatalf("event %d: %+v", i, res)
		}
	}
	// Redelivery of the first event.
	if res := r.handle(t, eventgen.OOM("prod", "checkout", 1)); res.Outcome != pipeline.OutcomeDuplicate {
		t.Fatalf("redelivery: %+v", res)
	}
	inc, err := r.store.Get(context.Background(), first.Incident)
	if err != nil {
		t.Fatal(err)
	}
	if inc.Occurrences.Count != 30 || inc.Suppressed["duplicate"] != 1 || inc.ServiceState == nil || inc.ServiceState.Desired != 4 {
		t.Fatalf("incident: %+v", inc)
	}
	if inc.Diagnosis == nil || inc.Diagnosis.Container != "app" || inc.Facts.TaskDefinition == "" || inc.Facts.Memory != "512" {
		t.Fatalf("decisive facts not kept: %+v %+v", inc.Diagnosis, inc.Facts)
	}
	if n := strings.Count(r.console.String(), "OPENED"); n != 1 {
		t.Fatalf("%d opened notifications, want 1:\n%s", n, r.console.String())
	}
	if n := len(r.ecs.Calls("DescribeServices")); n != 1 {
		t.Fatalf("%d DescribeServices calls for one service within the cache TTL, want 1", n)
	}
	var notified bool
	for _, e := range inc.Timeline {
		if e.Kind == "notified" && e.Actor == "console" {
			notified = true
		}
	}
	if !notified {
		t.Fatalf("notification not in the timeline: %+v", inc.Timeline)
	}
}

func TestSeverityFromServiceState(t *testing.T) {
	r := newRig(t,
		fakeecs.Service{Cluster: "prod", Name: "down", Desired: 3, Running: 0},
		fakeecs.Service{Cluster: "prod", Name: "half", Desired: 4, Running: 1},
		fakeecs.Service{Cluster: "prod", Name: "degraded", Desired: 4, Running: 3})
	for svc, want := range map[string]string{"down": "P1", "half": "P2", "degraded": "P3"} {
		if res := r.handle(t, eventgen.Crash("prod", svc, len(svc), 1)); res.Severity != want {
			t.Errorf("%s: %s, want %s", svc, res.Severity, want)
		}
	}
	// A standalone task is P3 and costs no ECS call.
	before := len(r.ecs.Calls(""))
	res := r.handle(t, eventgen.TaskStopped(eventgen.Task{Family: "nightly-report", TaskN: 99, StopCode: "EssentialContainerExited",
		StoppedReason: "Essential container in task exited", ExitCode: eventgen.Exit(1)}))
	if res.Severity != "P3" || res.Service != "family:nightly-report" || len(r.ecs.Calls("")) != before {
		t.Fatalf("standalone: %+v", res)
	}
}

func TestSeverityRisesAsTheServiceDegrades(t *testing.T) {
	r := newRig(t, fakeecs.Service{Cluster: "prod", Name: "api", Desired: 4, Running: 3})
	first := r.handle(t, eventgen.OOM("prod", "api", 1))
	if first.Severity != "P3" {
		t.Fatalf("first: %+v", first)
	}
	r.ecs.SetCounts("prod", "api", 4, 0)
	r.source.Forget(servicestate.Ref{Account: eventgen.Account, Region: "us-east-1", Cluster: "prod", Service: "api"})
	res := r.handle(t, eventgen.OOM("prod", "api", 2))
	if res.Severity != "P1" || res.Incident != first.Incident {
		t.Fatalf("after the service went down: %+v", res)
	}
	if !strings.Contains(r.console.String(), "SEVERITY-RAISED") {
		t.Fatalf("no severity-raised notification:\n%s", r.console.String())
	}
}

func TestStateUnavailableFallsBackToP3(t *testing.T) {
	r := newRig(t) // the fake knows no service: DescribeServices reports MISSING
	res := r.handle(t, eventgen.ImagePull("prod", "ghost", 1))
	if res.Outcome != pipeline.OutcomeOpened || res.Severity != "P3" || res.Sub != "not-found" {
		t.Fatalf("%+v", res)
	}
	inc, _ := r.store.Get(context.Background(), res.Incident)
	if !strings.Contains(inc.StateError, "not found") {
		t.Fatalf("the incident does not say why the state is unknown: %q", inc.StateError)
	}
	r.ecs.FailNext(1000, fakeecs.Throttled)
	res = r.handle(t, eventgen.OOM("prod", "throttled", 2))
	if res.Outcome != pipeline.OutcomeOpened || res.Severity != "P3" {
		t.Fatalf("throttled ECS failed the event: %+v", res)
	}
}

func TestExpectedAndIgnored(t *testing.T) {
	r := newRig(t, fakeecs.Service{Cluster: "prod", Name: "web", Desired: 2, Running: 2})
	if res := r.handle(t, eventgen.ScaleIn("prod", "web", 1)); res.Outcome != pipeline.OutcomeExpected || res.Incident != "" {
		t.Fatalf("scale-in: %+v", res)
	}
	running := eventgen.TaskStopped(eventgen.Task{Service: "web", TaskN: 2, LastStatus: "RUNNING"})
	if res := r.handle(t, running); res.Outcome != pipeline.OutcomeIgnored {
		t.Fatalf("running: %+v", res)
	}
	steady := eventgen.ServiceAction("sa-1", "prod", "web", "SERVICE_STEADY_STATE", "", time.Now())
	if res := r.handle(t, steady); res.Outcome != pipeline.OutcomeIgnored {
		t.Fatalf("steady state with nothing open: %+v", res)
	}
	if incs, _ := r.store.List(context.Background(), incident.Filter{}); len(incs) != 0 {
		t.Fatalf("non-failures opened %d incidents", len(incs))
	}
	if len(r.ecs.Calls("")) != 0 {
		t.Fatal("non-failures cost ECS calls")
	}
}

func TestSignalsCorroborateOpenIncidents(t *testing.T) {
	r := newRig(t, fakeecs.Service{Cluster: "prod", Name: "api", Desired: 4, Running: 1})
	oom := r.handle(t, eventgen.OOM("prod", "api", 1))
	at := time.Date(2026, 11, 27, 3, 1, 0, 0, time.UTC)
	imp := r.handle(t, eventgen.ServiceAction("sa-2", "prod", "api", "SERVICE_TASK_START_IMPAIRED", "", at))
	if imp.Outcome != pipeline.OutcomeAttached || imp.Incident != oom.Incident {
		t.Fatalf("start impaired did not attach to the open OOM incident: %+v", imp)
	}
	dep := r.handle(t, eventgen.Deployment("d-1", "prod", "api", "SERVICE_DEPLOYMENT_FAILED", "ECS deployment circuit breaker: task failed to start.", at))
	if dep.Outcome != pipeline.OutcomeAttached || dep.Incident != oom.Incident {
		t.Fatalf("deployment failure: %+v", dep)
	}
	// On a service with nothing open, a failed deployment is an incident of its own.
	r.ecs.Put(fakeecs.Service{Cluster: "prod", Name: "web", Desired: 2, Running: 0})
	own := r.handle(t, eventgen.Deployment("d-2", "prod", "web", "SERVICE_DEPLOYMENT_FAILED", "ECS deployment circuit breaker: task failed to start.", at))
	if own.Outcome != pipeline.OutcomeOpened || own.Cause != "deployment-failed" || own.Severity != "P1" {
		t.Fatalf("own deployment incident: %+v", own)
	}
	inc, _ := r.store.Get(context.Background(), oom.Incident)
	msgs := 0
	for _, e := range inc.Timeline {
		if e.Kind == "signal" {
			msgs++
		}
	}
	if msgs != 2 {
		t.Fatalf("%d signals in the timeline, want 2: %+v", msgs, inc.Timeline)
	}
}

func TestAlarmOpensAndResolves(t *testing.T) {
	r := newRig(t)
	at := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
	open := r.handle(t, eventgen.Alarm("al-1", "checkout-5xx", "OK", "ALARM", "Threshold Crossed", at))
	if open.Outcome != pipeline.OutcomeOpened || open.Severity != "P3" {
		t.Fatalf("alarm: %+v", open)
	}
	ok := r.handle(t, eventgen.Alarm("al-2", "checkout-5xx", "ALARM", "OK", "Threshold no longer crossed", at.Add(5*time.Minute)))
	if ok.Outcome != pipeline.OutcomeResolved || ok.Incident != open.Incident {
		t.Fatalf("alarm OK: %+v", ok)
	}
	inc, _ := r.store.Get(context.Background(), open.Incident)
	if inc.State != incident.Resolved || !strings.Contains(r.console.String(), "RESOLVED") {
		t.Fatalf("not resolved: %+v\n%s", inc, r.console.String())
	}
}

func TestMalformedEventsAreAnsweredNotFailed(t *testing.T) {
	r := newRig(t)
	for _, raw := range []string{"", "{", `{"id":"e1","detail-type":"ECS Task State Change"}`, `{"id":"e2","detail-type":"Something Else","detail":{}}`} {
		res, err := r.p.HandleRaw(context.Background(), []byte(raw))
		if err != nil {
			t.Fatalf("%q: a malformed event must not ask for a retry: %v", raw, err)
		}
		if res.Outcome != pipeline.OutcomeError || res.Error == "" {
			t.Fatalf("%q: %+v", raw, res)
		}
	}
}

// failingStore fails every write: a retry may help, so the handler must say so.
type failingStore struct{ incident.Store }

func (failingStore) Update(context.Context, incident.Scope, []string, func([]*incident.Incident) ([]*incident.Incident, error)) error {
	return errors.New("table unavailable")
}

func TestStoreFailureAsksForRetry(t *testing.T) {
	p := pipeline.New(incident.NewManager(failingStore{}), servicestate.Unavailable{Reason: "test"},
		notify.NewFanout(nil), zap.NewNop(), prom.New())
	res, err := p.HandleRaw(context.Background(), eventgen.OOM("prod", "api", 1))
	if err == nil || res.Outcome != pipeline.OutcomeError {
		t.Fatalf("store failure hidden: %+v %v", res, err)
	}
}

func TestStormFromConcurrentHandlers(t *testing.T) {
	var services []fakeecs.Service
	for s := range 5 {
		services = append(services, fakeecs.Service{Cluster: "prod", Name: "svc" + string(rune('a'+s)), Desired: 2, Running: 1})
	}
	r := newRig(t, services...)
	var wg sync.WaitGroup
	events := make(chan []byte)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for raw := range events {
				if _, err := r.p.HandleRaw(context.Background(), raw); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	for i := range 500 {
		svc := "svc" + string(rune('a'+i%5))
		events <- eventgen.OOM("prod", svc, i)
		if i%10 == 0 {
			events <- eventgen.OOM("prod", svc, i) // redelivered
		}
	}
	close(events)
	wg.Wait()
	incs, _ := r.store.List(context.Background(), incident.Filter{})
	if len(incs) != 5 {
		t.Fatalf("%d incidents, want 5", len(incs))
	}
	total := 0
	for _, inc := range incs {
		total += inc.Occurrences.Count
	}
	if total != 500 {
		t.Fatalf("%d occurrences, want 500", total)
	}
	if n := strings.Count(r.console.String(), "OPENED"); n != 5 {
		t.Fatalf("%d pages for 5 incidents", n)
	}
}
