// Package incidenttest is the contract every incident.Store must meet, as a test suite run
// against each implementation (the embedded bbolt store, DynamoDB on dynalite): one incident per
// scope and cause, idempotency marks, atomicity under concurrent handlers.
package incidenttest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ecs-medic/ecs-medic/internal/classify"
	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/servicestate"
	"github.com/ecs-medic/ecs-medic/internal/severity"
)

// Clock is a settable clock for tests.
type Clock struct {
	mu sync.Mutex
	T  time.Time
}

// Now reads the clock.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.T }

// Advance moves the clock on.
func (c *Clock) Advance(d time.Duration) { c.mu.Lock(); c.T = c.T.Add(d); c.mu.Unlock() }

// Scope is the service the suite's signals concern.
var Scope = incident.Scope{Account: "111122223333", Region: "us-east-1", Cluster: "prod", Service: "checkout"}

// Failure builds a failure signal for task n of the given cause.
func Failure(cause classify.Cause, n int, level severity.Level) incident.Signal {
	task := fmt.Sprintf("arn:aws:ecs:us-east-1:111122223333:task/prod/%032d", n)
	return incident.Signal{
		Kind: incident.Failure, EventID: fmt.Sprintf("evt-%s-%d", cause, n), Time: time.Unix(1700000000+int64(n), 0).UTC(),
		Scope: Scope, Cause: cause, Confidence: classify.Confirmed, Severity: level,
		Marks:  []string{fmt.Sprintf("evt#evt-%s-%d", cause, n), "task#" + task + "#5"},
		TaskID: fmt.Sprintf("%032d", n), Evidence: "OutOfMemoryError: Container killed due to memory usage",
		State: &servicestate.Snapshot{Cluster: "prod", Service: "checkout", Desired: 4, Running: 3},
	}
}

