// Package notify is the delivery contract every receiver implements (console, PagerDuty, Slack)
// and the fan-out that sends one notification to all of them, retrying only what the receiver
// says is worth retrying.
package notify

import (
	"context"
	"errors"
	"fmt"
	"slices"
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
	// Action: a fix was applied, planned, skipped on a human's request, or failed (Slack thread).
	Action Kind = "action"
	// Suggested: a fix waits for a human; the incident's message shows what it would do and cost.
	Suggested Kind = "suggested"
	// Test: a smoke test of the deployed path (internal/smoke). The incident is a stand-in that
	// is never stored: its ID names the test and its Title is the text to show. Receivers mark
	// it as a test and never page for it.
	Test Kind = "test"
)

// Notification is one thing to tell people about one incident.
type Notification struct {
	Kind     Kind
	Incident *incident.Incident
	// Resend: the incident already holds this notification as pending for the receiver (the
	// reconciler's re-send, a restart's re-queue). A queue that holds the incident already
	// has it covered.
	Resend bool
	// setRef lets an adapter report its handle for the incident (a Slack message, a PagerDuty
	// dedup key); the fan-out keeps it on the incident for the next notification.
	setRef func(string)
}

// SetRef reports the receiver's handle for the incident.
func (n Notification) SetRef(ref string) {
	if n.setRef != nil {
		n.setRef(ref)
	}
}

// Ref is the handle a receiver reported earlier for this incident, or "".
func (n Notification) Ref(notifier string) string {
	if n.Incident == nil || n.Incident.Notices == nil || n.Incident.Notices[notifier] == nil {
		return ""
	}
	return n.Incident.Notices[notifier].Ref
}

// Skip is returned by a notifier that deliberately sends nothing (a P3 is not paged): the
// reason is recorded as a suppression, not a failure.
type Skip struct{ Reason string }

func (s *Skip) Error() string { return "skipped: " + s.Reason }

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
	// Skipped is the reason the notifier deliberately sent nothing.
	Skipped string
	// Ref is the handle the notifier reported.
	Ref string
	// Deferred: the notifier queued it for background delivery (Queue), which records the
	// outcome itself; nothing is recorded for it now.
	Deferred bool
	// gaveUp: the last failure was worth retrying but the attempts ran out (the receiver is down
	// or throttling), as opposed to a refusal a retry cannot fix.
	gaveUp bool
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

// Send delivers n to every notifier (or only to those named) and reports each outcome.
func (f *Fanout) Send(ctx context.Context, n Notification, only ...string) []Result {
	var targets []Notifier
	for _, nt := range f.notifiers {
		if len(only) == 0 || slices.Contains(only, nt.Name()) {
			targets = append(targets, nt)
		}
	}
	results := make([]Result, len(targets))
	var wg sync.WaitGroup
	for i, nt := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = f.deliver(ctx, nt, n)
		}()
	}
	wg.Wait()
	return results
}

// retryAfter is implemented by errors that carry the receiver's own wait (Slack's Retry-After).
type retryAfter interface{ RetryAfter() time.Duration }

