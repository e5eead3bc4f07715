// Package notify is the delivery contract every receiver implements (console, PagerDuty, Slack)
// and the fan-out that sends one notification to all of them, retrying only what the receiver
// says is worth retrying.
package notify

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/ecs-medic/ecs-medic/internal/incident"
)

// Kind is what happened to an incident.
type Kind string

// Notification kinds.
const (
	Opened       Kind = "opened"
	Raised       Kind = "severity-raised"
	Escalated    Kind = "escalated"
	Acknowledged Kind = "acknowledged"
	Resolved     Kind = "resolved"
)

// Notification is one thing to tell people about one incident.
type Notification struct {
	Kind     Kind
	Incident *incident.Incident
}

// Notifier delivers notifications to one receiver. Only the adapter knows its protocol, so only
// it decides whether a failure is transient: retry reports whether sending again may succeed.
type Notifier interface {
	Name() string
	Notify(ctx context.Context, n Notification) (retry bool, err error)
}

// Result is the outcome of one notifier for one notification.
type Result struct {
	Notifier string
	Attempts int
	Err      error
}

// Fanout sends each notification to every notifier in parallel, retrying retryable failures with
// exponential backoff until the context's deadline. One receiver failing never stops another.
type Fanout struct {
	notifiers []Notifier
	attempts  int
	backoff   time.Duration
	sleep     func(context.Context, time.Duration) error
}

// FanoutOption configures a Fanout.
type FanoutOption func(*Fanout)

// WithRetry sets the attempts per notification and the first backoff (doubled each retry).
func WithRetry(attempts int, backoff time.Duration) FanoutOption {
	return func(f *Fanout) { f.attempts, f.backoff = attempts, backoff }
}

// WithSleep injects the wait between retries, for tests.
func WithSleep(sleep func(context.Context, time.Duration) error) FanoutOption {
	return func(f *Fanout) { f.sleep = sleep }
}

// NewFanout returns a Fanout over notifiers.
func NewFanout(notifiers []Notifier, opts ...FanoutOption) *Fanout {
	f := &Fanout{notifiers: notifiers, attempts: 4, backoff: 200 * time.Millisecond, sleep: sleepCtx}
	for _, o := range opts {
		o(f)
	}
	return f
}

// Names lists the notifiers.
func (f *Fanout) Names() []string {
	names := make([]string, len(f.notifiers))
	for i, n := range f.notifiers {
		names[i] = n.Name()
	}
	return names
}

// Send delivers n to every notifier and reports each outcome.
func (f *Fanout) Send(ctx context.Context, n Notification) []Result {
	results := make([]Result, len(f.notifiers))
	var wg sync.WaitGroup
	for i, nt := range f.notifiers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = f.deliver(ctx, nt, n)
		}()
	}
	wg.Wait()
	return results
}

func (f *Fanout) deliver(ctx context.Context, nt Notifier, n Notification) Result {
	wait := f.backoff
	res := Result{Notifier: nt.Name()}
	for res.Attempts < f.attempts {
		res.Attempts++
		retry, err := nt.Notify(ctx, n)
		if err == nil {
			res.Err = nil
			return res
		}
		res.Err = err
		if !retry {
			return res
		}
		if res.Attempts == f.attempts {
			break
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			res.Err = fmt.Errorf("%w (no time left in the deadline to retry)", err)
			return res
		}
		if err := f.sleep(ctx, wait); err != nil {
			res.Err = errors.Join(res.Err, err)
			return res
		}
		wait *= 2
	}
	return res
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Recorder keeps a timeline entry on an incident (incident.Manager).
type Recorder interface {
	Record(ctx context.Context, id string, e incident.Entry) (*incident.Incident, error)
}

// Sender delivers a notification to every receiver (Fanout).
type Sender interface {
	Send(ctx context.Context, n Notification) []Result
}

// Announce sends a notification and keeps each receiver's outcome in the incident's timeline,
// so "was anyone told?" is answered by the incident itself. It returns the outcomes.
func Announce(ctx context.Context, s Sender, rec Recorder, log *zap.Logger, kind Kind, inc *incident.Incident) []Result {
	results := s.Send(ctx, Notification{Kind: kind, Incident: inc})
	for _, r := range results {
		entry := incident.Entry{Actor: r.Notifier, Kind: "notified", Message: fmt.Sprintf("%s: %s sent", r.Notifier, kind)}
		if r.Err != nil {
			entry.Kind = "notify-failed"
			entry.Message = fmt.Sprintf("%s: %s not delivered after %d attempt(s): %v", r.Notifier, kind, r.Attempts, r.Err)
			log.Warn("notification failed", zap.String("notifier", r.Notifier), zap.String("kind", string(kind)),
				zap.Int("attempts", r.Attempts), zap.Error(r.Err))
		}
		if _, err := rec.Record(ctx, inc.ID, entry); err != nil {
			log.Warn("record notification", zap.Error(err))
		}
	}
	return results
}
