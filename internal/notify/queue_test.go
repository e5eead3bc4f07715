package notify_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/ecs-medic/ecs-medic/internal/boltstore"
	"github.com/ecs-medic/ecs-medic/internal/classify"
	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/notify"
	"github.com/ecs-medic/ecs-medic/internal/severity"
)

// delivery is what the fake receiver was handed.
type delivery struct {
	id       string
	kind     notify.Kind
	severity severity.Level
	posted   bool // no handle yet: a new message
}

// paced is a fake receiver standing in for Slack: it records what it is handed and, when gated,
// holds each delivery until the test releases it, so a test can act while one is under way.
type paced struct {
	mu      sync.Mutex
	got     []delivery
	fail    error // returned (as retryable) while set
	gate    chan struct{}
	entered chan string
}

func (p *paced) Name() string { return "slack" }

func (p *paced) Notify(ctx context.Context, n notify.Notification) (bool, error) {
	if p.entered != nil {
		select {
		case p.entered <- n.Incident.ID:
		case <-ctx.Done():
			return false, ctx.Err()
		}
		select {
		case <-p.gate:
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail != nil {
		return true, p.fail
	}
	p.got = append(p.got, delivery{id: n.Incident.ID, kind: n.Kind, severity: n.Incident.Severity, posted: n.Ref("slack") == ""})
	n.SetRef("C1/" + n.Incident.ID)
	return false, nil
}

func (p *paced) deliveries() []delivery {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]delivery(nil), p.got...)
}

type queueEnv struct {
	store *boltstore.Store
	m     *incident.Manager
	q     *notify.Queue
	fake  *paced
	path  string
}

func (e *queueEnv) Delivered(ctx context.Context, id string, ds []incident.Delivery) (*incident.Incident, error) {
	return e.m.Delivered(ctx, id, ds)
}

func (e *queueEnv) Get(ctx context.Context, id string) (*incident.Incident, error) {
	return e.store.Get(ctx, id)
}

func newQueueEnv(t *testing.T, fake *paced) *queueEnv {
	t.Helper()
	path := filepath.Join(t.TempDir(), "medic.db")
	e := &queueEnv{fake: fake, path: path}
	e.open(t)
	return e
}