func (f *Fanout) deliver(ctx context.Context, nt Notifier, n Notification) Result {
	wait := f.backoff
	res := Result{Notifier: nt.Name()}
	n.setRef = func(ref string) { res.Ref = ref }
	for res.Attempts < f.attempts {
		res.Attempts++
		retry, err := nt.Notify(ctx, n)
		if err == nil {
			res.Err = nil
			return res
		}
		if errors.Is(err, errQueued) {
			res.Err, res.Deferred = nil, true
			return res
		}
		var skip *Skip
		if errors.As(err, &skip) {
			res.Err, res.Skipped = nil, skip.Reason
			return res
		}
		res.Err = err
		if !retry {
			return res
		}
		var ra retryAfter
		if errors.As(err, &ra) && ra.RetryAfter() > wait {
			wait = ra.RetryAfter()
		}
		if res.Attempts == f.attempts {
			res.gaveUp = true
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

// closesDelivered reports whether kind follows up something the receiver already delivered for
// the incident (the acknowledge or resolve of a page or message sent before a silence).
func closesDelivered(kind Kind, inc *incident.Incident, name string) bool {
	if kind != Acknowledged && kind != Resolved {
		return false
	}
	n := inc.Notices[name]
	return n != nil && (n.Ref != "" || n.Last != "")
}

// Recorder keeps receivers' outcomes on an incident and knows the silences (incident.Manager).
type Recorder interface {
	Delivered(ctx context.Context, id string, ds []incident.Delivery) (*incident.Incident, error)
	Silenced(ctx context.Context, scope incident.Scope) (*incident.Silence, error)
}

// Sender delivers a notification to every receiver, or only to those named (Fanout).
type Sender interface {
	Send(ctx context.Context, n Notification, only ...string) []Result
	Names() []string
}

// Announce sends a notification and keeps each receiver's outcome on the incident — a timeline
// entry, the receiver's handle, a pending re-send after a failure — so "was anyone told?" is
// answered by the incident itself. only narrows the receivers (a re-send). It returns the outcomes.
//
// A silence holds back new pages and messages. It never holds back the acknowledgement or
// resolution of something a receiver already delivered: a page sent before the silence must not
// stay triggered because its resolve was swallowed.
func Announce(ctx context.Context, s Sender, rec Recorder, log *zap.Logger, kind Kind, inc *incident.Incident, only ...string) []Result {
	return announce(ctx, s, rec, log, Notification{Kind: kind, Incident: inc}, only...)
}

// Resend is Announce for a notification the incident already holds as pending for the receivers
// named (the reconciler's re-sends, a restart's re-queue): a background queue that already holds
// the incident does not send it twice.
func Resend(ctx context.Context, s Sender, rec Recorder, log *zap.Logger, kind Kind, inc *incident.Incident, only ...string) []Result {
	return announce(ctx, s, rec, log, Notification{Kind: kind, Incident: inc, Resend: true}, only...)
}

func announce(ctx context.Context, s Sender, rec Recorder, log *zap.Logger, note Notification, only ...string) []Result {
	kind, inc := note.Kind, note.Incident
	var results []Result
	if sil, err := rec.Silenced(ctx, inc.Scope); err != nil {
		log.Warn("read silences", zap.Error(err)) // a page beats a silence we cannot read
		results = s.Send(ctx, note, only...)
	} else if sil != nil {
		reason := fmt.Sprintf("silenced by %s until %s", sil.By, sil.Until.UTC().Format(time.RFC3339))
		if sil.Reason != "" {
			reason += ": " + sil.Reason
		}
		names := s.Names()
		if r, ok := s.(interface {
			NamesFor(*incident.Incident) []string
		}); ok {
			names = r.NamesFor(inc) // a routed sender: only the incident's route's receivers
		}
		var through, held []string
		for _, name := range names {
			switch {
			case len(only) > 0 && !slices.Contains(only, name):
			case closesDelivered(kind, inc, name):
				through = append(through, name)
			default:
				held = append(held, name)
			}
		}
		if len(through) > 0 {
			results = s.Send(ctx, note, through...)
		}
		var heldBack []Result
		for _, name := range held {
			heldBack = append(heldBack, Result{Notifier: name, Skipped: reason})
		}
		if h, ok := s.(interface{ Held(Kind, []Result) }); ok && len(heldBack) > 0 {
			h.Held(kind, heldBack) // a counting sender counts these too: they never reach Send
		}
		results = append(results, heldBack...)
	} else {
		results = s.Send(ctx, note, only...)
	}
	ds := make([]incident.Delivery, 0, len(results))
	for _, r := range results {
		if r.Deferred {
			continue // its queue recorded it as pending and records its delivery
		}
		if r.Err != nil {
			log.Warn("notification failed", zap.String("notifier", r.Notifier), zap.String("kind", string(kind)),
				zap.Int("attempts", r.Attempts), zap.Error(r.Err))
		}
		ds = append(ds, incident.Delivery{Notifier: r.Notifier, Kind: string(kind), Ref: r.Ref, Attempts: r.Attempts, Err: r.Err, Skipped: r.Skipped})
	}
	if len(ds) > 0 {
		if _, err := rec.Delivered(ctx, inc.ID, ds); err != nil {
			log.Warn("record notification", zap.Error(err))
		}
	}
	return results
}
