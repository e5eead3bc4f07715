package reconcile_test

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"go.uber.org/zap"

	"github.com/ecs-medic/ecs-medic/internal/boltstore"
	"github.com/ecs-medic/ecs-medic/internal/classify"
	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/incident/incidenttest"
	"github.com/ecs-medic/ecs-medic/internal/notify"
	"github.com/ecs-medic/ecs-medic/internal/notify/console"
	"github.com/ecs-medic/ecs-medic/internal/reconcile"
	"github.com/ecs-medic/ecs-medic/internal/servicestate"
	"github.com/ecs-medic/ecs-medic/internal/severity"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakeecs"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakes"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

type rig struct {
	r     *reconcile.Reconciler
	m     *incident.Manager
	clk   *incidenttest.Clock
	ecs   *fakeecs.Server
	src   *servicestate.Source
	out   *lockedBuffer
	store incident.Store
}

func newRig(t *testing.T, services ...fakeecs.Service) *rig {
	t.Helper()
	fake := fakeecs.New(services...)
	t.Cleanup(fake.Close)
	client := ecs.NewFromConfig(fakes.AWSConfig(fake.URL))
	clk := &incidenttest.Clock{T: time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)}
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "medic.db"), boltstore.WithClock(clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	m := incident.NewManager(st, incident.WithClock(clk.Now))
	buf := &lockedBuffer{}
	src := servicestate.New(client, servicestate.WithTTL(0))
	r := &reconcile.Reconciler{Manager: m, Guards: st, States: src, Sender: notify.NewFanout([]notify.Notifier{console.New(buf)}),
		Lister: client, Region: "us-east-1", Quiet: 5 * time.Minute, Log: zap.NewNop()}
	return &rig{r: r, m: m, clk: clk, ecs: fake, src: src, out: buf, store: st}
}

