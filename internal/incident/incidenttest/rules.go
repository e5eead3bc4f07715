package incidenttest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ecs-medic/ecs-medic/internal/classify"
	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/servicestate"
	"github.com/ecs-medic/ecs-medic/internal/severity"
)

// The safety rules of incidents, each pinned on every store: a test here fails when its rule is
// weakened (a bound moved, a check dropped), not only when it is removed. Every time is set by the
// injected clock, exactly at or beside the bound it checks.

// MarkTTL is how long every store remembers an event's idempotency marks: EventBridge retries a
// delivery for up to 24 hours, and marks are kept twice that.
const MarkTTL = 48 * time.Hour

type setupFunc func(t *testing.T) (*incident.Manager, incident.Store, *Clock)

// at returns a failure signal of task n whose event time is the clock's reading (the relapse
// rule compares event times with the time of the fix).
func at(clk *Clock, cause classify.Cause, n int, level severity.Level) incident.Signal {
	sig := Failure(cause, n, level)
	sig.Time = clk.Now()
	return sig
}

func mustApply(t *testing.T, m *incident.Manager, sig incident.Signal) incident.Outcome {
	t.Helper()
	out, err := m.Apply(context.Background(), sig)
	if err != nil {
		t.Fatalf("apply %s: %v", sig.EventID, err)
	}
	return out
}

func mustGet(t *testing.T, st incident.Store, id string) *incident.Incident {
	t.Helper()
	inc, err := st.Get(context.Background(), id)
	if err != nil {
		t.Fatalf("get %s: %v", id, err)
	}
	return inc
}

func countKind(inc *incident.Incident, kind incident.EntryKind) int {
	n := 0
	for _, e := range inc.Timeline {
		if e.Kind == kind {
			n++
		}
	}
	return n
}

