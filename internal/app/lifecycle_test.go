package app_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"

	"github.com/ecs-medic/ecs-medic/internal/app"
	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/notify"
	"github.com/ecs-medic/ecs-medic/internal/notify/pagerduty"
	"github.com/ecs-medic/ecs-medic/internal/notify/slack"
	"github.com/ecs-medic/ecs-medic/internal/servicestate"
	"github.com/ecs-medic/ecs-medic/internal/testing/eventgen"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakeecs"
)

// gate stands between ecs-medic and the fake ECS and holds every call of one operation until
// released, telling the test when one has arrived: a background job is then certainly under way.
type gate struct {
	op      string
	arrived chan struct{}
	release chan struct{}
}

func newGate(op string) *gate {
	return &gate{op: op, arrived: make(chan struct{}, 16), release: make(chan struct{})}
}

// front returns the gate's URL in front of target.
func (g *gate) front(t *testing.T, target string) string {
	t.Helper()
	u, _ := url.Parse(target)
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.Header.Get("X-Amz-Target"), "."+g.op) {
			g.arrived <- struct{}{}
			<-g.release
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		select {
		case <-g.release:
		default:
			close(g.release) // a failed test must not leave a call held
		}
	})
	return srv.URL
}

// stopWhileHeld calls Stop while the gate holds a job's ECS call, checks Stop is still waiting
// once it has begun draining, releases the call and returns Stop's answer.
func stopWhileHeld(t *testing.T, a *app.App, g *gate) error {
	t.Helper()
	<-g.arrived // the job is at ECS
	done := make(chan error, 1)
	go func() { done <- a.Stop(context.Background()) }()
	<-app.Draining(a)
	select {
	case err := <-done:
		t.Fatalf("Stop returned (%v) while a background job was still at ECS", err)
	default:
	}
	close(g.release)
	return <-done
}

// A human's fix asked in Slack runs as a background job after the acknowledgement; Stop waits for
// it: the moment Stop returns, ECS has been changed, the incident records the action and the
// human has the outcome. A command after Stop starts nothing, and says so in the log.
func TestStopWaitsForASlackFix(t *testing.T) {
	g := newGate("UpdateService")
	d := newDoorWith(t, nil, doorOptions{gate: g})
	inc := d.open(t, 1)
	d.command(t, "U0ALICE", "alice", "fix "+inc.ID)
	if err := stopWhileHeld(t, d.app, g); err != nil {
		t.Fatal(err)
	}
	if n := updates(d.ecs); n != 1 {
		t.Fatalf("%d UpdateService calls when Stop returned, want 1", n)
	}
	if !hasEntry(d.get(t, inc.ID), "action") {
		t.Fatalf("the fix is not on the incident when Stop returned: %+v", d.get(t, inc.ID).Timeline)
	}
	if len(d.slack.Responses()) == 0 {
		t.Fatal("the fix's outcome was not posted to response_url before Stop returned")
	}

	d.command(t, "U0ALICE", "alice", "status prod/checkout")
	if d.logs.FilterMessage("defer slack job").FilterField(zapError(app.ErrStopping)).Len() != 1 {
		t.Fatalf("a Slack job asked for after Stop was not refused in the log: %v", d.logs.All())
	}
}

// An automatic fix (runbook mode auto, MEDIC_AUTOFIX=auto) runs as a background job after the
// event is answered; Stop waits for it too. An incident that opens after Stop is still recorded,
// and its fix is refused in the log rather than started unwaited.
func TestStopWaitsForAnAutomaticFix(t *testing.T) {
	g := newGate("UpdateService")
	d := newDoorWith(t, map[string]string{"MEDIC_AUTOFIX": "auto"},
		doorOptions{gate: g, runbook: strings.Replace(fixRunbook, "mode: suggest", "mode: auto", 1)})
	inc := d.open(t, 1)
	if err := stopWhileHeld(t, d.app, g); err != nil {
		t.Fatal(err)
	}
	if n := updates(d.ecs); n != 1 || !hasEntry(d.get(t, inc.ID), "action") {
		t.Fatalf("when Stop returned: %d UpdateService calls, timeline %+v", n, d.get(t, inc.ID).Timeline)
	}

	d.ecs.Put(fakeecs.Service{Cluster: "prod", Name: "orders", Desired: 2, Running: 0,
		TaskDefinition: "arn:aws:ecs:us-east-1:111122223333:task-definition/orders:1"})
	// Event ids go by n: 1 was checkout's.
	if code, body := d.event(t, eventgen.OOM("prod", "orders", 2)); code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	if d.logs.FilterMessage("remediation not started").Len() != 1 || updates(d.ecs) != 1 {
		t.Fatalf("a fix asked for after Stop: %d UpdateService calls, logs %v", updates(d.ecs), d.logs.All())
	}
}

// hasEntry reports whether the incident's timeline has an entry of kind.
func hasEntry(inc *incident.Incident, kind incident.EntryKind) bool {
	for _, e := range inc.Timeline {
		if e.Kind == kind {
			return true
		}
	}
	return false
}

// zapError matches a log entry's error field.
func zapError(err error) zap.Field { return zap.Error(err) }

// Every notification is counted (medic_notifications_total), whoever sends it: the pipeline
// (opened), Slack (acknowledged), a fix (action) and the reconciler (resolved).
func TestNotificationsCountedOnEveryPath(t *testing.T) {
	d := newDoor(t, nil)
	inc := d.open(t, 1)
	d.command(t, "U0ALICE", "alice", "ack "+inc.ID)
	d.command(t, "U0ALICE", "alice", "fix "+inc.ID)
	d.ecs.SetCounts("prod", "checkout", 4, 4)
	d.app.ForgetState(servicestate.Ref{Account: eventgen.Account, Region: "us-east-1", Cluster: "prod", Service: "checkout"})
	r := d.app.Reconciler()
	r.Quiet, r.Lister = 0, nil
	for range 2 { // recovering, then resolved after the (zero) quiet period
		if _, err := r.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if got := d.get(t, inc.ID); got.State != incident.Resolved {
		t.Fatalf("the incident is %s, want resolved", got.State)
	}
	sent := func(kind notify.Kind) float64 {
		var n float64
		for _, notifier := range []string{pagerduty.Name, slack.Name} {
			n += testutil.ToFloat64(d.app.Metrics().Notifications.WithLabelValues(notifier, string(kind), "sent").(prometheus.Collector))
		}
		return n
	}
	for _, kind := range []notify.Kind{notify.Opened, notify.Acknowledged, notify.Action, notify.Resolved} {
		if sent(kind) == 0 {
			t.Errorf("no %s notification counted", kind)
		}
	}
}
