package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/ecs-medic/ecs-medic/internal/incident"
)

// ErrStopping refuses a background job once Stop has begun: nothing may start that Stop would
// not wait for.
var ErrStopping = errors.New("ecs-medic is stopping: no new background work")

// JobTimeout bounds one background job (a fix waiting for ECS, a Slack job reading it).
const JobTimeout = 2 * time.Minute

// jobs runs the background work (fixes, Slack's deferred jobs) and lets Stop wait for all of it.
type jobs struct {
	log      *zap.Logger
	mu       sync.Mutex
	stopping bool
	wg       sync.WaitGroup
	draining chan struct{} // closed when Stop starts waiting
}

func newJobs(log *zap.Logger) *jobs { return &jobs{log: log, draining: make(chan struct{})} }

// Go starts fn in the background, bounded by JobTimeout and detached from the request that asked
// for it (which has been answered by then). It refuses with ErrStopping once Stop has begun.
func (j *jobs) Go(kind string, fn func(ctx context.Context) error) error {
	j.mu.Lock()
	if j.stopping {
		j.mu.Unlock()
		return ErrStopping
	}
	j.wg.Add(1)
	j.mu.Unlock()
	go func() {
		defer j.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), JobTimeout)
		defer cancel()
		if err := fn(ctx); err != nil {
			j.log.Warn("background job", zap.String("kind", kind), zap.Error(err))
		}
	}()
	return nil
}

// drain refuses new jobs and waits for the running ones, or for ctx.
func (j *jobs) drain(ctx context.Context) error {
	j.mu.Lock()
	if !j.stopping {
		j.stopping = true
		close(j.draining)
	}
	j.mu.Unlock()
	done := make(chan struct{})
	go func() { j.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("background jobs still running: %w", ctx.Err())
	}
}

// lifecycle is what Start starts and Stop stops.
type lifecycle struct {
	mu      sync.Mutex
	started bool
	stopped bool
	cancel  context.CancelFunc // the tickers'
	tickers sync.WaitGroup
	srv     *http.Server
	errc    chan error
}

// Start runs the App's own work: Slack's background delivery queue (one per channel; what a
// previous run left pending is queued again), the HTTP API on Options.Listener, the reconciler
// and the store sweep on their tickers. It returns at once; Err reports the server failing, Stop
// ends it all. An App that is never started (the Lambda functions, most tests) delivers Slack
// messages within the event's handling, and Stop still drains the background jobs.
func (a *App) Start(ctx context.Context) error {
	l := &a.life
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.started {
		return errors.New("app: started twice")
	}
	l.started = true
	l.errc = make(chan error, 1)
	tctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	l.cancel = cancel
	if len(a.queues) > 0 {
		qs := queueStore{manager: a.manager, store: a.store}
		for _, q := range a.queues {
			q.Start(qs)
		}
		// What a killed process had queued and not delivered is pending in the store: queue it
		// again before the first event, so it goes out now rather than at the first reconcile.
		if rep := a.reconciler.Resend(ctx, a.queues[0].Name()); rep.Resent > 0 {
			a.log.Info("queued again the notifications a previous run had not delivered", zap.Int("notifications", rep.Resent))
		}
	}
	if d := a.opts.ReconcileEvery; d > 0 {
		a.every(tctx, d, func() { a.reconcileOnce(tctx) })
	}
	if s, ok := a.store.(sweeper); ok && a.opts.SweepEvery > 0 {
		a.every(tctx, a.opts.SweepEvery, func() { a.sweep(s) })
	}
	if a.opts.Listener != nil {
		l.srv = &http.Server{
			Handler:           a.handler,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      60 * time.Second,
		}
		go func() {
			if err := l.srv.Serve(a.opts.Listener); !errors.Is(err, http.ErrServerClosed) {
				l.errc <- err
			}
		}()
	}
	return nil
}

// Err delivers the HTTP server's failure, if it fails before Stop.
func (a *App) Err() <-chan error {
	a.life.mu.Lock()
	defer a.life.mu.Unlock()
	return a.life.errc
}

// Stop ends the App in the order that loses nothing: the tickers (a reconcile pass under way
// finishes), the HTTP API (requests under way are answered), the background jobs (every fix and
// Slack job already started runs to its end, and none starts after), then Slack's queue: every
// message queued is delivered before Stop returns. ctx bounds the wait; past it Stop returns an
// error naming what was still running (queued messages left stay pending in the store and are
// queued again at the next start).
func (a *App) Stop(ctx context.Context) error {
	l := &a.life
	l.mu.Lock()
	if l.stopped {
		l.mu.Unlock()
		return nil
	}
	l.stopped = true
	cancel, srv := l.cancel, l.srv
	l.mu.Unlock()
	if cancel != nil {
		cancel()
		l.tickers.Wait()
	}
	var errs []error
	if srv != nil {
		if err := srv.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop the HTTP server: %w", err))
		}
	}
	if err := a.jobs.drain(ctx); err != nil {
		errs = append(errs, err)
	}
	// Last, since every one above may notify: deliver what is queued (bounded by ctx; what is
	// left stays pending in the store for the next start).
	for _, q := range a.queues {
		if err := q.Stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop the notification queue: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Flush waits until every notification queued for background delivery so far has been delivered
// (or has failed and been left pending for the reconciler), or ctx ends. Without Start nothing is
// queued: notifications are delivered as they are sent.
func (a *App) Flush(ctx context.Context) error {
	for _, q := range a.queues {
		if err := q.Flush(ctx); err != nil {
			return err
		}
	}
	return nil
}

// queueStore is what a notification queue reads and records through: the manager's Delivered,
// the store's Get.
type queueStore struct {
	manager *incident.Manager
	store   incident.Store
}

func (s queueStore) Delivered(ctx context.Context, id string, ds []incident.Delivery) (*incident.Incident, error) {
	return s.manager.Delivered(ctx, id, ds)
}

func (s queueStore) Get(ctx context.Context, id string) (*incident.Incident, error) {
	return s.store.Get(ctx, id)
}

// every calls fn each interval until ctx ends; Stop waits for a call under way.
func (a *App) every(ctx context.Context, interval time.Duration, fn func()) {
	a.life.tickers.Add(1)
	go func() {
		defer a.life.tickers.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				fn()
			}
		}
	}()
}

// reconcileOnce runs the reconciler once, as the scheduled Lambda does in AWS every minute.
func (a *App) reconcileOnce(ctx context.Context) {
	rep, err := a.reconciler.Run(ctx)
	if err != nil {
		a.log.Warn("reconcile", zap.Error(err))
		return
	}
	if rep.Resolved+rep.Escalated+rep.Found+rep.Errors > 0 {
		a.log.Info("reconciled", zap.Int("checked", rep.Checked), zap.Int("resolved", rep.Resolved),
			zap.Int("escalated", rep.Escalated), zap.Int("found", rep.Found), zap.Int("errors", rep.Errors))
	}
}

// sweeper is a store that drops expired idempotency marks and old resolved incidents itself (the
// embedded store; DynamoDB does it with TTLs).
type sweeper interface {
	Sweep(retain time.Duration) (int, error)
}

func (a *App) sweep(s sweeper) {
	if n, err := s.Sweep(a.opts.Retain); err != nil {
		a.log.Warn("sweep store", zap.Error(err))
	} else if n > 0 {
		a.log.Info("swept store", zap.Int("removed", n))
	}
}