func (g *rig) run(t *testing.T) reconcile.Report {
	t.Helper()
	rep, err := g.r.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestRecoveredServiceResolvesAfterQuietPeriod(t *testing.T) {
	g := newRig(t, fakeecs.Service{Cluster: "prod", Name: "checkout", Desired: 4, Running: 0, Pending: 4})
	out, err := g.m.Apply(context.Background(), incidenttest.Failure(classify.OOMKilled, 1, severity.P1))
	if err != nil {
		t.Fatal(err)
	}
	if rep := g.run(t); rep.Resolved != 0 || rep.Checked != 1 {
		t.Fatalf("still down: %+v", rep)
	}
	g.ecs.SetCounts("prod", "checkout", 4, 4)
	if rep := g.run(t); rep.Recovering != 1 || rep.Resolved != 0 {
		t.Fatalf("just recovered: %+v", rep)
	}
	g.clk.Advance(6 * time.Minute)
	rep := g.run(t)
	if rep.Resolved != 1 {
		t.Fatalf("after the quiet period: %+v", rep)
	}
	inc, _ := g.store.Get(context.Background(), out.Incident.ID)
	if inc.State != incident.Resolved || !strings.Contains(g.out.String(), "RESOLVED") {
		t.Fatalf("%+v\n%s", inc.State, g.out.String())
	}
	if rep := g.run(t); rep.Checked != 0 {
		t.Fatalf("a resolved incident was checked again: %+v", rep)
	}
}

func TestPastDueIncidentEscalatesOnce(t *testing.T) {
	g := newRig(t, fakeecs.Service{Cluster: "prod", Name: "checkout", Desired: 4, Running: 1, Pending: 3})
	if _, err := g.m.Apply(context.Background(), incidenttest.Failure(classify.OOMKilled, 1, severity.P2)); err != nil {
		t.Fatal(err)
	}
	g.clk.Advance(31 * time.Minute)
	if rep := g.run(t); rep.Escalated != 1 {
		t.Fatalf("%+v", rep)
	}
	if rep := g.run(t); rep.Escalated != 0 {
		t.Fatalf("escalated twice: %+v", rep)
	}
	if n := strings.Count(g.out.String(), "ESCALATED"); n != 1 {
		t.Fatalf("%d escalation notifications", n)
	}
}

func TestAcknowledgedIncidentIsNotEscalated(t *testing.T) {
	g := newRig(t, fakeecs.Service{Cluster: "prod", Name: "checkout", Desired: 4, Running: 1, Pending: 3})
	out, _ := g.m.Apply(context.Background(), incidenttest.Failure(classify.OOMKilled, 1, severity.P2))
	if _, _, err := g.m.Acknowledge(context.Background(), out.Incident.ID, "alice"); err != nil {
		t.Fatal(err)
	}
	g.clk.Advance(time.Hour)
	if rep := g.run(t); rep.Escalated != 0 {
		t.Fatalf("%+v", rep)
	}
}

func TestLostEventsAreFound(t *testing.T) {
	g := newRig(t,
		fakeecs.Service{Cluster: "prod", Name: "checkout", Desired: 4, Running: 4},
		fakeecs.Service{Cluster: "prod", Name: "orders", Desired: 3, Running: 0},
		fakeecs.Service{Cluster: "prod", Name: "scaling", Desired: 6, Running: 2, Pending: 4},
		fakeecs.Service{Cluster: "batch", Name: "worker", Desired: 4, Running: 1})
	rep := g.run(t)
	if rep.Found != 2 {
		t.Fatalf("found %d, want 2 (orders, worker): %+v", rep.Found, rep)
	}
	incs, _ := g.store.List(context.Background(), incident.Filter{Active: true})
	got := map[string]string{}
	for _, inc := range incs {
		got[inc.Scope.Name()] = inc.Severity.String() + " " + string(inc.Cause)
	}
	if got["prod/orders"] != "P1 service-degraded" || got["batch/worker"] != "P2 service-degraded" {
		t.Fatalf("%v", got)
	}
	// A second pass opens nothing new.
	if rep := g.run(t); rep.Found != 0 {
		t.Fatalf("second pass: %+v", rep)
	}
}

func TestDeletedServiceResolves(t *testing.T) {
	g := newRig(t)
	if _, err := g.m.Apply(context.Background(), incidenttest.Failure(classify.OOMKilled, 1, severity.P3)); err != nil {
		t.Fatal(err)
	}
	if rep := g.run(t); rep.Resolved != 1 {
		t.Fatalf("%+v", rep)
	}
}

// A fix that does not bring the service back within its verify window stops automation and
// escalates; the cause recurring after a fix does too.
func TestIneffectiveFixAndRelapse(t *testing.T) {
	g := newRig(t, fakeecs.Service{Cluster: "prod", Name: "checkout", Desired: 4, Running: 0, Pending: 4})
	ctx := context.Background()
	out, err := g.m.Apply(ctx, incidenttest.Failure(classify.OOMKilled, 1, severity.P1))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := g.m.Acknowledge(ctx, out.Incident.ID, "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := g.m.ActionTaken(ctx, out.Incident.ID, 10*time.Minute); err != nil {
		t.Fatal(err)
	}
	g.clk.Advance(5 * time.Minute)
	if rep := g.run(t); rep.Escalated != 0 {
		t.Fatalf("escalated inside the verify window: %+v", rep)
	}
	g.clk.Advance(6 * time.Minute)
	if rep := g.run(t); rep.Escalated != 1 {
		t.Fatalf("%+v", rep)
	}
	inc, _ := g.store.Get(ctx, out.Incident.ID)
	if inc.AutomationStopped == "" || !inc.Escalated || !strings.Contains(g.out.String(), "ESCALATED") {
		t.Fatalf("not stopped or escalated: %+v", inc)
	}

	// Relapse: a new failure well after a fix.
	sig := incidenttest.Failure(classify.ImagePull, 2, severity.P2)
	sig.Time = g.clk.Now()
	o2, _ := g.m.Apply(ctx, sig)
	_, _ = g.m.ActionTaken(ctx, o2.Incident.ID, 10*time.Minute)
	g.clk.Advance(3 * time.Minute)
	sig = incidenttest.Failure(classify.ImagePull, 3, severity.P2)
	sig.Time = g.clk.Now()
	o3, err := g.m.Apply(ctx, sig)
	if err != nil || !o3.Relapsed || o3.Incident.AutomationStopped == "" {
		t.Fatalf("relapse not noticed: %+v %v", o3, err)
	}
}
