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

// errQueued is what a started Queue answers a notification with: the fan-out reports it as
// Deferred, and Announce records nothing for it (the queue has).
var errQueued = errors.New("queued for background delivery")

// QueueStore is where a Queue keeps what it has not delivered yet (incident.Manager over the
// store) and reads the incident's latest state when its turn comes.
type QueueStore interface {
	Delivered(ctx context.Context, id string, ds []incident.Delivery) (*incident.Incident, error)
	Get(ctx context.Context, id string) (*incident.Incident, error)
}

// Queue delivers one receiver's notifications in the background, one incident at a time, so
// that the event that changed an incident is answered once the change is stored, not once a
// paced receiver (Slack: about one message a second per channel) has taken it.
//
// Between Start and Stop, Notify records the notification as the receiver's pending one on the
// incident (incident.Notice.Pending: the same marker a failed delivery leaves) and queues the
// incident; it does not wait. The worker takes the incidents in turn, reads each one's latest
// state and delivers it with the fan-out's retries, then records the outcome. Updates of an
// incident that waits in the queue are coalesced: only its latest state is delivered, with the
// latest kind (a first message not yet posted is posted then, with that state). A notification
// queued while the incident's delivery is under way keeps the incident pending and queued
// again. What a killed process had not delivered is still pending in the store: the reconciler
// re-sends it (notify.Resend), and `medic serve` does so at start.
//
// When a delivery fails after its retries because the receiver is down or throttling, the rest
// of the queue is left to the reconciler (it stays pending in the store) instead of failing one
// by one behind it. Outside Start and Stop (the Lambda functions, which never Start, and tests)
// Notify delivers at once, as the wrapped notifier does.
type Queue struct {
	next  Notifier
	fan   *Fanout
	log   *zap.Logger
	count func(Kind, Result)

	mu      sync.Mutex
	store   QueueStore
	running bool
	items   map[string]*queued // by incident id
	ready   []string           // incidents waiting for their turn, in order
	wake    chan struct{}
	emptied chan struct{} // closed (and replaced) whenever the queue becomes empty
	cancel  context.CancelFunc
	done    chan struct{}
}

type queued struct {
	gen      uint64 // bumped by every notification queued for the incident
	inFlight bool
}

// QueueOption configures a Queue.
type QueueOption func(*Queue)

// WithQueueRetry sets the delivery attempts per incident and the first backoff (doubled each
// retry), as the fan-out's WithRetry; a receiver's Retry-After is honoured.
func WithQueueRetry(attempts int, backoff time.Duration) QueueOption {
	return func(q *Queue) { WithRetry(attempts, backoff)(q.fan) }
}

// WithQueueSleep injects the wait between retries, for tests.
func WithQueueSleep(sleep func(context.Context, time.Duration) error) QueueOption {
	return func(q *Queue) { WithSleep(sleep)(q.fan) }
}

// WithQueueCount reports every background delivery's outcome (medic_notifications_total).
func WithQueueCount(count func(Kind, Result)) QueueOption {
	return func(q *Queue) { q.count = count }
}

// NewQueue queues next's notifications once started.
func NewQueue(next Notifier, log *zap.Logger, opts ...QueueOption) *Queue {
	q := &Queue{next: next, fan: NewFanout([]Notifier{next}), log: log, count: func(Kind, Result) {},
		items: map[string]*queued{}, wake: make(chan struct{}, 1), emptied: make(chan struct{})}
	for _, o := range opts {
		o(q)
	}
	return q
}

var _ Notifier = (*Queue)(nil)

// Name implements Notifier: the queue is the receiver it wraps.
func (q *Queue) Name() string { return q.next.Name() }

// Notify implements Notifier: between Start and Stop it records n as pending on its incident
// and queues the incident; otherwise it delivers at once.
func (q *Queue) Notify(ctx context.Context, n Notification) (bool, error) {
	if n.Kind == Test || n.Incident == nil {
		return q.next.Notify(ctx, n) // a smoke test reports what the receiver said
	}
	id := n.Incident.ID
	q.mu.Lock()
	if !q.running {
		q.mu.Unlock()
		return q.next.Notify(ctx, n)
	}
	it := q.items[id]
	if n.Resend {
		// Already pending in the store: queue it unless the queue has it already (a re-send
		// while it waits or is being delivered would deliver it twice).
		if it == nil {
			q.push(id, &queued{})
		}
		q.mu.Unlock()
		return false, errQueued
	}
	// The mark is written under the queue's lock, so the worker's record of a delivery either
	// precedes it or sees the generation it bumps (and keeps the incident pending).
	if _, err := q.store.Delivered(ctx, id, []incident.Delivery{{Notifier: q.Name(), Kind: string(n.Kind), Queued: true}}); err != nil {
		q.mu.Unlock()
		q.log.Warn("record a queued notification; delivering it now", zap.String("incident", id), zap.Error(err))
		return q.next.Notify(ctx, n)
	}
	switch {
	case it == nil:
		q.push(id, &queued{})
	case it.inFlight:
		it.gen++ // the worker queues it again after the delivery under way
	default:
		it.gen++ // waiting already: its turn delivers the latest state
	}
	q.mu.Unlock()
	return false, errQueued
}

