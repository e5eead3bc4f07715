package boltstore_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/ecs-medic/ecs-medic/internal/boltstore"
	"github.com/ecs-medic/ecs-medic/internal/classify"
	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/incident/incidenttest"
	"github.com/ecs-medic/ecs-medic/internal/severity"
)

func open(t *testing.T, path string, clock func() time.Time) *boltstore.Store {
	t.Helper()
	st, err := boltstore.Open(path, boltstore.WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestContract(t *testing.T) {
	incidenttest.Run(t, func(t *testing.T, clock func() time.Time) incident.Store {
		st := open(t, filepath.Join(t.TempDir(), "medic.db"), clock)
		t.Cleanup(func() { _ = st.Close() })
		return st
	})
}

func TestSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "medic.db")
	clk := &incidenttest.Clock{T: time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)}
	st := open(t, path, clk.Now)
	m := incident.NewManager(st, incident.WithClock(clk.Now))
	sig := incidenttest.Failure(classify.OOMKilled, 1, severity.P2)
	first, err := m.Apply(ctx, sig)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	st = open(t, path, clk.Now)
	defer st.Close()
	m = incident.NewManager(st, incident.WithClock(clk.Now))
	inc, err := st.Get(ctx, first.Incident.ID)
	if err != nil || inc.Severity != severity.P2 || inc.Occurrences.Count != 1 {
		t.Fatalf("after restart: %+v %v", inc, err)
	}
	// The idempotency marks survived too.
	if out, err := m.Apply(ctx, sig); err != nil || !out.Duplicate {
		t.Fatalf("redelivery after restart: %+v %v", out, err)
	}
}

func TestSweep(t *testing.T) {
	ctx := context.Background()
	clk := &incidenttest.Clock{T: time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)}
	st := open(t, filepath.Join(t.TempDir(), "medic.db"), clk.Now)
	defer st.Close()
	m := incident.NewManager(st, incident.WithClock(clk.Now))
	out, _ := m.Apply(ctx, incidenttest.Failure(classify.OOMKilled, 1, severity.P3))
	if _, _, err := m.Resolve(ctx, out.Incident.ID, "test", ""); err != nil {
		t.Fatal(err)
	}
	clk.Advance(31 * 24 * time.Hour)
	n, err := st.Sweep(30 * 24 * time.Hour)
	if err != nil || n != 3 { // two marks and one incident
		t.Fatalf("swept %d, %v", n, err)
	}
	if _, err := st.Get(ctx, out.Incident.ID); err == nil {
		t.Fatal("old resolved incident survived the sweep")
	}
}

// The unknown reason texts are read back from the stored incidents, also after a restart and
// after their incidents resolved: the durable list the corpus grows from.
func TestUnknownTexts(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "medic.db")
	clk := &incidenttest.Clock{T: time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)}
	st := open(t, path, clk.Now)
	m := incident.NewManager(st, incident.WithClock(clk.Now))
	texts := []string{"Task stopped for a reason nobody has seen", "Another new reason", "Task stopped for a reason nobody has seen"}
	for i, text := range texts {
		sig := incidenttest.Failure(classify.Unknown, i, severity.P3)
		sig.Evidence = text
		if i == 1 {
			sig.Scope.Service = "billing"
		}
		if _, err := m.Apply(ctx, sig); err != nil {
			t.Fatal(err)
		}
	}
	out, err := m.Apply(ctx, incidenttest.Failure(classify.OOMKilled, 9, severity.P3))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.Resolve(ctx, out.Incident.ID, "test", ""); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	st = open(t, path, clk.Now)
	defer st.Close()
	got, err := incident.NewManager(st).UnknownTexts(ctx, 100, 10)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"Task stopped for a reason nobody has seen": "prod/checkout", "Another new reason": "prod/billing"}
	if len(got) != len(want) {
		t.Fatalf("got %d texts, want %d: %+v", len(got), len(want), got)
	}
	for _, u := range got {
		if len(u.Scopes) != 1 || u.Scopes[0] != want[u.Text] || len(u.Incidents) != 1 || u.LastSeen.IsZero() {
			t.Errorf("%+v", u)
		}
	}
	if got, _ := incident.NewManager(st).UnknownTexts(ctx, 100, 1); len(got) != 1 {
		t.Errorf("limit 1 gave %d texts", len(got))
	}
}