// Run runs the contract against stores made by newStore (a fresh, empty store per call).
func Run(t *testing.T, newStore func(t *testing.T, clock func() time.Time) incident.Store) {
	ctx := context.Background()
	setup := func(t *testing.T) (*incident.Manager, incident.Store, *Clock) {
		clk := &Clock{T: time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)}
		st := newStore(t, clk.Now)
		return incident.NewManager(st, incident.WithClock(clk.Now)), st, clk
	}
	// The safety rules (rules.go), each pinned at its bound.
	runRules(t, setup)

	t.Run("opens once and counts occurrences", func(t *testing.T) {
		m, st, _ := setup(t)
		for i := range 5 {
			out, err := m.Apply(ctx, Failure(classify.OOMKilled, i, severity.P3))
			if err != nil {
				t.Fatal(err)
			}
			if out.Opened != (i == 0) {
				t.Fatalf("event %d: opened=%v", i, out.Opened)
			}
		}
		incs, err := st.List(ctx, incident.Filter{Active: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(incs) != 1 || incs[0].Occurrences.Count != 5 || len(incs[0].Occurrences.Tasks) != 5 {
			t.Fatalf("want one incident with 5 occurrences, got %d: %+v", len(incs), incs)
		}
		if incs[0].SLADeadline != incs[0].OpenedAt.Add(2*time.Hour) {
			t.Errorf("P3 SLA deadline %v, opened %v", incs[0].SLADeadline, incs[0].OpenedAt)
		}
	})

	t.Run("an occurrence keeps the newest service state and the time of the change", func(t *testing.T) {
		m, st, clk := setup(t)
		failure := func(n, running int, sig func(*incident.Signal)) *incident.Incident {
			t.Helper()
			clk.Advance(time.Minute)
			s := Failure(classify.OOMKilled, n, severity.P2)
			s.Time = clk.Now()
			s.State = &servicestate.Snapshot{Cluster: "prod", Service: "checkout", Desired: 4, Running: running}
			if sig != nil {
				sig(&s)
			}
			if _, err := m.Apply(ctx, s); err != nil {
				t.Fatal(err)
			}
			all, err := st.List(ctx, incident.Filter{Active: true})
			if err != nil || len(all) != 1 {
				t.Fatalf("%v %v", idsOf(all), err)
			}
			got := mustGet(t, st, all[0].ID)
			if !got.UpdatedAt.Equal(clk.Now()) || !got.Occurrences.LastSeen.Equal(clk.Now()) || got.Occurrences.Count != n+1 {
				t.Fatalf("after failure %d at %v: updated %v, last seen %v, %d occurrences", n, clk.Now(), got.UpdatedAt, got.Occurrences.LastSeen, got.Occurrences.Count)
			}
			return got
		}
		want := func(inc *incident.Incident, running int) {
			t.Helper()
			if inc.ServiceState == nil || inc.ServiceState.Running != running || inc.StateError != "" {
				t.Fatalf("service state %+v (%q), want %d running", inc.ServiceState, inc.StateError, running)
			}
		}
		want(failure(0, 3, nil), 3)
		want(failure(1, 2, nil), 2)
		want(failure(2, 2, nil), 2)
		// No state read this time: the last one known stays.
		want(failure(3, 0, func(s *incident.Signal) { s.State, s.StateError = nil, "ThrottlingException" }), 2)
		inc := failure(4, 1, nil)
		want(inc, 1)
		// After another kind of change, occurrences go on keeping the newest state.
		if _, changed, err := m.Acknowledge(ctx, inc.ID, "alice"); err != nil || !changed {
			t.Fatal(changed, err)
		}
		want(mustGet(t, st, inc.ID), 1)
		want(failure(5, 1, nil), 1)
		want(failure(6, 3, nil), 3)
	})

	t.Run("an update keeps what fn returns, a service state cleared with an occurrence too", func(t *testing.T) {
		m, st, _ := setup(t)
		id := mustApply(t, m, Failure(classify.OOMKilled, 0, severity.P2)).Incident.ID
		if err := st.Update(ctx, Scope, []string{"test#clear"}, func(active []*incident.Incident) ([]*incident.Incident, error) {
			if len(active) != 1 {
				return nil, fmt.Errorf("%d active", len(active))
			}
			inc := active[0]
			inc.Occurrences.Count++
			inc.ServiceState = nil
			return []*incident.Incident{inc}, nil
		}); err != nil {
			t.Fatal(err)
		}
		if got := mustGet(t, st, id); got.ServiceState != nil || got.Occurrences.Count != 2 {
			t.Fatalf("service state %+v, %d occurrences; want none and 2", got.ServiceState, got.Occurrences.Count)
		}
	})

	t.Run("redelivery changes nothing", func(t *testing.T) {
		m, st, _ := setup(t)
		sig := Failure(classify.OOMKilled, 1, severity.P3)
		if _, err := m.Apply(ctx, sig); err != nil {
			t.Fatal(err)
		}
		out, err := m.Apply(ctx, sig)
		if err != nil || !out.Duplicate {
			t.Fatalf("same event id again: %+v %v", out, err)
		}
		// Same task ARN and detail.version under a new EventBridge id.
		again := sig
		again.EventID = "evt-other"
		again.Marks = []string{"evt#evt-other", sig.Marks[1]}
		out, err = m.Apply(ctx, again)
		if err != nil || !out.Duplicate {
			t.Fatalf("same task+version: %+v %v", out, err)
		}
		incs, _ := st.List(ctx, incident.Filter{Active: true})
		if len(incs) != 1 || incs[0].Occurrences.Count != 1 {
			t.Fatalf("after redelivery: %+v", incs)
		}
		if incs[0].Suppressed["duplicate"] != 2 {
			t.Errorf("duplicates counted %d, want 2", incs[0].Suppressed["duplicate"])
		}
	})

	t.Run("the same event from 16 goroutines", func(t *testing.T) {
		m, st, _ := setup(t)
		sig := Failure(classify.OOMKilled, 7, severity.P2)
		var wg sync.WaitGroup
		var mu sync.Mutex
		opened, dups := 0, 0
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				out, err := m.Apply(ctx, sig)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				if out.Opened {
					opened++
				}
				if out.Duplicate {
					dups++
				}
			}()
		}
		wg.Wait()
		incs, _ := st.List(ctx, incident.Filter{})
		if len(incs) != 1 || incs[0].Occurrences.Count != 1 || opened != 1 || dups != 15 {
			t.Fatalf("incidents %d, occurrences %v, opened %d, duplicates %d", len(incs), incs, opened, dups)
		}
	})

	t.Run("16 goroutines with different tasks", func(t *testing.T) {
		m, st, _ := setup(t)
		var wg sync.WaitGroup
		var mu sync.Mutex
		opened := 0
		for i := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				out, err := m.Apply(ctx, Failure(classify.ImagePull, i, severity.P3))
				if err != nil {
					t.Error(err)
					return
				}
				if out.Opened {
					mu.Lock()
					opened++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		incs, _ := st.List(ctx, incident.Filter{})
		if len(incs) != 1 || incs[0].Occurrences.Count != 16 || opened != 1 {
			t.Fatalf("incidents %d opened %d: %+v", len(incs), opened, incs)
		}
	})

	t.Run("severity only rises", func(t *testing.T) {
		m, st, clk := setup(t)
		if _, err := m.Apply(ctx, Failure(classify.OOMKilled, 1, severity.P3)); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Minute)
		out, err := m.Apply(ctx, Failure(classify.OOMKilled, 2, severity.P1))
		if err != nil || !out.Raised || out.Incident.Severity != severity.P1 {
			t.Fatalf("raise to P1: %+v %v", out, err)
		}
		if want := clk.Now().Add(15 * time.Minute); !out.Incident.SLADeadline.Equal(want) {
			t.Errorf("deadline %v, want %v", out.Incident.SLADeadline, want)
		}
		out, err = m.Apply(ctx, Failure(classify.OOMKilled, 3, severity.P3))
		if err != nil || out.Raised || out.Incident.Severity != severity.P1 {
			t.Fatalf("P3 event lowered severity: %+v %v", out, err)
		}
		inc, _ := st.Get(ctx, out.Incident.ID)
		if inc.Severity != severity.P1 {
			t.Fatalf("stored severity %s", inc.Severity)
		}
	})

	t.Run("causes are separate incidents", func(t *testing.T) {
		m, st, _ := setup(t)
		for i, c := range []classify.Cause{classify.OOMKilled, classify.ImagePull, classify.OOMKilled} {
			if _, err := m.Apply(ctx, Failure(c, i, severity.P3)); err != nil {
				t.Fatal(err)
			}
		}
		incs, _ := st.List(ctx, incident.Filter{Active: true})
		if len(incs) != 2 {
			t.Fatalf("%d incidents, want 2", len(incs))
		}
	})

	t.Run("resolved then broken again is a new incident", func(t *testing.T) {
		m, st, clk := setup(t)
		first, err := m.Apply(ctx, Failure(classify.OOMKilled, 1, severity.P3))
		if err != nil {
			t.Fatal(err)
		}
		inc, changed, err := m.Resolve(ctx, first.Incident.ID, "ecs-medic", "service recovered")
		if err != nil || !changed || inc.State != incident.Resolved {
			t.Fatalf("resolve: %+v %v %v", inc, changed, err)
		}
		if _, changed, err = m.Resolve(ctx, first.Incident.ID, "alice", ""); err != nil || changed {
			t.Fatalf("second resolve changed=%v err=%v", changed, err)
		}
		clk.Advance(time.Minute)
		second, err := m.Apply(ctx, Failure(classify.OOMKilled, 2, severity.P3))
		if err != nil || !second.Opened || second.Incident.ID == first.Incident.ID {
			t.Fatalf("re-break: %+v %v", second, err)
		}
		all, _ := st.List(ctx, incident.Filter{})
		if len(all) != 2 || all[0].ID != second.Incident.ID {
			t.Fatalf("list newest first: %v", all)
		}
		if _, err := m.Record(ctx, first.Incident.ID, incident.Entry{Actor: "slack", Kind: "notified", Message: "resolve posted"}); err != nil {
			t.Fatalf("recording on a resolved incident: %v", err)
		}
	})

	t.Run("acknowledge once", func(t *testing.T) {
		m, _, _ := setup(t)
		out, err := m.Apply(ctx, Failure(classify.OOMKilled, 1, severity.P3))
		if err != nil {
			t.Fatal(err)
		}
		inc, changed, err := m.Acknowledge(ctx, out.Incident.ID, "alice")
		if err != nil || !changed || inc.State != incident.Acknowledged || inc.AcknowledgedBy != "alice" {
			t.Fatalf("ack: %+v %v %v", inc, changed, err)
		}
		if _, changed, _ := m.Acknowledge(ctx, out.Incident.ID, "bob"); changed {
			t.Fatal("second ack changed the incident")
		}
		// Still active: new failures land on it.
		again, err := m.Apply(ctx, Failure(classify.OOMKilled, 2, severity.P3))
		if err != nil {
			t.Fatal(err)
		}
		if again.Opened || again.Incident.ID != out.Incident.ID {
			t.Fatalf("failure after ack opened a new incident: %+v", again)
		}
	})

	t.Run("corroborate, note and recover", func(t *testing.T) {
		m, st, _ := setup(t)
		note := incident.Signal{Kind: incident.Note, EventID: "n1", Scope: Scope, Marks: []string{"evt#n1"}, Message: "service reached steady state"}
		out, err := m.Apply(ctx, note)
		if err != nil || out.Incident != nil {
			t.Fatalf("note with nothing open: %+v %v", out, err)
		}
		if incs, _ := st.List(ctx, incident.Filter{}); len(incs) != 0 {
			t.Fatal("a note opened an incident")
		}
		base, err := m.Apply(ctx, Failure(classify.OOMKilled, 1, severity.P3))
		if err != nil {
			t.Fatal(err)
		}
		corr := incident.Signal{Kind: incident.Corroborate, EventID: "c1", Scope: Scope, Cause: classify.StartImpaired,
			Marks: []string{"evt#c1"}, Message: "SERVICE_TASK_START_IMPAIRED", Severity: severity.P2}
		out, err = m.Apply(ctx, corr)
		if err != nil || out.Opened || out.Incident.ID != base.Incident.ID || !out.Raised {
			t.Fatalf("corroborate: %+v %v", out, err)
		}
		alarm := incident.Scope{Account: "111122223333", Region: "us-east-1", Alarm: "checkout-5xx"}
		open, err := m.Apply(ctx, incident.Signal{Kind: incident.Failure, EventID: "a1", Scope: alarm, Cause: classify.Alarm, Marks: []string{"evt#a1"}})
		if err != nil || !open.Opened {
			t.Fatalf("alarm: %+v %v", open, err)
		}
		rec, err := m.Apply(ctx, incident.Signal{Kind: incident.Recover, EventID: "a2", Scope: alarm, Cause: classify.Alarm, Marks: []string{"evt#a2"}, Message: "alarm OK"})
		if err != nil || !rec.Resolved || rec.Incident.ID != open.Incident.ID {
			t.Fatalf("recover: %+v %v", rec, err)
		}
		if incs, _ := st.List(ctx, incident.Filter{Active: true}); len(incs) != 1 {
			t.Fatalf("active after recover: %d", len(incs))
		}
	})

	t.Run("marks expire", func(t *testing.T) {
		m, _, clk := setup(t)
		sig := Failure(classify.OOMKilled, 1, severity.P3)
		if _, err := m.Apply(ctx, sig); err != nil {
			t.Fatal(err)
		}
		clk.Advance(72 * time.Hour)
		out, err := m.Apply(ctx, sig)
		if err != nil || out.Duplicate {
			t.Fatalf("a mark older than its TTL still suppressed: %+v %v", out, err)
		}
	})

	t.Run("recovery after the quiet period, relapse, escalation", func(t *testing.T) {
		m, st, clk := setup(t)
		out, err := m.Apply(ctx, Failure(classify.OOMKilled, 1, severity.P1))
		if err != nil {
			t.Fatal(err)
		}
		id := out.Incident.ID
		up := &servicestate.Snapshot{Desired: 4, Running: 4}
		down := &servicestate.Snapshot{Desired: 4, Running: 1}
		quiet := 5 * time.Minute
		if _, resolved, err := m.Observe(ctx, id, up, quiet); err != nil || resolved {
			t.Fatalf("first healthy reading resolved at once: %v %v", resolved, err)
		}
		clk.Advance(2 * time.Minute)
		if inc, _, _ := m.Observe(ctx, id, down, quiet); inc.RecoveringSince != nil {
			t.Fatal("a relapse kept the recovery clock")
		}
		clk.Advance(time.Minute)
		m.Observe(ctx, id, up, quiet)
		clk.Advance(4 * time.Minute)
		if _, resolved, _ := m.Observe(ctx, id, up, quiet); resolved {
			t.Fatal("resolved before 5 quiet minutes after the relapse")
		}
		if _, esc, _ := m.Escalate(ctx, id); esc {
			t.Fatal("escalated before the deadline")
		}
		// Past the P1 deadline (15 min) and not acknowledged: escalate, once.
		clk.Advance(9 * time.Minute)
		if _, esc, err := m.Escalate(ctx, id); err != nil || !esc {
			t.Fatalf("escalate: %v %v", esc, err)
		}
		if _, esc, _ := m.Escalate(ctx, id); esc {
			t.Fatal("escalated twice")
		}
		inc, resolved, err := m.Observe(ctx, id, up, quiet)
		if err != nil || !resolved || inc.State != incident.Resolved {
			t.Fatalf("after 6 quiet minutes: %v %+v %v", resolved, inc, err)
		}
		if incs, _ := st.List(ctx, incident.Filter{Active: true}); len(incs) != 0 {
			t.Fatal("resolved incident still active")
		}
	})

	t.Run("silences expire", func(t *testing.T) {
		m, _, clk := setup(t)
		if _, err := m.Silence(ctx, Scope, 0, "alice", ""); err == nil {
			t.Fatal("a silence without an end was accepted")
		}
		if _, err := m.Silence(ctx, Scope, 30*time.Minute, "alice", "deploying"); err != nil {
			t.Fatal(err)
		}
		s, err := m.Silenced(ctx, Scope)
		if err != nil || s == nil || s.By != "alice" || s.Reason != "deploying" {
			t.Fatalf("%+v %v", s, err)
		}
		other := Scope
		other.Service = "payments"
		if s, _ := m.Silenced(ctx, other); s != nil {
			t.Fatal("a silence covered another service")
		}
		clk.Advance(31 * time.Minute)
		if s, _ := m.Silenced(ctx, Scope); s != nil {
			t.Fatal("an expired silence still holds")
		}
	})

	t.Run("guard: one lease among 16 handlers", func(t *testing.T) {
		_, st, clk := setup(t)
		var wg sync.WaitGroup
		var mu sync.Mutex
		won := 0
		for i := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := st.UpdateGuard(ctx, Scope, func(g *incident.Guard) error {
					if g.LeaseUntil.After(clk.Now()) {
						return incident.ErrConflict
					}
					g.LeaseHolder, g.LeaseUntil = fmt.Sprint(i), clk.Now().Add(time.Minute)
					return nil
				})
				if err == nil {
					mu.Lock()
					won++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if won != 1 {
			t.Fatalf("%d handlers took the lease", won)
		}
		g, err := st.UpdateGuard(ctx, Scope, func(*incident.Guard) error { return nil })
		if err != nil || g.LeaseHolder == "" || g.Version != 2 {
			t.Fatalf("%+v %v", g, err)
		}
	})

	t.Run("guard: reading one writes nothing", func(t *testing.T) {
		_, st, _ := setup(t)
		if g, err := st.Guard(ctx, Scope); err != nil || g.Version != 0 || g.LeaseHolder != "" {
			t.Fatalf("no guard yet: %+v %v", g, err)
		}
		if _, err := st.UpdateGuard(ctx, Scope, func(g *incident.Guard) error {
			g.FailedTaskDefinitions = []string{"arn:aws:ecs:eu-west-1:123456789012:task-definition/web:7"}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			g, err := st.Guard(ctx, Scope)
			if err != nil || g.Version != 1 || len(g.FailedTaskDefinitions) != 1 {
				t.Fatalf("read %+v %v, want version 1 with one failed revision", g, err)
			}
		}
		g, err := st.UpdateGuard(ctx, Scope, func(*incident.Guard) error { return nil })
		if err != nil || g.Version != 2 {
			t.Fatalf("after three reads the next write is version %d (%v), want 2: a read wrote", g.Version, err)
		}
	})

	t.Run("remember: a key is let through once inside its window", func(t *testing.T) {
		_, st, clk := setup(t)
		key := "slack-sig#v0=" + fmt.Sprintf("%064d", 1)
		var wg sync.WaitGroup
		var mu sync.Mutex
		through, dups := 0, 0
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := st.Remember(ctx, key, clk.Now().Add(5*time.Minute))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					through++
				case errors.Is(err, incident.ErrDuplicate):
					dups++
				default:
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if through != 1 || dups != 7 {
			t.Fatalf("%d let through, %d refused as seen; want 1 and 7", through, dups)
		}
		if err := st.Remember(ctx, "slack-sig#other", clk.Now().Add(5*time.Minute)); err != nil {
			t.Fatalf("another key refused: %v", err)
		}
		// Exactly at its end a key is free again, and not a second before.
		clk.Advance(5*time.Minute - time.Second)
		if err := st.Remember(ctx, key, clk.Now().Add(5*time.Minute)); !errors.Is(err, incident.ErrDuplicate) {
			t.Fatalf("a key 1 s before its end: %v", err)
		}
		clk.Advance(time.Second)
		if err := st.Remember(ctx, key, clk.Now().Add(5*time.Minute)); err != nil {
			t.Fatalf("a key at its end still refused: %v", err)
		}
	})

	t.Run("list pages with a cursor", func(t *testing.T) {
		m, st, clk := setup(t)
		var ids []string
		for i, c := range []classify.Cause{classify.OOMKilled, classify.ImagePull, classify.HealthCheck, classify.HostLost, classify.StartFailure} {
			out, err := m.Apply(ctx, Failure(c, i, severity.P3))
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, out.Incident.ID)
			clk.Advance(time.Second)
		}
		if _, _, err := m.Resolve(ctx, ids[1], "alice", ""); err != nil {
			t.Fatal(err)
		}
		for _, active := range []bool{false, true} {
			var got []string
			cursor := ""
			for range 10 {
				page, err := st.List(ctx, incident.Filter{Active: active, Limit: 2, Before: cursor})
				if err != nil {
					t.Fatal(err)
				}
				if len(page) == 0 {
					break
				}
				for _, inc := range page {
					got = append(got, inc.ID)
				}
				cursor = page[len(page)-1].ID
			}
			want := []string{ids[4], ids[3], ids[2], ids[1], ids[0]}
			if active {
				want = []string{ids[4], ids[3], ids[2], ids[0]}
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("active=%v: pages gave %v, want %v", active, got, want)
			}
		}
	})

	t.Run("list applies every filter before its limit, and pages through the rest", func(t *testing.T) {
		// Seven incidents a minute apart over three scopes (checkout in two accounts, payments)
		// and every state. Each filter's answer is exactly the matching incidents, newest first:
		// a Limit of 1 gives the newest match however many newer ones do not match, and pages of
		// 1 with the Before cursor give every match, each once.
		m, st, clk := setup(t)
		payments := incident.Scope{Account: Scope.Account, Region: Scope.Region, Cluster: "prod", Service: "payments"}
		other := incident.Scope{Account: "444455556666", Region: Scope.Region, Cluster: "prod", Service: "checkout"}
		start := clk.Now()
		var ids []string
		for i, o := range []struct {
			scope incident.Scope
			cause classify.Cause
		}{
			{Scope, classify.OOMKilled}, {payments, classify.OOMKilled}, {other, classify.OOMKilled},
			{Scope, classify.ImagePull}, {payments, classify.ImagePull}, {payments, classify.HealthCheck},
			{payments, classify.HostLost},
		} {
			sig := Failure(o.cause, 200+i, severity.P3)
			sig.Scope = o.scope
			out := mustApply(t, m, sig)
			if !out.Opened {
				t.Fatalf("incident %d did not open: %+v", i, out)
			}
			ids = append(ids, out.Incident.ID)
			clk.Advance(time.Minute)
		}
		// A store that writes in two stages (the embedded one: memory and log, folded into bbolt)
		// answers from both: the incidents folded while active, then changed on top.
		folder, folds := st.(interface{ Fold() error })
		if folds {
			if err := folder.Fold(); err != nil {
				t.Fatal(err)
			}
		}
		for _, i := range []int{0, 4} {
			if _, _, err := m.Resolve(ctx, ids[i], "alice", "fixed"); err != nil {
				t.Fatal(err)
			}
		}
		if _, _, err := m.Acknowledge(ctx, ids[2], "bob"); err != nil {
			t.Fatal(err)
		}
		pick := func(is ...int) []string {
			out := make([]string, len(is))
			for k, i := range is {
				out[k] = ids[i]
			}
			return out
		}
		stages := []string{"as written"}
		if folds {
			stages = append(stages, "folded")
		}
		for _, stage := range stages {
			if stage == "folded" {
				if err := folder.Fold(); err != nil {
					t.Fatal(err)
				}
			}
			for _, tc := range []struct {
				name string
				f    incident.Filter
				want []string // every match, newest first
			}{
				{"all", incident.Filter{}, pick(6, 5, 4, 3, 2, 1, 0)},
				{"active", incident.Filter{Active: true}, pick(6, 5, 3, 2, 1)},
				{"open", incident.Filter{State: incident.Open}, pick(6, 5, 3, 1)},
				{"acknowledged", incident.Filter{State: incident.Acknowledged}, pick(2)},
				{"resolved", incident.Filter{State: incident.Resolved}, pick(4, 0)},
				{"a service in every account", incident.Filter{Cluster: "prod", Service: "checkout"}, pick(3, 2, 0)},
				{"a service in one account", incident.Filter{Account: Scope.Account, Cluster: "prod", Service: "checkout"}, pick(3, 0)},
				{"an account", incident.Filter{Account: other.Account}, pick(2)},
				{"a service's active ones", incident.Filter{Active: true, Service: "checkout"}, pick(3, 2)},
				{"a service's open ones", incident.Filter{State: incident.Open, Service: "payments"}, pick(6, 5, 1)},
				{"a service's resolved ones", incident.Filter{State: incident.Resolved, Service: "checkout"}, pick(0)},
				{"a service since", incident.Filter{Service: "checkout", Since: start.Add(2 * time.Minute)}, pick(3, 2)},
				{"active since", incident.Filter{Active: true, Since: start.Add(4 * time.Minute)}, pick(6, 5)},
				{"active before", incident.Filter{Active: true, Before: ids[5]}, pick(3, 2, 1)},
				{"nothing", incident.Filter{Cluster: "staging"}, nil},
			} {
				t.Run(stage+"/"+tc.name, func(t *testing.T) {
					f := tc.f
					f.Limit = 50
					all, err := st.List(ctx, f)
					if err != nil || fmt.Sprint(idsOf(all)) != fmt.Sprint(tc.want) {
						t.Fatalf("%+v: got %v (%v), want %v", f, idsOf(all), err, tc.want)
					}
					f.Limit = 1
					first, err := st.List(ctx, f)
					if err != nil || (len(tc.want) == 0) != (len(first) == 0) || (len(first) > 0 && (len(first) != 1 || first[0].ID != tc.want[0])) {
						t.Fatalf("limit 1: got %v (%v), want the newest of %v", idsOf(first), err, tc.want)
					}
					var paged []string
					for range len(ids) + 1 {
						page, err := st.List(ctx, f)
						if err != nil {
							t.Fatal(err)
						}
						if len(page) == 0 {
							break
						}
						paged = append(paged, idsOf(page)...)
						f.Before = page[len(page)-1].ID
					}
					if fmt.Sprint(paged) != fmt.Sprint(tc.want) {
						t.Fatalf("pages of 1 gave %v, want %v", paged, tc.want)
					}
					var each []string
					f.Before = tc.f.Before
					if err := incident.Each(ctx, st, f, func(inc *incident.Incident) bool { each = append(each, inc.ID); return true }); err != nil || fmt.Sprint(each) != fmt.Sprint(tc.want) {
						t.Fatalf("Each gave %v (%v), want %v", each, err, tc.want)
					}
				})
			}
		}
	})

	t.Run("missing incident", func(t *testing.T) {
		m, st, _ := setup(t)
		if _, err := st.Get(ctx, "inc-nope"); err == nil {
			t.Fatal("no error")
		}
		if _, _, err := m.Acknowledge(ctx, "inc-nope", "alice"); err == nil {
			t.Fatal("ack of a missing incident succeeded")
		}
	})
	t.Run("a failure during the quiet period starts it again", func(t *testing.T) {
		m, _, clk := setup(t)
		out, err := m.Apply(ctx, Failure(classify.OOMKilled, 1, severity.P1))
		if err != nil {
			t.Fatal(err)
		}
		id := out.Incident.ID
		up := &servicestate.Snapshot{Cluster: "prod", Service: "checkout", Desired: 4, Running: 4}
		observe := func() bool {
			_, resolved, err := m.Observe(ctx, id, up, 5*time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			return resolved
		}
		observe() // recovering from now
		clk.Advance(4 * time.Minute)
		if _, err := m.Apply(ctx, Failure(classify.OOMKilled, 2, severity.P1)); err != nil {
			t.Fatal(err)
		}
		clk.Advance(2 * time.Minute) // 6 minutes after the first recovery, 2 after the failure
		if observe() {
			t.Fatal("resolved although a task failed inside the quiet period")
		}
		clk.Advance(5 * time.Minute)
		if !observe() {
			t.Fatal("not resolved after a full quiet period")
		}
	})

	t.Run("a flapping service is one incident until the flap window passes", func(t *testing.T) {
		m, st, clk := setup(t)
		sig := Failure(classify.EssentialExit, 1, severity.P2)
		sig.FlapThreshold, sig.FlapWindow = 3, 20*time.Minute
		out, err := m.Apply(ctx, sig)
		if err != nil {
			t.Fatal(err)
		}
		id := out.Incident.ID
		up := &servicestate.Snapshot{Cluster: "prod", Service: "checkout", Desired: 4, Running: 4}
		down := &servicestate.Snapshot{Cluster: "prod", Service: "checkout", Desired: 4, Running: 1}
		observe := func(s *servicestate.Snapshot) bool {
			_, resolved, err := m.Observe(ctx, id, s, 5*time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			return resolved
		}
		// Three cycles of: back at desired for 3 minutes, then down again (by the reconciler's
		// read twice, by a failure event once).
		for cycle := range 3 {
			observe(up)
			clk.Advance(3 * time.Minute)
			if cycle == 1 {
				s := Failure(classify.EssentialExit, 10+cycle, severity.P2)
				if o, err := m.Apply(ctx, s); err != nil || o.Opened {
					t.Fatalf("cycle %d: a new incident (%+v, %v)", cycle, o, err)
				}
			} else {
				observe(down)
			}
			clk.Advance(time.Minute)
		}
		inc, err := st.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if inc.Flaps != 3 || !inc.Flapping() {
			t.Fatalf("flaps %d, flapping %v", inc.Flaps, inc.Flapping())
		}
		flapping := 0
		for _, e := range inc.Timeline {
			if e.Kind == "flapping" {
				flapping++
			}
		}
		if flapping != 1 {
			t.Errorf("%d flapping entries, want exactly 1", flapping)
		}
		// Now the usual 5 quiet minutes are not enough: the flap window is.
		observe(up)
		clk.Advance(10 * time.Minute)
		if observe(up) {
			t.Fatal("a flapping incident resolved after the usual quiet period")
		}
		clk.Advance(10 * time.Minute)
		if !observe(up) {
			t.Fatal("not resolved after the flap window")
		}
		active, err := st.List(ctx, incident.Filter{Active: true})
		if err != nil || len(active) != 0 {
			t.Fatalf("active after resolve: %v %v", idsOf(active), err)
		}
	})

	t.Run("list since", func(t *testing.T) {
		// Three incidents a day apart, the middle one resolved: Since keeps exactly those opened at
		// or after it, active or not, newest first.
		m, st, clk := setup(t)
		var ids []string
		for i, cause := range []classify.Cause{classify.OOMKilled, classify.ImagePull, classify.HealthCheck} {
			out, err := m.Apply(ctx, Failure(cause, 100+i, severity.P3))
			if err != nil || !out.Opened {
				t.Fatalf("open %s: %+v %v", cause, out, err)
			}
			ids = append(ids, out.Incident.ID)
			clk.Advance(24 * time.Hour)
		}
		if _, _, err := m.Resolve(ctx, ids[1], "alice", "fixed"); err != nil {
			t.Fatal(err)
		}
		since := time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC) // the second incident's opening
		all, err := st.List(ctx, incident.Filter{Since: since, Limit: 50})
		if err != nil || len(all) != 2 || all[0].ID != ids[2] || all[1].ID != ids[1] {
			t.Fatalf("since %s: got %d incidents %v, want [%s %s]", since, len(all), idsOf(all), ids[2], ids[1])
		}
		active, err := st.List(ctx, incident.Filter{Active: true, Since: since})
		if err != nil || len(active) != 1 || active[0].ID != ids[2] {
			t.Fatalf("active since: %v %v", idsOf(active), err)
		}
		every, err := st.List(ctx, incident.Filter{Limit: 50})
		if err != nil || len(every) != 3 {
			t.Fatalf("no since: %v %v", idsOf(every), err)
		}
	})
}

func idsOf(incs []*incident.Incident) []string {
	out := make([]string, len(incs))
	for i, inc := range incs {
		out[i] = inc.ID
	}
	return out
}