// push queues a new incident; q.mu is held.
func (q *Queue) push(id string, it *queued) {
	q.items[id] = it
	q.ready = append(q.ready, id)
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Start starts the worker; store keeps what is queued. The queue runs until Stop.
func (q *Queue) Start(store QueueStore) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.running {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	q.store, q.running, q.cancel, q.done = store, true, cancel, make(chan struct{})
	go q.work(ctx, q.done)
}

// Flush waits until every notification queued so far is delivered (or left pending after its
// delivery failed), or ctx ends.
func (q *Queue) Flush(ctx context.Context) error {
	for {
		q.mu.Lock()
		n, emptied := len(q.items), q.emptied
		q.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-emptied:
		case <-ctx.Done():
			return fmt.Errorf("%s: %d incident(s) not delivered yet, still pending in the store: %w", q.Name(), n, ctx.Err())
		}
	}
}

// Stop delivers what is queued (Flush), bounded by ctx, then stops the worker; from then on
// Notify delivers at once. What ctx leaves undelivered stays pending in the store.
func (q *Queue) Stop(ctx context.Context) error {
	err := q.Flush(ctx)
	q.mu.Lock()
	if !q.running {
		q.mu.Unlock()
		return err
	}
	q.running = false
	cancel, done := q.cancel, q.done
	q.mu.Unlock()
	cancel()
	<-done
	q.mu.Lock()
	q.items, q.ready = map[string]*queued{}, nil
	q.mu.Unlock()
	return err
}

func (q *Queue) work(ctx context.Context, done chan struct{}) {
	defer close(done)
	for {
		q.mu.Lock()
		if len(q.ready) == 0 {
			q.mu.Unlock()
			select {
			case <-q.wake:
				continue
			case <-ctx.Done():
				return
			}
		}
		id := q.ready[0]
		q.ready = q.ready[1:]
		it := q.items[id]
		it.inFlight = true
		gen := it.gen
		q.mu.Unlock()
		res, kind, sent := q.deliver(ctx, id)
		q.mu.Lock()
		superseded := it.gen != gen
		if sent {
			q.count(kind, res)
			d := incident.Delivery{Notifier: q.Name(), Kind: string(kind), Ref: res.Ref, Attempts: res.Attempts, Err: res.Err,
				Skipped: res.Skipped, Superseded: superseded}
			// Recorded even when Stop cut the delivery short: the store must say what happened.
			if _, err := q.store.Delivered(context.WithoutCancel(ctx), id, []incident.Delivery{d}); err != nil {
				q.log.Warn("record notification", zap.String("incident", id), zap.Error(err))
			}
			if res.Err != nil {
				q.log.Warn("notification failed", zap.String("incident", id), zap.String("notifier", q.Name()),
					zap.String("kind", string(kind)), zap.Int("attempts", res.Attempts), zap.Error(res.Err))
			}
		}
		it.inFlight = false
		if superseded && ctx.Err() == nil {
			q.ready = append(q.ready, id)
		} else {
			delete(q.items, id)
		}
		if res.gaveUp || ctx.Err() != nil {
			// The receiver is down or throttling (or Stop gave up waiting): what waits stays
			// pending in the store for the reconciler, instead of failing in turn behind it.
			for _, other := range q.ready {
				delete(q.items, other)
			}
			q.ready = q.ready[:0]
		}
		if len(q.items) == 0 {
			close(q.emptied)
			q.emptied = make(chan struct{})
		}
		q.mu.Unlock()
	}
}

// deliver sends the incident's pending notification as its state is now; sent is false when
// there was nothing left to send (delivered, or cleared by a silence, since it was queued).
func (q *Queue) deliver(ctx context.Context, id string) (res Result, kind Kind, sent bool) {
	inc, err := q.store.Get(ctx, id)
	if err != nil {
		q.log.Warn("read a queued incident", zap.String("incident", id), zap.Error(err))
		return Result{}, "", false
	}
	n := inc.Notices[q.Name()]
	if n == nil || n.Pending == "" {
		return Result{}, "", false
	}
	kind = Kind(n.Pending)
	return q.fan.deliver(InBackground(ctx), q.next, Notification{Kind: kind, Incident: inc}), kind, true
}

type backgroundKey struct{}

// InBackground marks ctx as a background delivery's: nobody waits on it, so a paced receiver
// may wait its turn however long it takes instead of giving up (Slack's per-channel pacing).
func InBackground(ctx context.Context) context.Context {
	return context.WithValue(ctx, backgroundKey{}, true)
}

// IsBackground reports whether ctx is a background delivery's (InBackground).
func IsBackground(ctx context.Context) bool {
	b, _ := ctx.Value(backgroundKey{}).(bool)
	return b
}