func (e *queueEnv) open(t *testing.T) {
	t.Helper()
	st, err := boltstore.Open(e.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	e.store, e.m = st, incident.NewManager(st)
	e.q = notify.NewQueue(e.fake, zap.NewNop(), notify.WithQueueRetry(3, time.Millisecond), notify.WithQueueSleep(noSleep))
}

// incident adds an open incident to the store and returns it.
func (e *queueEnv) incident(t *testing.T, service string) *incident.Incident {
	t.Helper()
	inc := &incident.Incident{ID: "inc-" + service, Scope: incident.Scope{Account: "111122223333", Region: "us-east-1", Cluster: "prod", Service: service},
		Cause: classify.OOMKilled, Severity: severity.P3, State: incident.Open}
	if err := e.store.Update(context.Background(), inc.Scope, nil, func([]*incident.Incident) ([]*incident.Incident, error) {
		return []*incident.Incident{inc}, nil
	}); err != nil {
		t.Fatal(err)
	}
	return inc
}

// raise changes the stored incident's severity, as an event would, and returns it.
func (e *queueEnv) raise(t *testing.T, id string, to severity.Level) *incident.Incident {
	t.Helper()
	inc, err := e.store.Modify(context.Background(), id, func(inc *incident.Incident) (bool, error) {
		inc.Severity = to
		return true, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return inc
}

func (e *queueEnv) notify(t *testing.T, kind notify.Kind, inc *incident.Incident) {
	t.Helper()
	// The way every caller reaches the queue: Announce through a fan-out.
	notify.Announce(context.Background(), notify.NewFanout([]notify.Notifier{e.q}), e.m, zap.NewNop(), kind, inc)
}

func (e *queueEnv) notice(t *testing.T, id string) incident.Notice {
	t.Helper()
	inc, err := e.store.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if n := inc.Notices["slack"]; n != nil {
		return *n
	}
	return incident.Notice{}
}

// An incident's updates that arrive while it waits or is being delivered are coalesced: its latest
// state goes out once more, not once per update, and nothing is left pending.
func TestQueueCoalescesUpdates(t *testing.T) {
	fake := &paced{gate: make(chan struct{}), entered: make(chan string)}
	e := newQueueEnv(t, fake)
	e.q.Start(e)
	a, b := e.incident(t, "a"), e.incident(t, "b")

	e.notify(t, notify.Opened, a)
	if got := <-fake.entered; got != a.ID { // a's delivery is under way, held
		t.Fatalf("first delivery %s", got)
	}
	if n := e.notice(t, a.ID); n.Pending != string(notify.Opened) {
		t.Fatalf("a queued but not pending in the store: %+v", n)
	}
	e.notify(t, notify.Opened, b)
	e.notify(t, notify.Raised, e.raise(t, a.ID, severity.P2))
	e.notify(t, notify.Raised, e.raise(t, a.ID, severity.P1))
	e.notify(t, notify.Raised, e.raise(t, b.ID, severity.P1)) // b waits: coalesced with its opening
	go func() {
		for range fake.entered {
			fake.gate <- struct{}{}
		}
	}()
	fake.gate <- struct{}{}
	if err := e.q.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []delivery{
		{id: a.ID, kind: notify.Opened, severity: severity.P3, posted: true},
		{id: b.ID, kind: notify.Raised, severity: severity.P1, posted: true},
		{id: a.ID, kind: notify.Raised, severity: severity.P1, posted: false},
	}
	got := fake.deliveries()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("deliveries\n got %+v\nwant %+v", got, want)
	}
	for _, id := range []string{a.ID, b.ID} {
		if n := e.notice(t, id); n.Pending != "" || n.Ref != "C1/"+id || n.Last != string(notify.Raised) {
			t.Errorf("%s: %+v", id, n)
		}
	}
	if err := e.q.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	close(fake.entered)
}

// What a process had queued and not delivered when it died is pending in the store: the next
// process's re-send delivers it once, and a re-send of what is already queued adds nothing.
func TestQueueRecoversAfterKill(t *testing.T) {
	fake := &paced{gate: make(chan struct{}), entered: make(chan string)}
	e := newQueueEnv(t, fake)
	e.q.Start(e)
	a, b := e.incident(t, "a"), e.incident(t, "b")
	e.notify(t, notify.Opened, a)
	<-fake.entered // a is being delivered when the process "dies"
	e.notify(t, notify.Opened, b)
	for _, id := range []string{a.ID, b.ID} {
		if n := e.notice(t, id); n.Pending != string(notify.Opened) {
			t.Fatalf("%s acknowledged but not pending in the store: %+v", id, n)
		}
	}
	// The dead process's queue is gone; a new one starts on the same store. (Its worker, still
	// holding a, is let go when the test ends, before the store closes.)
	dead := e.q
	t.Cleanup(func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_ = dead.Stop(ctx)
	})
	fresh := &paced{}
	e.fake = fresh
	e.q = notify.NewQueue(fresh, zap.NewNop(), notify.WithQueueSleep(noSleep))
	e.q.Start(e)
	fan := notify.NewFanout([]notify.Notifier{e.q})
	for _, id := range []string{a.ID, b.ID} {
		inc, _ := e.store.Get(context.Background(), id)
		for range 2 { // twice: the second finds it queued already
			notify.Resend(context.Background(), fan, e.m, zap.NewNop(), notify.Kind(inc.Notices["slack"].Pending), inc, "slack")
		}
	}
	if err := e.q.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := fresh.deliveries(); len(got) != 2 || got[0].id != a.ID || got[1].id != b.ID || !got[0].posted || !got[1].posted {
		t.Fatalf("after the restart: %+v", got)
	}
	for _, id := range []string{a.ID, b.ID} {
		if n := e.notice(t, id); n.Pending != "" || n.Ref == "" {
			t.Errorf("%s: %+v", id, n)
		}
	}
}

// A receiver that is down fails the incident being delivered after its retries; the rest of the
// queue is not tried behind it but stays pending for the reconciler, which delivers it later.
func TestQueueLeavesTheRestPendingWhenTheReceiverIsDown(t *testing.T) {
	fake := &paced{fail: errors.New("503")}
	e := newQueueEnv(t, fake)
	e.q.Start(e)
	var incs []*incident.Incident
	for _, s := range []string{"a", "b", "c"} {
		inc := e.incident(t, s)
		incs = append(incs, inc)
		e.notify(t, notify.Opened, inc)
	}
	if err := e.q.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, inc := range incs {
		if n := e.notice(t, inc.ID); n.Pending != string(notify.Opened) || n.Ref != "" {
			t.Fatalf("%s while the receiver is down: %+v", inc.ID, n)
		}
	}
	fake.mu.Lock()
	fake.fail = nil
	fake.mu.Unlock()
	fan := notify.NewFanout([]notify.Notifier{e.q})
	for _, inc := range incs {
		inc, _ := e.store.Get(context.Background(), inc.ID)
		notify.Resend(context.Background(), fan, e.m, zap.NewNop(), notify.Kind(inc.Notices["slack"].Pending), inc, "slack")
	}
	if err := e.q.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := fake.deliveries(); len(got) != 3 {
		t.Fatalf("after the outage: %+v", got)
	}
	for _, inc := range incs {
		if n := e.notice(t, inc.ID); n.Pending != "" || n.Ref == "" {
			t.Errorf("%s: %+v", inc.ID, n)
		}
	}
}

// Outside Start and Stop (the Lambda functions never start one) a notification is delivered
// within the call, and nothing is left pending.
func TestQueueNotStartedDeliversAtOnce(t *testing.T) {
	fake := &paced{}
	e := newQueueEnv(t, fake)
	a := e.incident(t, "a")
	e.notify(t, notify.Opened, a)
	if got := fake.deliveries(); len(got) != 1 {
		t.Fatalf("deliveries %+v", got)
	}
	if n := e.notice(t, a.ID); n.Pending != "" || n.Ref != "C1/"+a.ID {
		t.Errorf("%+v", n)
	}
	e.q.Start(e)
	if err := e.q.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.notify(t, notify.Raised, a) // stopped: at once again
	if got := fake.deliveries(); len(got) != 2 {
		t.Fatalf("after Stop: %+v", got)
	}
}

// Stop bounded by a context that ends leaves what it could not deliver pending, and says so.
func TestQueueStopLeavesUndeliveredPending(t *testing.T) {
	fake := &paced{gate: make(chan struct{}), entered: make(chan string)}
	e := newQueueEnv(t, fake)
	e.q.Start(e)
	a, b := e.incident(t, "a"), e.incident(t, "b")
	e.notify(t, notify.Opened, a)
	<-fake.entered
	e.notify(t, notify.Opened, b)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// a's delivery is cut short, b is never tried: both stay pending for the next start.
	if err := e.q.Stop(ctx); err == nil {
		t.Fatal("Stop with a context that ended reported nothing left")
	}
	for _, id := range []string{a.ID, b.ID} {
		if n := e.notice(t, id); n.Pending != string(notify.Opened) || n.Ref != "" {
			t.Errorf("%s: %+v", id, n)
		}
	}
	if got := fake.deliveries(); len(got) != 0 {
		t.Errorf("delivered after Stop gave up: %+v", got)
	}
}