func runRules(t *testing.T, setup setupFunc) {
	ctx := context.Background()

	t.Run("a redelivery within the mark TTL is a duplicate, also after a resolve", func(t *testing.T) {
		for _, after := range []time.Duration{time.Hour, 23*time.Hour + 59*time.Minute, MarkTTL - time.Second} {
			t.Run(after.String(), func(t *testing.T) {
				m, st, clk := setup(t)
				sig := at(clk, classify.OOMKilled, 1, severity.P3)
				first := mustApply(t, m, sig)
				clk.Advance(after)
				if out := mustApply(t, m, sig); !out.Duplicate {
					t.Fatalf("redelivery after %s not recognised: %+v", after, out)
				}
				if _, _, err := m.Resolve(ctx, first.Incident.ID, "alice", "fixed"); err != nil {
					t.Fatal(err)
				}
				// The same event again, and under a new EventBridge id with the same task version.
				again := sig
				again.EventID, again.Marks = "evt-retry", []string{"evt#evt-retry", sig.Marks[1]}
				for _, s := range []incident.Signal{sig, again} {
					if out := mustApply(t, m, s); !out.Duplicate || out.Opened {
						t.Fatalf("redelivery of %s after a resolve: %+v", s.EventID, out)
					}
				}
				all, err := st.List(ctx, incident.Filter{})
				if err != nil || len(all) != 1 || all[0].State != incident.Resolved || all[0].Occurrences.Count != 1 {
					t.Fatalf("after redeliveries: %v %v", idsOf(all), err)
				}
			})
		}
	})

	t.Run("a redelivery is a duplicate however many events came since", func(t *testing.T) {
		m, st, clk := setup(t)
		var sigs []incident.Signal
		for i := range 40 {
			sigs = append(sigs, at(clk, classify.OOMKilled, i, severity.P3))
			mustApply(t, m, sigs[i])
			clk.Advance(time.Minute)
		}
		for _, i := range []int{0, 1, 20, 39} {
			again := sigs[i]
			again.EventID, again.Marks = fmt.Sprintf("evt-retry-%d", i), []string{fmt.Sprintf("evt#evt-retry-%d", i), sigs[i].Marks[1]}
			for _, s := range []incident.Signal{sigs[i], again} {
				if out := mustApply(t, m, s); !out.Duplicate {
					t.Fatalf("redelivery of event %d (%s) after 40: %+v", i, s.EventID, out)
				}
			}
		}
		active, err := st.List(ctx, incident.Filter{Active: true})
		if err != nil || len(active) != 1 || active[0].Occurrences.Count != 40 {
			t.Fatalf("after the redeliveries: %v %v", idsOf(active), err)
		}
	})

	t.Run("a mark lasts exactly its TTL", func(t *testing.T) {
		m, st, clk := setup(t)
		sig := at(clk, classify.OOMKilled, 1, severity.P3)
		first := mustApply(t, m, sig)
		clk.Advance(MarkTTL - time.Second)
		if out := mustApply(t, m, sig); !out.Duplicate {
			t.Fatalf("1 s before the TTL: %+v", out)
		}
		clk.Advance(time.Second)
		out := mustApply(t, m, sig)
		if out.Duplicate || out.Incident == nil || out.Incident.ID != first.Incident.ID {
			t.Fatalf("once the TTL has passed (exactly) the event is new again: %+v", out)
		}
		if got := mustGet(t, st, first.Incident.ID).Occurrences.Count; got != 2 {
			t.Fatalf("occurrences %d, want 2", got)
		}
	})

	t.Run("a resolved incident never reopens", func(t *testing.T) {
		m, st, clk := setup(t)
		first := mustApply(t, m, at(clk, classify.OOMKilled, 1, severity.P2))
		id := first.Incident.ID
		if _, changed, err := m.Resolve(ctx, id, "alice", ""); err != nil || !changed {
			t.Fatalf("resolve: %v %v", changed, err)
		}
		// The store refuses to make it active again, whoever asks.
		for _, state := range []incident.State{incident.Open, incident.Acknowledged} {
			_, err := st.Modify(ctx, id, func(inc *incident.Incident) (bool, error) {
				inc.State, inc.ResolvedAt = state, nil
				return true, nil
			})
			if err == nil {
				t.Fatalf("a resolved incident was made %s again", state)
			}
		}
		if got := mustGet(t, st, id); got.State != incident.Resolved {
			t.Fatalf("state %s after a refused reopen", got.State)
		}
		// Nor through its scope: a write of the copy from before the resolve is refused too.
		old := *first.Incident
		err := st.Update(ctx, Scope, nil, func([]*incident.Incident) ([]*incident.Incident, error) {
			c := old
			c.Title = "stale"
			return []*incident.Incident{&c}, nil
		})
		if err == nil {
			t.Fatal("a copy from before the resolve was written back")
		}
		if active, _ := st.List(ctx, incident.Filter{Active: true}); len(active) != 0 {
			t.Fatalf("active after writing back an old copy: %v", idsOf(active))
		}
		if got := mustGet(t, st, id); got.State != incident.Resolved || got.Title == "stale" {
			t.Fatalf("after writing back an old copy: %s %q", got.State, got.Title)
		}
		// Nothing the manager does brings it back.
		if _, changed, _ := m.Acknowledge(ctx, id, "bob"); changed {
			t.Fatal("a resolved incident was acknowledged")
		}
		if _, resolved, _ := m.Observe(ctx, id, &servicestate.Snapshot{Desired: 2, Running: 0}, time.Minute); resolved {
			t.Fatal("observe resolved a resolved incident again")
		}
		if _, esc, _ := m.Escalate(ctx, id); esc {
			t.Fatal("a resolved incident escalated")
		}
		clk.Advance(time.Minute)
		next := mustApply(t, m, at(clk, classify.OOMKilled, 2, severity.P2))
		if !next.Opened || next.Incident.ID == id {
			t.Fatalf("a failure after the resolve: %+v", next)
		}
		if got := mustGet(t, st, id); got.State != incident.Resolved || got.Occurrences.Count != 1 {
			t.Fatalf("the resolved incident changed: %s, %d occurrences", got.State, got.Occurrences.Count)
		}
	})

	t.Run("a change is returned and kept, its version one higher, also once resolved", func(t *testing.T) {
		m, st, clk := setup(t)
		id := mustApply(t, m, at(clk, classify.OOMKilled, 1, severity.P2)).Incident.ID
		retitle := func(title string, changed bool) *incident.Incident {
			t.Helper()
			inc, err := st.Modify(ctx, id, func(inc *incident.Incident) (bool, error) {
				inc.Title = title
				return changed, nil
			})
			if err != nil || inc == nil || inc.ID != id || inc.Title != title {
				t.Fatalf("modify to %q: %+v %v", title, inc, err)
			}
			return inc
		}
		for _, resolved := range []bool{false, true} {
			if resolved {
				if _, changed, err := m.Resolve(ctx, id, "alice", "fixed"); err != nil || !changed {
					t.Fatalf("resolve: %v %v", changed, err)
				}
			}
			v := mustGet(t, st, id).Version
			for i := range int64(2) {
				title := fmt.Sprintf("resolved %v, change %d", resolved, i)
				if got := retitle(title, true); got.Version != v+i+1 {
					t.Fatalf("%s: returned version %d, want %d", title, got.Version, v+i+1)
				}
				if got := mustGet(t, st, id); got.Title != title || got.Version != v+i+1 || got.State.Active() == resolved {
					t.Fatalf("%s: kept %q at version %d (%s), want version %d", title, got.Title, got.Version, got.State, v+i+1)
				}
			}
			// No change reported: nothing written.
			before := mustGet(t, st, id)
			retitle("not kept", false)
			if got := mustGet(t, st, id); got.Title != before.Title || got.Version != before.Version {
				t.Fatalf("an unchanged modify wrote %q at version %d", got.Title, got.Version)
			}
			// fn's error is returned, and nothing written.
			refused := errors.New("refused")
			if _, err := st.Modify(ctx, id, func(inc *incident.Incident) (bool, error) {
				inc.Title = "refused"
				return true, refused
			}); !errors.Is(err, refused) {
				t.Fatalf("fn's error: %v", err)
			}
			if got := mustGet(t, st, id); got.Title != before.Title || got.Version != before.Version {
				t.Fatalf("a refused modify wrote %q at version %d", got.Title, got.Version)
			}
		}
	})

	t.Run("a store refuses a second active incident of a cause, and a stale write", func(t *testing.T) {
		m, st, clk := setup(t)
		first := mustApply(t, m, at(clk, classify.OOMKilled, 1, severity.P2)).Incident
		twin := *first
		twin.ID, twin.Version, twin.Timeline = "inc-twin", 0, nil
		err := st.Update(ctx, Scope, nil, func([]*incident.Incident) ([]*incident.Incident, error) {
			c := twin
			return []*incident.Incident{&c}, nil
		})
		if err == nil {
			t.Fatal("a second active oom-killed incident of the same service was stored")
		}
		if active, _ := st.List(ctx, incident.Filter{Active: true}); len(active) != 1 || active[0].ID != first.ID {
			t.Fatalf("active after the refused twin: %v", idsOf(active))
		}
		// first is now stale: someone else writes the incident, then a write of the old copy fails.
		if _, err := m.Record(ctx, first.ID, incident.Entry{Actor: "x", Kind: "note", Message: "newer"}); err != nil {
			t.Fatal(err)
		}
		stale := *first
		stale.Title = "stale"
		err = st.Update(ctx, Scope, nil, func([]*incident.Incident) ([]*incident.Incident, error) {
			c := stale
			return []*incident.Incident{&c}, nil
		})
		if err == nil {
			t.Fatal("a stale copy overwrote a newer incident")
		}
		if got := mustGet(t, st, first.ID); got.Title == "stale" || countKind(got, "note") != 1 {
			t.Fatalf("after the refused stale write: %q", got.Title)
		}
	})

	t.Run("a new incident never takes an id in use", func(t *testing.T) {
		m, st, clk := setup(t)
		// An active incident of another service, and a resolved one of this service.
		other := at(clk, classify.OOMKilled, 1, severity.P2)
		other.Scope.Service, other.State.Service = "payments", "payments"
		other.EventID, other.Marks = "evt-payments", []string{"evt#evt-payments"}
		elsewhere := mustApply(t, m, other).Incident
		done := mustApply(t, m, at(clk, classify.OOMKilled, 2, severity.P2)).Incident
		if _, changed, err := m.Resolve(ctx, done.ID, "alice", "fixed"); err != nil || !changed {
			t.Fatalf("resolve: %v %v", changed, err)
		}
		done = mustGet(t, st, done.ID)
		clk.Advance(time.Minute)
		sig := at(clk, classify.OOMKilled, 3, severity.P1)
		for _, taken := range []*incident.Incident{elsewhere, done} {
			err := st.Update(ctx, Scope, sig.Marks, func([]*incident.Incident) ([]*incident.Incident, error) {
				now := clk.Now()
				return []*incident.Incident{{ID: taken.ID, Scope: Scope, Cause: classify.OOMKilled, State: incident.Open,
					Severity: severity.P1, Title: "impostor", OpenedAt: now, UpdatedAt: now}}, nil
			})
			if !errors.Is(err, incident.ErrConflict) {
				t.Fatalf("a new incident with the id of %s (%s): %v, want a conflict", taken.ID, taken.State, err)
			}
			got := mustGet(t, st, taken.ID)
			if got.Scope != taken.Scope || got.State != taken.State || got.Title != taken.Title || got.Version != taken.Version {
				t.Fatalf("%s after the refused create: %s %s %q v%d, was %s %s %q v%d", taken.ID,
					got.Scope.Key(), got.State, got.Title, got.Version, taken.Scope.Key(), taken.State, taken.Title, taken.Version)
			}
		}
		if active, err := st.List(ctx, incident.Filter{Active: true}); err != nil || len(active) != 1 || active[0].ID != elsewhere.ID {
			t.Fatalf("active after the refused creates: %v %v", idsOf(active), err)
		}
		// The refused writes consumed nothing: the event still opens its incident.
		if out := mustApply(t, m, sig); !out.Opened || out.Duplicate || out.Incident.ID == elsewhere.ID || out.Incident.ID == done.ID {
			t.Fatalf("the event after the refused creates: %+v", out)
		}
	})

	t.Run("a scope's update writes only incidents of that scope", func(t *testing.T) {
		m, st, clk := setup(t)
		other := at(clk, classify.OOMKilled, 1, severity.P2)
		other.Scope.Service, other.State.Service = "payments", "payments"
		elsewhere := mustApply(t, m, other).Incident
		// A copy of the other service's incident, changed, written through this service's scope.
		err := st.Update(ctx, Scope, nil, func([]*incident.Incident) ([]*incident.Incident, error) {
			c := *elsewhere
			c.ID, c.Version, c.Title = "inc-0000000000002", 0, "misplaced"
			return []*incident.Incident{&c}, nil
		})
		if !errors.Is(err, incident.ErrConflict) {
			t.Fatalf("an incident of %s written through %s: %v, want a conflict", elsewhere.Scope.Key(), Scope.Key(), err)
		}
		if _, err := st.Get(ctx, "inc-0000000000002"); err == nil {
			t.Fatal("the misplaced incident was stored")
		}
		if active, _ := st.List(ctx, incident.Filter{Active: true}); len(active) != 1 || active[0].ID != elsewhere.ID {
			t.Fatalf("active after the refused write: %v", idsOf(active))
		}
	})

	t.Run("one update may resolve an incident and open the next of its cause", func(t *testing.T) {
		m, st, clk := setup(t)
		first := mustApply(t, m, at(clk, classify.OOMKilled, 1, severity.P2)).Incident
		err := st.Update(ctx, Scope, nil, func(active []*incident.Incident) ([]*incident.Incident, error) {
			done := active[0]
			now := clk.Now()
			done.State, done.ResolvedAt = incident.Resolved, &now
			next := &incident.Incident{ID: "inc-0000000000003", Scope: Scope, Cause: classify.OOMKilled, State: incident.Open,
				Severity: severity.P2, Title: "next", OpenedAt: now, UpdatedAt: now}
			return []*incident.Incident{done, next}, nil
		})
		if err != nil {
			t.Fatalf("resolve and open in one update: %v", err)
		}
		if active, _ := st.List(ctx, incident.Filter{Active: true}); len(active) != 1 || active[0].ID != "inc-0000000000003" {
			t.Fatalf("active after resolve and open: %v", idsOf(active))
		}
		if got := mustGet(t, st, first.ID); got.State != incident.Resolved {
			t.Fatalf("the first incident: %s", got.State)
		}
	})

	t.Run("an event that changed nothing is still a duplicate when redelivered", func(t *testing.T) {
		m, st, clk := setup(t)
		ok := incident.Signal{Kind: incident.Recover, EventID: "ok-1", Time: clk.Now(), Scope: Scope, Cause: classify.OOMKilled,
			Marks: []string{"evt#ok-1"}, Message: "back to normal"}
		if out := mustApply(t, m, ok); out.Incident != nil || out.Duplicate {
			t.Fatalf("a recovery with no incident: %+v", out)
		}
		clk.Advance(time.Minute)
		opened := mustApply(t, m, at(clk, classify.OOMKilled, 1, severity.P2)).Incident
		// The old recovery, redelivered, must not resolve the incident opened since.
		if out := mustApply(t, m, ok); !out.Duplicate || out.Resolved {
			t.Fatalf("the redelivered recovery: %+v", out)
		}
		if got := mustGet(t, st, opened.ID); got.State != incident.Open {
			t.Fatalf("the incident after the redelivered recovery: %s", got.State)
		}
	})

	t.Run("a signal without a severity neither raises nor lowers", func(t *testing.T) {
		m, st, clk := setup(t)
		open := mustApply(t, m, at(clk, classify.OOMKilled, 1, 0))
		if open.Incident.Severity != severity.P3 || !open.Incident.SLADeadline.Equal(clk.Now().Add(2*time.Hour)) {
			t.Fatalf("no severity opens a P3 due in 2 h: %s due %v", open.Incident.Severity, open.Incident.SLADeadline)
		}
		clk.Advance(time.Minute)
		out := mustApply(t, m, at(clk, classify.OOMKilled, 2, 0))
		if out.Raised || out.Incident.Severity != severity.P3 {
			t.Fatalf("a failure without a severity: %+v", out.Incident.Severity)
		}
		corr := incident.Signal{Kind: incident.Corroborate, EventID: "c0", Scope: Scope, Cause: classify.StartImpaired, Marks: []string{"evt#c0"}, Message: "start impaired"}
		if out := mustApply(t, m, corr); out.Raised || out.Incident.Severity != severity.P3 {
			t.Fatalf("a corroboration without a severity: %+v", out)
		}
		if got := mustGet(t, st, open.Incident.ID); got.Severity != severity.P3 || countKind(got, "severity") != 0 {
			t.Fatalf("stored %s with %d severity entries", got.Severity, countKind(got, "severity"))
		}
	})

	t.Run("the response deadline only ever comes closer", func(t *testing.T) {
		m, st, clk := setup(t)
		start := clk.Now()
		open := mustApply(t, m, at(clk, classify.OOMKilled, 1, severity.P3))
		id := open.Incident.ID
		// 1 h 50 min in, a P2 would be due in 30 min: later than the P3's deadline, which stays.
		clk.Advance(time.Hour + 50*time.Minute)
		out := mustApply(t, m, at(clk, classify.OOMKilled, 2, severity.P2))
		if !out.Raised || out.Incident.Severity != severity.P2 || !out.Incident.SLADeadline.Equal(start.Add(2*time.Hour)) {
			t.Fatalf("raise to P2 late: %s due %v, want due %v", out.Incident.Severity, out.Incident.SLADeadline, start.Add(2*time.Hour))
		}
		// The same level again changes nothing.
		clk.Advance(time.Minute)
		if out := mustApply(t, m, at(clk, classify.OOMKilled, 3, severity.P2)); out.Raised || !out.Incident.SLADeadline.Equal(start.Add(2*time.Hour)) {
			t.Fatalf("P2 again: raised=%v due %v", out.Raised, out.Incident.SLADeadline)
		}
		got := mustGet(t, st, id)
		if got.Severity != severity.P2 || !got.SLADeadline.Equal(start.Add(2*time.Hour)) || countKind(got, "severity") != 1 {
			t.Fatalf("stored %s due %v, %d severity entries", got.Severity, got.SLADeadline, countKind(got, "severity"))
		}
		// Raised to P1 early, the deadline comes forward: now + 15 min is before the P3's.
		id2 := mustApply(t, m, at(clk, classify.ImagePull, 5, severity.P3)).Incident.ID
		clk.Advance(2 * time.Minute)
		now := clk.Now()
		if out := mustApply(t, m, at(clk, classify.ImagePull, 6, severity.P1)); !out.Raised || !out.Incident.SLADeadline.Equal(now.Add(15*time.Minute)) {
			t.Fatalf("raise to P1: raised=%v due %v, want %v", out.Raised, out.Incident.SLADeadline, now.Add(15*time.Minute))
		}
		if got := mustGet(t, st, id2); got.Severity != severity.P1 || !got.SLADeadline.Equal(now.Add(15*time.Minute)) {
			t.Fatalf("stored %s due %v", got.Severity, got.SLADeadline)
		}
	})

	t.Run("a note never opens an incident nor raises one", func(t *testing.T) {
		m, st, clk := setup(t)
		note := incident.Signal{Kind: incident.Note, EventID: "n1", Scope: Scope, Cause: classify.OOMKilled, Severity: severity.P1,
			Marks: []string{"evt#n1"}, Message: "deployment completed", Time: clk.Now()}
		if out := mustApply(t, m, note); out.Opened || out.Incident != nil {
			t.Fatalf("a note with nothing open: %+v", out)
		}
		if all, _ := st.List(ctx, incident.Filter{}); len(all) != 0 {
			t.Fatalf("a note opened %d incidents", len(all))
		}
		open := mustApply(t, m, at(clk, classify.OOMKilled, 1, severity.P3))
		note.EventID, note.Marks = "n2", []string{"evt#n2"}
		out := mustApply(t, m, note)
		if out.Opened || out.Raised || out.Incident == nil || out.Incident.ID != open.Incident.ID || len(out.Attached) != 1 {
			t.Fatalf("a note on an open incident: %+v", out)
		}
		got := mustGet(t, st, open.Incident.ID)
		if got.Severity != severity.P3 || countKind(got, "signal") != 1 || got.Occurrences.Count != 1 {
			t.Fatalf("after a P1 note: %s, %d signal entries, %d occurrences", got.Severity, countKind(got, "signal"), got.Occurrences.Count)
		}
		// A redelivered note is not counted as a duplicate on the incident.
		if out := mustApply(t, m, note); !out.Duplicate {
			t.Fatalf("note redelivery: %+v", out)
		}
		if got := mustGet(t, st, open.Incident.ID); got.Suppressed["duplicate"] != 0 {
			t.Fatalf("a redelivered note counted as a duplicate: %v", got.Suppressed)
		}
	})

	t.Run("the cause recurring after a fix stops automation", func(t *testing.T) {
		m, st, clk := setup(t)
		open := mustApply(t, m, at(clk, classify.OOMKilled, 1, severity.P2))
		id := open.Incident.ID
		// Before any fix, failures are only occurrences.
		clk.Advance(5 * time.Minute)
		if out := mustApply(t, m, at(clk, classify.OOMKilled, 2, severity.P2)); out.Relapsed {
			t.Fatal("a failure with no fix counted as a relapse")
		}
		fixAt := clk.Now()
		if _, err := m.ActionTaken(ctx, id, 0); err != nil {
			t.Fatal(err)
		}
		// Tasks started before the fix may still die in its first minute: not a relapse.
		clk.Advance(time.Minute)
		if out := mustApply(t, m, at(clk, classify.OOMKilled, 3, severity.P2)); out.Relapsed {
			t.Fatal("a failure exactly 1 min after the fix counted as a relapse")
		}
		if got := mustGet(t, st, id); got.AutomationStopped != "" {
			t.Fatalf("automation stopped 1 min after the fix: %q", got.AutomationStopped)
		}
		clk.Advance(time.Second)
		out := mustApply(t, m, at(clk, classify.OOMKilled, 4, severity.P2))
		if !out.Relapsed {
			t.Fatalf("a failure 1 min 1 s after the fix (at %v) is a relapse", fixAt)
		}
		got := mustGet(t, st, id)
		if got.AutomationStopped == "" || countKind(got, "relapse") != 1 {
			t.Fatalf("after the relapse: stopped %q, %d relapse entries", got.AutomationStopped, countKind(got, "relapse"))
		}
		// Said once: a further failure is an occurrence.
		clk.Advance(time.Minute)
		if out := mustApply(t, m, at(clk, classify.OOMKilled, 5, severity.P2)); out.Relapsed {
			t.Fatal("relapse reported twice")
		}
		if got := mustGet(t, st, id); countKind(got, "relapse") != 1 || got.Occurrences.Count != 5 {
			t.Fatalf("%d relapse entries, %d occurrences", countKind(got, "relapse"), got.Occurrences.Count)
		}
	})

	t.Run("automation stops once, with the first reason", func(t *testing.T) {
		m, st, clk := setup(t)
		id := mustApply(t, m, at(clk, classify.OOMKilled, 1, severity.P2)).Incident.ID
		inc, err := m.StopAutomation(ctx, id, "the fix failed: AccessDenied")
		if err != nil || inc.AutomationStopped != "the fix failed: AccessDenied" {
			t.Fatalf("stop: %+v %v", inc, err)
		}
		clk.Advance(time.Minute)
		if inc, err = m.StopAutomation(ctx, id, "another reason"); err != nil || inc.AutomationStopped != "the fix failed: AccessDenied" {
			t.Fatalf("second stop: %q %v", inc.AutomationStopped, err)
		}
		got := mustGet(t, st, id)
		if got.AutomationStopped != "the fix failed: AccessDenied" || countKind(got, "automation-stopped") != 1 {
			t.Fatalf("stored %q with %d entries", got.AutomationStopped, countKind(got, "automation-stopped"))
		}
		// A relapse after a fix keeps the first reason too.
		if _, err := m.ActionTaken(ctx, id, time.Minute); err != nil {
			t.Fatal(err)
		}
		clk.Advance(2 * time.Minute)
		if out := mustApply(t, m, at(clk, classify.OOMKilled, 2, severity.P2)); out.Relapsed {
			t.Fatal("a relapse on an incident whose automation is already stopped")
		}
		if _, err := m.StopAutomation(ctx, "inc-missing", "x"); !errors.Is(err, incident.ErrNotFound) {
			t.Fatalf("stop on a missing incident: %v", err)
		}
	})

	t.Run("a fix is verified within its window, 10 min by default", func(t *testing.T) {
		for _, tc := range []struct {
			verify, want time.Duration
		}{{0, 10 * time.Minute}, {-time.Minute, 10 * time.Minute}, {3 * time.Minute, 3 * time.Minute}, {25 * time.Minute, 25 * time.Minute}} {
			t.Run(tc.verify.String(), func(t *testing.T) {
				m, st, clk := setup(t)
				id := mustApply(t, m, at(clk, classify.OOMKilled, 1, severity.P2)).Incident.ID
				clk.Advance(time.Minute)
				fixAt := clk.Now()
				inc, err := m.ActionTaken(ctx, id, tc.verify)
				if err != nil || inc.ActionAt == nil || !inc.ActionAt.Equal(fixAt) || inc.VerifyBy == nil || !inc.VerifyBy.Equal(fixAt.Add(tc.want)) {
					t.Fatalf("action taken: %+v %v", inc, err)
				}
				// Up to the deadline itself the fix has time.
				clk.Advance(tc.want)
				if _, changed, err := m.Ineffective(ctx, id); err != nil || changed {
					t.Fatalf("ineffective at the deadline: %v %v", changed, err)
				}
				clk.Advance(time.Second)
				inc, changed, err := m.Ineffective(ctx, id)
				if err != nil || !changed || inc.AutomationStopped == "" || !inc.Escalated || inc.VerifyBy != nil {
					t.Fatalf("1 s past the deadline: changed=%v %+v %v", changed, inc, err)
				}
				// Once: the deadline is spent.
				if _, changed, _ := m.Ineffective(ctx, id); changed {
					t.Fatal("ineffective twice")
				}
				got := mustGet(t, st, id)
				if !got.Escalated || got.AutomationStopped == "" || countKind(got, "escalated") != 1 {
					t.Fatalf("stored: escalated %v stopped %q, %d escalations", got.Escalated, got.AutomationStopped, countKind(got, "escalated"))
				}
			})
		}
	})

	t.Run("a fix is not ineffective while the service recovers, nor once resolved", func(t *testing.T) {
		m, st, clk := setup(t)
		id := mustApply(t, m, at(clk, classify.OOMKilled, 1, severity.P2)).Incident.ID
		if _, changed, _ := m.Ineffective(ctx, id); changed {
			t.Fatal("ineffective without any fix")
		}
		if _, err := m.ActionTaken(ctx, id, 5*time.Minute); err != nil {
			t.Fatal(err)
		}
		clk.Advance(4 * time.Minute)
		if _, _, err := m.Observe(ctx, id, &servicestate.Snapshot{Desired: 2, Running: 2}, 5*time.Minute); err != nil {
			t.Fatal(err)
		}
		clk.Advance(2 * time.Minute) // past the deadline, recovering
		if _, changed, _ := m.Ineffective(ctx, id); changed {
			t.Fatal("a fix judged ineffective while the service was back")
		}
		if got := mustGet(t, st, id); got.AutomationStopped != "" || got.Escalated {
			t.Fatalf("stopped %q escalated %v", got.AutomationStopped, got.Escalated)
		}
		// Resolved, then past the deadline: nothing to judge.
		id2 := mustApply(t, m, at(clk, classify.ImagePull, 2, severity.P2)).Incident.ID
		if _, err := m.ActionTaken(ctx, id2, time.Minute); err != nil {
			t.Fatal(err)
		}
		if _, _, err := m.Resolve(ctx, id2, "alice", ""); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Hour)
		if _, changed, _ := m.Ineffective(ctx, id2); changed {
			t.Fatal("a resolved incident's fix judged ineffective")
		}
		// An incident whose automation was already stopped keeps that reason.
		id3 := mustApply(t, m, at(clk, classify.HealthCheck, 3, severity.P2)).Incident.ID
		if _, err := m.StopAutomation(ctx, id3, "a human said so"); err != nil {
			t.Fatal(err)
		}
		if _, err := m.ActionTaken(ctx, id3, time.Minute); err != nil {
			t.Fatal(err)
		}
		clk.Advance(2 * time.Minute)
		inc, changed, err := m.Ineffective(ctx, id3)
		if err != nil || !changed || inc.AutomationStopped != "a human said so" || !inc.Escalated {
			t.Fatalf("ineffective after a stop: %v %+v %v", changed, inc, err)
		}
	})

	t.Run("silences last from 1 minute to 7 days", func(t *testing.T) {
		m, _, clk := setup(t)
		for _, d := range []time.Duration{0, -time.Hour, time.Minute - time.Second, 7*24*time.Hour + time.Second, 70 * 24 * time.Hour} {
			if _, err := m.Silence(ctx, Scope, d, "alice", ""); !errors.Is(err, incident.ErrSilenceLength) {
				t.Errorf("a silence of %s: %v, want refused", d, err)
			}
		}
		if s, _ := m.Silenced(ctx, Scope); s != nil {
			t.Fatalf("a refused silence holds: %+v", s)
		}
		for _, d := range []time.Duration{time.Minute, 7 * 24 * time.Hour} {
			s, err := m.Silence(ctx, Scope, d, "alice", "maintenance")
			if err != nil || !s.Until.Equal(clk.Now().Add(d)) || !s.Created.Equal(clk.Now()) || s.By != "alice" {
				t.Fatalf("a silence of %s: %+v %v", d, s, err)
			}
		}
		// The 7-day one replaced the 1-minute one: it holds until its end, and not after.
		clk.Advance(7*24*time.Hour - time.Second)
		if s, _ := m.Silenced(ctx, Scope); s == nil {
			t.Fatal("a 7-day silence ended early")
		}
		clk.Advance(time.Second)
		if s, _ := m.Silenced(ctx, Scope); s != nil {
			t.Fatal("a silence held at its end")
		}
		long := strings.Repeat("r", 1000)
		s, err := m.Silence(ctx, Scope, time.Hour, "alice", long)
		if err != nil || len(s.Reason) > 256 {
			t.Fatalf("a silence's reason is bounded: %d bytes, %v", len(s.Reason), err)
		}
	})

	t.Run("a silence covers its service in any account, and nothing else", func(t *testing.T) {
		m, _, _ := setup(t)
		slack := incident.Scope{Cluster: Scope.Cluster, Service: Scope.Service}
		if _, err := m.Silence(ctx, slack, time.Hour, "alice", ""); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			scope incident.Scope
			want  bool
		}{
			{Scope, true},
			{incident.Scope{Account: "999988887777", Region: "eu-west-1", Cluster: "prod", Service: "checkout"}, true},
			{incident.Scope{Account: Scope.Account, Region: Scope.Region, Cluster: "staging", Service: "checkout"}, false},
			{incident.Scope{Account: Scope.Account, Region: Scope.Region, Cluster: "prod", Service: "payments"}, false},
			{incident.Scope{Account: Scope.Account, Region: Scope.Region, Cluster: "prod", Service: "checkout", Alarm: "x"}, false},
		} {
			if s, err := m.Silenced(ctx, tc.scope); err != nil || (s != nil) != tc.want {
				t.Errorf("%+v: silenced=%v, want %v (%v)", tc.scope, s != nil, tc.want, err)
			}
		}
		// One set for an account covers only that account.
		m2, _, _ := setup(t)
		if _, err := m2.Silence(ctx, Scope, time.Hour, "alice", ""); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			scope incident.Scope
			want  bool
		}{
			{Scope, true},
			{incident.Scope{Account: "999988887777", Region: Scope.Region, Cluster: "prod", Service: "checkout"}, false},
			{incident.Scope{Account: Scope.Account, Region: "eu-west-1", Cluster: "prod", Service: "checkout"}, false},
		} {
			if s, _ := m2.Silenced(ctx, tc.scope); (s != nil) != tc.want {
				t.Errorf("account silence on %+v: %v, want %v", tc.scope, s != nil, tc.want)
			}
		}
	})

	t.Run("the timeline keeps its first and newest 200 entries, and refusals never push them out", func(t *testing.T) {
		m, st, clk := setup(t)
		id := mustApply(t, m, at(clk, classify.OOMKilled, 1, severity.P2)).Incident.ID
		// 300 entries in one write (one delivery each).
		ds := make([]incident.Delivery, 300)
		for i := range ds {
			ds[i] = incident.Delivery{Notifier: "slack", Kind: fmt.Sprintf("entry %d", i)}
		}
		clk.Advance(time.Second)
		if _, err := m.Delivered(ctx, id, ds); err != nil {
			t.Fatal(err)
		}
		got := mustGet(t, st, id)
		if len(got.Timeline) != incident.MaxTimeline || incident.MaxTimeline != 200 {
			t.Fatalf("timeline of %d entries, want 200", len(got.Timeline))
		}
		if got.Timeline[0].Kind != "opened" || got.Timeline[1].Message != "slack: entry 101 sent" || got.Timeline[199].Message != "slack: entry 299 sent" {
			t.Fatalf("kept %q, %q … %q", got.Timeline[0].Kind, got.Timeline[1].Message, got.Timeline[199].Message)
		}
		if got.TimelineDropped != 101 {
			t.Fatalf("dropped %d, want 101", got.TimelineDropped)
		}
		for i := range 12 {
			if _, err := m.Record(ctx, id, incident.Entry{Actor: "slack:U0MALLORY", Kind: incident.KindRefused, Message: fmt.Sprintf("refused %d", i)}); err != nil {
				t.Fatal(err)
			}
		}
		got = mustGet(t, st, id)
		if got.Refusals != 12 || countKind(got, incident.KindRefused) != incident.MaxRefusalEntries || incident.MaxRefusalEntries != 5 {
			t.Fatalf("refusals %d, %d kept; want 12 and 5", got.Refusals, countKind(got, incident.KindRefused))
		}
		if len(got.Timeline) != 205 || got.Timeline[0].Kind != "opened" || got.Timeline[1].Message != "slack: entry 101 sent" || got.TimelineDropped != 101 {
			t.Fatalf("refusals pushed real entries out: %d entries, dropped %d", len(got.Timeline), got.TimelineDropped)
		}
		if last := got.Timeline[len(got.Timeline)-1]; last.Message != "refused 11" || got.Timeline[200].Message != "refused 7" {
			t.Fatalf("kept refusals %q … %q, want the newest five", got.Timeline[200].Message, last.Message)
		}
		// A real entry after the refusals still pushes out only real entries.
		if _, err := m.Record(ctx, id, incident.Entry{Actor: "alice", Kind: "acknowledged", Message: "ack"}); err != nil {
			t.Fatal(err)
		}
		got = mustGet(t, st, id)
		if countKind(got, incident.KindRefused) != 5 || len(got.Timeline) != 205 || got.TimelineDropped != 102 || got.Timeline[0].Kind != "opened" {
			t.Fatalf("after one more entry: %d refusals kept, %d entries, dropped %d", countKind(got, incident.KindRefused), len(got.Timeline), got.TimelineDropped)
		}
		// Refusals right after the opening entry never make the bound drop the opening entry.
		id2 := mustApply(t, m, at(clk, classify.ImagePull, 2, severity.P2)).Incident.ID
		for i := range 3 {
			if _, err := m.Record(ctx, id2, incident.Entry{Actor: "slack:U0MALLORY", Kind: incident.KindRefused, Message: fmt.Sprintf("early refusal %d", i)}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := m.Delivered(ctx, id2, ds); err != nil {
			t.Fatal(err)
		}
		got2 := mustGet(t, st, id2)
		if got2.Timeline[0].Kind != "opened" || countKind(got2, incident.KindRefused) != 3 || len(got2.Timeline) != 203 || got2.TimelineDropped != 101 {
			t.Fatalf("early refusals: first %q, %d refusals, %d entries, dropped %d", got2.Timeline[0].Kind, countKind(got2, incident.KindRefused), len(got2.Timeline), got2.TimelineDropped)
		}
		// Entries are clipped: a message to MaxText bytes, an actor to 128.
		inc, err := m.Record(ctx, id, incident.Entry{Actor: strings.Repeat("a", 500), Kind: "note", Message: strings.Repeat("m", 5000)})
		if err != nil {
			t.Fatal(err)
		}
		last := inc.Timeline[len(inc.Timeline)-1]
		if len(last.Message) > incident.MaxText || len(last.Actor) > 128 || !strings.HasSuffix(last.Message, "…") || last.At.IsZero() {
			t.Fatalf("entry not bounded: message %d bytes, actor %d, at %v", len(last.Message), len(last.Actor), last.At)
		}
	})

	t.Run("deliveries are recorded per receiver", func(t *testing.T) {
		m, st, clk := setup(t)
		id := mustApply(t, m, at(clk, classify.OOMKilled, 1, severity.P1)).Incident.ID
		failedAt := clk.Now()
		inc, err := m.Delivered(ctx, id, []incident.Delivery{
			{Notifier: "pagerduty", Kind: "trigger", Attempts: 3, Err: errors.New("503 Service Unavailable")},
			{Notifier: "slack", Kind: "opened", Ref: "C0INCIDENTS/1700000000.000100", Attempts: 1},
		})
		if err != nil {
			t.Fatal(err)
		}
		pd, sl := inc.Notices["pagerduty"], inc.Notices["slack"]
		if pd == nil || pd.Pending != "trigger" || pd.PendingSince == nil || !pd.PendingSince.Equal(failedAt) || pd.Ref != "" {
			t.Fatalf("failed trigger: %+v", pd)
		}
		if sl == nil || sl.Ref != "C0INCIDENTS/1700000000.000100" || sl.Last != "opened" || sl.Pending != "" {
			t.Fatalf("slack: %+v", sl)
		}
		// Failing again keeps when it first failed; the receiver's handle is kept when a later
		// delivery carries none.
		clk.Advance(time.Minute)
		if _, err := m.Delivered(ctx, id, []incident.Delivery{
			{Notifier: "pagerduty", Kind: "trigger", Attempts: 3, Err: errors.New("timeout")},
			{Notifier: "slack", Kind: "update", Attempts: 1},
		}); err != nil {
			t.Fatal(err)
		}
		got := mustGet(t, st, id)
		if pd := got.Notices["pagerduty"]; pd.PendingSince == nil || !pd.PendingSince.Equal(failedAt) {
			t.Fatalf("pending since moved: %+v", pd)
		}
		if sl := got.Notices["slack"]; sl.Ref != "C0INCIDENTS/1700000000.000100" || sl.Last != "update" {
			t.Fatalf("slack after an update: %+v", sl)
		}
		if countKind(got, "notify-failed") != 2 || countKind(got, "notified") != 2 {
			t.Fatalf("%d failed, %d notified entries", countKind(got, "notify-failed"), countKind(got, "notified"))
		}
		// Delivered at last: the pending notice clears.
		clk.Advance(time.Minute)
		if _, err := m.Delivered(ctx, id, []incident.Delivery{{Notifier: "pagerduty", Kind: "trigger", Ref: id, Attempts: 1}}); err != nil {
			t.Fatal(err)
		}
		got = mustGet(t, st, id)
		if pd := got.Notices["pagerduty"]; pd.Pending != "" || pd.PendingSince != nil || pd.Ref != id || pd.Last != "trigger" {
			t.Fatalf("after delivery: %+v", pd)
		}
		// Skipped on purpose (a silence): counted as a suppression with its reason, and a pending
		// notice of that kind is dropped rather than re-sent.
		if _, err := m.Delivered(ctx, id, []incident.Delivery{{Notifier: "slack", Kind: "resolved", Err: errors.New("rate limited")}}); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Delivered(ctx, id, []incident.Delivery{{Notifier: "slack", Kind: "resolved", Skipped: "silenced by alice"}}); err != nil {
			t.Fatal(err)
		}
		got = mustGet(t, st, id)
		if sl := got.Notices["slack"]; sl.Pending != "" || sl.PendingSince != nil {
			t.Fatalf("a skipped kind still pending: %+v", sl)
		}
		if got.Suppressed["slack: silenced by alice"] != 1 || countKind(got, "suppressed") != 1 {
			t.Fatalf("suppressed %v, %d entries", got.Suppressed, countKind(got, "suppressed"))
		}
		// A skip of another kind leaves the pending one alone.
		if _, err := m.Delivered(ctx, id, []incident.Delivery{{Notifier: "slack", Kind: "update", Err: errors.New("rate limited")}}); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Delivered(ctx, id, []incident.Delivery{{Notifier: "slack", Kind: "resolved", Skipped: "silenced"}}); err != nil {
			t.Fatal(err)
		}
		if sl := mustGet(t, st, id).Notices["slack"]; sl.Pending != "update" {
			t.Fatalf("a skip of another kind cleared the pending update: %+v", sl)
		}
		// Nothing delivered writes nothing.
		before := mustGet(t, st, id)
		if _, err := m.Delivered(ctx, id, nil); err != nil {
			t.Fatal(err)
		}
		if after := mustGet(t, st, id); after.Version != before.Version || len(after.Timeline) != len(before.Timeline) {
			t.Fatalf("an empty delivery wrote: version %d → %d", before.Version, after.Version)
		}
	})

	t.Run("escalation: open, past the deadline, once", func(t *testing.T) {
		m, st, clk := setup(t)
		id := mustApply(t, m, at(clk, classify.OOMKilled, 1, severity.P2)).Incident.ID
		clk.Advance(30 * time.Minute)
		if _, esc, _ := m.Escalate(ctx, id); esc {
			t.Fatal("escalated at the deadline itself")
		}
		clk.Advance(time.Second)
		inc, esc, err := m.Escalate(ctx, id)
		if err != nil || !esc || !inc.Escalated {
			t.Fatalf("1 s past the deadline: %v %v", esc, err)
		}
		if got := mustGet(t, st, id); !got.Escalated || countKind(got, "escalated") != 1 {
			t.Fatalf("stored escalated=%v", got.Escalated)
		}
		// Acknowledged in time: never escalated.
		id2 := mustApply(t, m, at(clk, classify.ImagePull, 2, severity.P1)).Incident.ID
		if _, _, err := m.Acknowledge(ctx, id2, "alice"); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Hour)
		if _, esc, _ := m.Escalate(ctx, id2); esc {
			t.Fatal("an acknowledged incident escalated")
		}
	})

	t.Run("the quiet period is exact", func(t *testing.T) {
		m, _, clk := setup(t)
		id := mustApply(t, m, at(clk, classify.OOMKilled, 1, severity.P2)).Incident.ID
		up := &servicestate.Snapshot{Desired: 3, Running: 3}
		over := &servicestate.Snapshot{Desired: 3, Running: 4}
		if inc, resolved, err := m.Observe(ctx, id, up, 5*time.Minute); err != nil || resolved || inc.RecoveringSince == nil {
			t.Fatalf("first healthy reading: %v %v", resolved, err)
		}
		clk.Advance(5*time.Minute - time.Second)
		if _, resolved, _ := m.Observe(ctx, id, over, 5*time.Minute); resolved {
			t.Fatal("resolved 1 s before the quiet period ended")
		}
		clk.Advance(time.Second)
		inc, resolved, err := m.Observe(ctx, id, up, 5*time.Minute)
		if err != nil || !resolved || inc.State != incident.Resolved || inc.ResolvedAt == nil || !inc.ResolvedAt.Equal(clk.Now()) {
			t.Fatalf("at the end of the quiet period: %v %+v %v", resolved, inc, err)
		}
		// One task short is not recovered.
		id2 := mustApply(t, m, at(clk, classify.ImagePull, 2, severity.P2)).Incident.ID
		short := &servicestate.Snapshot{Desired: 3, Running: 2}
		for range 3 {
			if inc, resolved, _ := m.Observe(ctx, id2, short, time.Minute); resolved || inc.RecoveringSince != nil {
				t.Fatal("a service one task short counted as recovering")
			}
			clk.Advance(time.Hour)
		}
	})

	t.Run("flapping starts at the threshold and waits the longer of the quiet period and the window", func(t *testing.T) {
		m, st, clk := setup(t)
		sig := at(clk, classify.EssentialExit, 1, severity.P2)
		sig.FlapThreshold, sig.FlapWindow = 2, 3*time.Minute
		id := mustApply(t, m, sig).Incident.ID
		up := &servicestate.Snapshot{Desired: 2, Running: 2}
		down := &servicestate.Snapshot{Desired: 2, Running: 1}
		cycle := func() {
			m.Observe(ctx, id, up, 5*time.Minute)
			clk.Advance(time.Minute)
			m.Observe(ctx, id, down, 5*time.Minute)
			clk.Advance(time.Minute)
		}
		cycle()
		if got := mustGet(t, st, id); got.Flaps != 1 || got.Flapping() || countKind(got, "flapping") != 0 {
			t.Fatalf("after one relapse: flaps %d flapping %v", got.Flaps, got.Flapping())
		}
		cycle()
		if got := mustGet(t, st, id); got.Flaps != 2 || !got.Flapping() || countKind(got, "flapping") != 1 {
			t.Fatalf("after two relapses (threshold 2): flaps %d flapping %v", got.Flaps, got.Flapping())
		}
		// The window (3 min) is shorter than the quiet period (5 min): the quiet period holds.
		m.Observe(ctx, id, up, 5*time.Minute)
		clk.Advance(5*time.Minute - time.Second)
		if _, resolved, _ := m.Observe(ctx, id, up, 5*time.Minute); resolved {
			t.Fatal("a flapping incident resolved before the quiet period")
		}
		clk.Advance(time.Second)
		if _, resolved, _ := m.Observe(ctx, id, up, 5*time.Minute); !resolved {
			t.Fatal("not resolved after the quiet period")
		}
		// Default threshold 3 and window 30 min when the runbook says nothing.
		def := mustApply(t, m, at(clk, classify.ImagePull, 2, severity.P2)).Incident.ID
		for range 2 {
			m.Observe(ctx, def, up, time.Minute)
			clk.Advance(time.Second)
			m.Observe(ctx, def, down, time.Minute)
		}
		if got := mustGet(t, st, def); got.Flapping() {
			t.Fatal("flapping after 2 relapses with the default threshold")
		}
		m.Observe(ctx, def, up, time.Minute)
		clk.Advance(time.Second)
		m.Observe(ctx, def, down, time.Minute)
		if got := mustGet(t, st, def); !got.Flapping() || got.Flaps != incident.DefaultFlapThreshold || incident.DefaultFlapThreshold != 3 {
			t.Fatalf("flaps %d, flapping %v", got.Flaps, got.Flapping())
		}
		m.Observe(ctx, def, up, time.Minute)
		clk.Advance(30*time.Minute - time.Second)
		if _, resolved, _ := m.Observe(ctx, def, up, time.Minute); resolved {
			t.Fatal("resolved before the default 30 min flap window")
		}
		clk.Advance(time.Second)
		if _, resolved, _ := m.Observe(ctx, def, up, time.Minute); !resolved {
			t.Fatal("not resolved after the default flap window")
		}
	})

	t.Run("what an incident stores is bounded", func(t *testing.T) {
		m, st, clk := setup(t)
		long := strings.Repeat("x", 3*incident.MaxText)
		var id string
		for i := range 30 {
			sig := at(clk, classify.Unknown, i, severity.P3)
			sig.Evidence = fmt.Sprintf("reason %02d %s", i, long)
			sig.Facts = incident.Facts{TaskDefinition: fmt.Sprintf("arn:aws:ecs:us-east-1:111122223333:task-definition/checkout:%d", i),
				StoppedReason: long, Reason: long, TaskArn: strings.Repeat("t", 5000), Group: strings.Repeat("g", 5000)}
			sig.Alarm = fmt.Sprintf("alarm-%02d", i)
			if i == 0 {
				sig.Diagnosis = &classify.Diagnosis{Cause: classify.Unknown}
				for j := range 8 {
					sig.Diagnosis.Evidence = append(sig.Diagnosis.Evidence, classify.Evidence{Field: fmt.Sprint(j), Value: long})
				}
			}
			id = mustApply(t, m, sig).Incident.ID
		}
		got := mustGet(t, st, id)
		o := got.Occurrences
		if o.Count != 30 || len(o.Tasks) != incident.MaxSampleTasks || o.Tasks[9] != fmt.Sprintf("%032d", 29) || o.Tasks[0] != fmt.Sprintf("%032d", 20) {
			t.Fatalf("tasks: count %d, %d kept (%v)", o.Count, len(o.Tasks), o.Tasks)
		}
		if len(o.Evidence) != incident.MaxSampleEvidence || !strings.HasPrefix(o.Evidence[0], "reason 00") || len(o.Evidence[0]) > incident.MaxText {
			t.Fatalf("evidence: %d kept, first %q…", len(o.Evidence), o.Evidence[0][:12])
		}
		if len(o.TaskDefinitions) != incident.MaxSampleEvidence || !strings.HasSuffix(o.TaskDefinitions[0], ":0") {
			t.Fatalf("task definitions: %v", o.TaskDefinitions)
		}
		if len(got.Alarms) != incident.MaxAlarms || incident.MaxAlarms != 20 {
			t.Fatalf("%d alarms kept", len(got.Alarms))
		}
		if len(got.Facts.StoppedReason) > incident.MaxText || len(got.Facts.Reason) > incident.MaxText || len(got.Facts.TaskArn) > 2048 || len(got.Facts.Group) > 512 {
			t.Fatalf("facts not bounded: %d %d %d %d", len(got.Facts.StoppedReason), len(got.Facts.Reason), len(got.Facts.TaskArn), len(got.Facts.Group))
		}
		if d := got.Diagnosis; d == nil || len(d.Evidence) != incident.MaxSampleEvidence || len(d.Evidence[0].Value) > incident.MaxText {
			t.Fatalf("diagnosis evidence not bounded: %+v", d)
		}
		// Distinct evidence only, first seen first.
		m2, st2, clk2 := setup(t)
		for i := range 3 {
			sig := at(clk2, classify.OOMKilled, i, severity.P3)
			sig.Evidence = "the same text"
			id = mustApply(t, m2, sig).Incident.ID
		}
		if ev := mustGet(t, st2, id).Occurrences.Evidence; len(ev) != 1 {
			t.Fatalf("repeated evidence kept %d times", len(ev))
		}
		// Log lines: the newest MaxLogLines, each at most MaxLogLine bytes.
		var lines []string
		for i := range 80 {
			lines = append(lines, fmt.Sprintf("line %02d %s", i, strings.Repeat("l", 1000)))
		}
		inc, err := m2.AttachLogs(ctx, id, strings.Repeat("g", 2000), strings.Repeat("s", 2000), lines, long)
		if err != nil {
			t.Fatal(err)
		}
		if len(inc.LogLines) != incident.MaxLogLines || incident.MaxLogLines != 50 || !strings.HasPrefix(inc.LogLines[0], "line 30") || len(inc.LogLines[49]) > incident.MaxLogLine {
			t.Fatalf("log lines: %d kept, first %q", len(inc.LogLines), inc.LogLines[0][:8])
		}
		if len(inc.LogError) > incident.MaxText || len(inc.Facts.LogGroup) > 512 || len(inc.Facts.LogStream) > 512 {
			t.Fatalf("log facts not bounded")
		}
	})

	t.Run("an alarm incident resolves when its last alarm returns to OK", func(t *testing.T) {
		m, st, clk := setup(t)
		fail := func(alarm string) incident.Outcome {
			return mustApply(t, m, incident.Signal{Kind: incident.Failure, EventID: "a-" + alarm, Time: clk.Now(), Scope: Scope, Cause: classify.Alarm,
				Alarm: alarm, Marks: []string{"evt#a-" + alarm}, Severity: severity.P2})
		}
		ok := func(alarm, ev string) incident.Outcome {
			return mustApply(t, m, incident.Signal{Kind: incident.Recover, EventID: ev, Scope: Scope, Cause: classify.Alarm,
				Alarm: alarm, Marks: []string{"evt#" + ev}, Message: alarm + " OK"})
		}
		id := fail("cpu-high").Incident.ID
		fail("mem-high")
		if out := ok("other", "ok-0"); out.Resolved || out.Incident != nil {
			t.Fatalf("another alarm's OK: %+v", out)
		}
		if out := ok("cpu-high", "ok-1"); out.Resolved {
			t.Fatal("resolved while mem-high is still in ALARM")
		}
		if got := mustGet(t, st, id); got.State != incident.Open || len(got.Alarms) != 1 || got.Alarms[0] != "mem-high" {
			t.Fatalf("after one OK: %s %v", got.State, got.Alarms)
		}
		if out := ok("cpu-high", "ok-2"); out.Resolved {
			t.Fatal("the same alarm's OK twice resolved it")
		}
		if out := ok("mem-high", "ok-3"); !out.Resolved || out.Incident.ID != id {
			t.Fatalf("last alarm OK: %+v", out)
		}
		// A recovery of another cause resolves nothing.
		id2 := mustApply(t, m, at(clk, classify.OOMKilled, 5, severity.P3)).Incident.ID
		if out := mustApply(t, m, incident.Signal{Kind: incident.Recover, EventID: "r9", Scope: Scope, Cause: classify.Alarm, Marks: []string{"evt#r9"}}); out.Resolved {
			t.Fatal("an alarm OK resolved an OOM incident")
		}
		if got := mustGet(t, st, id2); got.State != incident.Open {
			t.Fatalf("state %s", got.State)
		}
	})

	t.Run("a service whose state was unknown takes its real severity once, upward only", func(t *testing.T) {
		m, st, clk := setup(t)
		sig := at(clk, classify.OOMKilled, 1, severity.P3)
		sig.State, sig.StateError = nil, "AccessDenied: no role for 111122223333"
		id := mustApply(t, m, sig).Incident.ID
		if got := mustGet(t, st, id); got.StateError == "" || got.ServiceState != nil {
			t.Fatalf("state error not kept: %+v", got)
		}
		clk.Advance(time.Minute)
		inc, raised, err := m.StateKnown(ctx, id, &servicestate.Snapshot{Desired: 4, Running: 0})
		if err != nil || !raised || inc.Severity != severity.P1 || inc.StateError != "" || !inc.SLADeadline.Equal(clk.Now().Add(15*time.Minute)) {
			t.Fatalf("state known: %v %+v %v", raised, inc, err)
		}
		// Known now: a second reading changes nothing here.
		if _, raised, _ := m.StateKnown(ctx, id, &servicestate.Snapshot{Desired: 4, Running: 4}); raised {
			t.Fatal("raised twice")
		}
		if got := mustGet(t, st, id); got.Severity != severity.P1 {
			t.Fatalf("severity fell to %s", got.Severity)
		}
		// A healthy state raises nothing, and is recorded.
		sig2 := at(clk, classify.ImagePull, 2, severity.P3)
		sig2.State, sig2.StateError = nil, "throttled"
		id2 := mustApply(t, m, sig2).Incident.ID
		inc, raised, err = m.StateKnown(ctx, id2, &servicestate.Snapshot{Desired: 4, Running: 3})
		if err != nil || raised || inc.Severity != severity.P3 || countKind(inc, "state") != 1 {
			t.Fatalf("healthy state: %v %+v %v", raised, inc, err)
		}
		// An incident with a known state is left alone.
		id3 := mustApply(t, m, at(clk, classify.HealthCheck, 3, severity.P3)).Incident.ID
		if _, raised, _ := m.StateKnown(ctx, id3, &servicestate.Snapshot{Desired: 4, Running: 0}); raised {
			t.Fatal("StateKnown raised an incident whose state was known")
		}
		// An alarm incident keeps its runbook's severity.
		alarm := incident.Signal{Kind: incident.Failure, EventID: "al", Time: clk.Now(), Scope: Scope, Cause: classify.Alarm, Alarm: "x",
			Marks: []string{"evt#al"}, Severity: severity.P3, StateError: "no role"}
		id4 := mustApply(t, m, alarm).Incident.ID
		if inc, raised, _ := m.StateKnown(ctx, id4, &servicestate.Snapshot{Desired: 4, Running: 0}); raised || inc.Severity != severity.P3 {
			t.Fatalf("alarm incident raised: %s", inc.Severity)
		}
	})
}
