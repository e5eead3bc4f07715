// Package fakes is what every fake endpoint under internal/testing shares, so that each is driven
// and inspected the same way: Faults (down, fail the next N calls, delay), Recorder (the calls
// received, by operation), and AWSConfig, the static-credential SDK config that points a real AWS
// client at a fake. A fake embeds Faults and Recorder; a test then writes fe.SetDown(true),
// fe.FailNext(3, fakes.Fault{Status: 500}), fe.SetDelay(d) or fe.Calls("DescribeServices") on any
// of them.
package fakes

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// Fault is one scripted failure, answered in the fake's own protocol.
type Fault struct {
	// Status is the HTTP status answered; 0 keeps 200 (Slack's {"ok": false} errors).
	Status int
	// Code is the protocol's error code: the AWS "__type" (ThrottlingException), Slack's "error"
	// (channel_not_found). Empty: the fake's usual code for Status.
	Code string
	// RetryAfter is the Retry-After header sent with the answer, if any.
	RetryAfter string
	// Drop closes the connection without an answer (a crashed or cut-off server): the client sees
	// EOF or a reset, no status. Status and Code are then unused.
	Drop bool
	// Op limits the fault to calls of one operation (the AWS operation, the Slack method, the
	// PagerDuty routing key); empty, any call takes it.
	Op string
}

// Down is the fault every call gets while a fake is down: 503 Service Unavailable.
var Down = Fault{Status: http.StatusServiceUnavailable}

type scripted struct {
	Fault
	left int
}

// Faults scripts what a fake does wrong. The zero value answers every call normally.
type Faults struct {
	mu     sync.Mutex
	down   bool
	script []scripted
	delay  time.Duration
}

// SetDown makes every call fail with Down until SetDown(false).
func (f *Faults) SetDown(down bool) { f.mu.Lock(); f.down = down; f.mu.Unlock() }

// Fail scripts the next calls' failures, one each, in order.
func (f *Faults) Fail(faults ...Fault) {
	f.mu.Lock()
	for _, ft := range faults {
		f.script = append(f.script, scripted{ft, 1})
	}
	f.mu.Unlock()
}

// FailNext makes the next n calls (of fault.Op, if set) fail with fault, after the faults
// already scripted for them. n ≤ 0 drops the faults scripted for fault.Op.
func (f *Faults) FailNext(n int, fault Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if n <= 0 {
		kept := f.script[:0]
		for _, s := range f.script {
			if s.Op != fault.Op {
				kept = append(kept, s)
			}
		}
		f.script = kept
		return
	}
	f.script = append(f.script, scripted{fault, n})
}

// SetDelay makes every answer wait d (0: none), a slow endpoint.
func (f *Faults) SetDelay(d time.Duration) { f.mu.Lock(); f.delay = d; f.mu.Unlock() }

// Clear ends every fault: up, nothing scripted, no delay.
func (f *Faults) Clear() {
	f.mu.Lock()
	f.down, f.script, f.delay = false, nil, 0
	f.mu.Unlock()
}

// Take decides the fate of one call of op: it waits the delay (or until ctx ends), then returns
// the fault to answer with, consuming a scripted one, or false to answer normally.
func (f *Faults) Take(ctx context.Context, op string) (Fault, bool) {
	f.mu.Lock()
	delay := f.delay
	fault, failed := f.next(op)
	f.mu.Unlock()
	if delay > 0 {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
	}
	return fault, failed
}

// next pops the fault for op; f.mu is held.
func (f *Faults) next(op string) (Fault, bool) {
	if f.down {
		return Down, true
	}
	for i := range f.script {
		s := &f.script[i]
		if s.Op != "" && s.Op != op {
			continue
		}
		ft := s.Fault
		if s.left--; s.left <= 0 {
			f.script = append(f.script[:i], f.script[i+1:]...)
		}
		return ft, true
	}
	return Fault{}, false
}

// DropConnection closes a request's connection without answering, for a Fault with Drop.
func DropConnection(w http.ResponseWriter) {
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		_ = conn.Close()
		return
	}
	panic(http.ErrAbortHandler) // HTTP/2: net/http aborts the stream without an answer
}

// Recorder keeps the calls a fake received, in arrival order, by operation.
type Recorder[C any] struct {
	mu    sync.Mutex
	ops   []string
	calls []C
}

// Record keeps one call of op.
func (r *Recorder[C]) Record(op string, c C) {
	r.mu.Lock()
	r.ops = append(r.ops, op)
	r.calls = append(r.calls, c)
	r.mu.Unlock()
}

// Calls returns the calls received so far (failed ones included), only those of op unless op is
// empty.
func (r *Recorder[C]) Calls(op string) []C {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []C
	for i, c := range r.calls {
		if op == "" || r.ops[i] == op {
			out = append(out, c)
		}
	}
	return out
}
