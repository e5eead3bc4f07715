package notify_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/notify"
)

// notifierFunc is a hand-made fake receiver.
type notifierFunc struct {
	name string
	fn   func() (bool, error)
	n    atomic.Int32
}

func (f *notifierFunc) Name() string { return f.name }
func (f *notifierFunc) Notify(context.Context, notify.Notification) (bool, error) {
	f.n.Add(1)
	return f.fn()
}

func noSleep(context.Context, time.Duration) error { return nil }

func TestFanoutRetriesOnlyRetryable(t *testing.T) {
	calls := 0
	flaky := &notifierFunc{name: "flaky", fn: func() (bool, error) {
		calls++
		if calls <= 2 {
			return true, errors.New("429")
		}
		return false, nil
	}}
	bad := &notifierFunc{name: "bad", fn: func() (bool, error) { return false, errors.New("400 invalid payload") }}
	down := &notifierFunc{name: "down", fn: func() (bool, error) { return true, errors.New("500") }}
	f := notify.NewFanout([]notify.Notifier{flaky, bad, down}, notify.WithRetry(4, time.Millisecond), notify.WithSleep(noSleep))
	res := f.Send(context.Background(), notify.Notification{Kind: notify.Opened, Incident: &incident.Incident{}})
	if res[0].Err != nil || res[0].Attempts != 3 {
		t.Errorf("flaky: %+v", res[0])
	}
	if res[1].Err == nil || res[1].Attempts != 1 {
		t.Errorf("non-retryable failure retried: %+v", res[1])
	}
	if res[2].Err == nil || res[2].Attempts != 4 {
		t.Errorf("always-5xx: %+v", res[2])
	}
}

func TestFanoutStopsAtDeadline(t *testing.T) {
	down := &notifierFunc{name: "down", fn: func() (bool, error) { return true, errors.New("500") }}
	f := notify.NewFanout([]notify.Notifier{down}, notify.WithRetry(10, time.Hour))
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	res := f.Send(ctx, notify.Notification{Kind: notify.Opened, Incident: &incident.Incident{}})
	if res[0].Err == nil || res[0].Attempts != 1 {
		t.Fatalf("retried past the deadline: %+v", res[0])
	}
}
