package boltstore_test

import (
	"context"
	"encoding/binary"
	"os"
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

// copyFiles copies the store file and its log segments, as they are on disk at this moment, to
// dir: what a process killed now leaves behind.
func copyFiles(t *testing.T, path, dir string) string {
	t.Helper()
	names, _ := filepath.Glob(path + "*")
	for _, n := range names {
		raw, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(n)), raw, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, filepath.Base(path))
}

// Every acknowledged change is in the log before Update returns: a process killed before any
// fold loses nothing, redeliveries are still recognised, and a record torn by the kill (never
// acknowledged) is skipped.
func TestKilledBeforeFoldLosesNothing(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "medic.db")
	clk := &incidenttest.Clock{T: time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)}
	st, err := boltstore.Open(path, boltstore.WithClock(clk.Now), boltstore.WithFoldInterval(time.Hour), boltstore.WithSegmentSize(1<<20))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	m := incident.NewManager(st, incident.WithClock(clk.Now))
	var oom *incident.Incident
	for i := range 50 {
		out, err := m.Apply(ctx, incidenttest.Failure(classify.OOMKilled, i, severity.P2))
		if err != nil {
			t.Fatal(err)
		}
		oom = out.Incident
	}
	crash, err := m.Apply(ctx, incidenttest.Failure(classify.EssentialExit, 1000, severity.P2))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.Resolve(ctx, crash.Incident.ID, "alice", "fixed"); err != nil {
		t.Fatal(err)
	}
	if st.Commits() != 0 {
		t.Fatalf("%d folds: the test wants everything still in the log", st.Commits())
	}

	dir := t.TempDir()
	killed := copyFiles(t, path, dir)
	segs, _ := filepath.Glob(killed + ".log.*")
	if len(segs) != 1 {
		t.Fatalf("log segments left: %v", segs)
	}
	// The kill tore the record being written: a length and half a record after the last one.
	raw, err := os.ReadFile(segs[0])
	if err != nil {
		t.Fatal(err)
	}
	end := 0
	for n := binary.BigEndian.Uint32(raw[end:]); n != 0; n = binary.BigEndian.Uint32(raw[end:]) {
		end += 16 + int(n)
	}
	copy(raw[end:], []byte{0, 0, 1, 0, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 99, '{', '"'})
	if err := os.WriteFile(segs[0], raw, 0o600); err != nil {
		t.Fatal(err)
	}

	again, err := boltstore.Open(killed, boltstore.WithClock(clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	got, err := again.Get(ctx, oom.ID)
	if err != nil || got.Occurrences.Count != 50 || got.Version != oom.Version {
		t.Fatalf("after the kill: %+v %v", got, err)
	}
	if got, err := again.Get(ctx, crash.Incident.ID); err != nil || got.State != incident.Resolved {
		t.Fatalf("resolved incident after the kill: %+v %v", got, err)
	}
	m2 := incident.NewManager(again, incident.WithClock(clk.Now))
	if out, err := m2.Apply(ctx, incidenttest.Failure(classify.OOMKilled, 7, severity.P2)); err != nil || !out.Duplicate {
		t.Fatalf("redelivery after the kill: %+v %v", out, err)
	}
	out, err := m2.Apply(ctx, incidenttest.Failure(classify.OOMKilled, 50, severity.P2))
	if err != nil || out.Incident == nil || out.Opened || out.Incident.ID != oom.ID || out.Incident.Occurrences.Count != 51 {
		t.Fatalf("next event after the kill: %+v %v", out, err)
	}
	// The replayed log was folded into bbolt at open and its segment removed.
	if segs, _ := filepath.Glob(killed + ".log.*"); len(segs) != 1 {
		t.Fatalf("segments after reopening: %v", segs)
	}
	// A read-only open (medic report) sees the log too.
	if err := again.Close(); err != nil {
		t.Fatal(err)
	}
	ro, err := boltstore.OpenReadOnly(copyFiles(t, path, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	list, err := ro.List(ctx, incident.Filter{})
	if err != nil || len(list) != 2 || list[0].Occurrences.Count+list[1].Occurrences.Count != 51 {
		t.Fatalf("read-only list of a killed store: %d %v", len(list), err)
	}
}
