package notify_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/smithy-go"

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

// Reason keeps an error's own context and AWS's code and message, never the SDK's wrapping.
func TestReason(t *testing.T) {
	wrap := func(inner error) error {
		return fmt.Errorf("describe service prod/web: %w", &smithy.OperationError{ServiceID: "ECS", OperationName: "DescribeServices",
			Err: fmt.Errorf("https response error StatusCode: 400, RequestID: 1234: %w", inner)})
	}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{wrap(&smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not authorized."}), "describe service prod/web: AccessDeniedException: not authorized"},
		{wrap(errors.New("dial tcp: lookup ecs.example: no such host")), "describe service prod/web: AWS did not answer (network, or an endpoint that cannot be reached)"},
		{errors.New("plain words"), "plain words"},
	} {
		if got := notify.Reason(tc.err); got != tc.want {
			t.Errorf("%q, want %q", got, tc.want)
		}
	}
}
