package boltstore

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/ecs-medic/ecs-medic/internal/incident"
)

func TestMarkFilter(t *testing.T) {
	f := newMarkFilter(markFilterBits)
	for i := range 1000 {
		f.add("evt#" + strconv.Itoa(i))
	}
	for i := range 1000 {
		if !f.mayHold("evt#" + strconv.Itoa(i)) {
			t.Fatalf("evt#%d added, not held", i)
		}
	}
	// 4 bits per mark of 2^23: a false positive among these is about 1e-13 likely.
	for i := range 100000 {
		if mk := "task#" + strconv.Itoa(i); f.mayHold(mk) {
			t.Fatalf("%s never added, held", mk)
		}
	}
	if newMarkFilter(64).mayHold("anything") {
		t.Fatal("an empty filter holds a mark")
	}
	// Full: everything may be there, which costs reads, never a missed mark.
	small := newMarkFilter(64)
	for i := range 200 {
		small.add(strconv.Itoa(i))
	}
	if !small.mayHold("never added") {
		t.Fatal("a saturated filter said no")
	}
}

// TestMarksOnDisk: a folded mark is recognised through bbolt, also after a reopen; a new mark
// costs no bbolt read; a sweep forgets expired marks, filter included.
func TestMarksOnDisk(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	path := filepath.Join(t.TempDir(), "medic.db")
	open := func() *Store {
		st, err := Open(path, WithClock(clock), WithFoldInterval(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	scope := incident.Scope{Account: "1", Region: "eu-west-1", Cluster: "prod", Service: "api"}
	nothing := func([]*incident.Incident) ([]*incident.Incident, error) { return nil, nil }
	seen := func(st *Store, mk string) bool {
		t.Helper()
		err := st.Update(ctx, scope, []string{mk}, nothing)
		if err != nil && !errors.Is(err, incident.ErrDuplicate) {
			t.Fatal(err)
		}
		return err != nil
	}
	st := open()
	if seen(st, "evt#a") || seen(st, "evt#b") {
		t.Fatal("a first delivery was a duplicate")
	}
	if err := st.Fold(); err != nil {
		t.Fatal(err)
	}
	reads := st.diskReads.Load()
	if !seen(st, "evt#a") {
		t.Fatal("a folded mark was not recognised")
	}
	if st.diskReads.Load() != reads+1 {
		t.Fatalf("%d bbolt reads for a folded mark, want 1", st.diskReads.Load()-reads)
	}
	for i := range 100 {
		if seen(st, "evt#new-"+strconv.Itoa(i)) {
			t.Fatal("a new mark was a duplicate")
		}
	}
	if st.diskReads.Load() != reads+1 {
		t.Fatalf("%d bbolt reads for 100 new marks, want none", st.diskReads.Load()-reads-1)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	st = open()
	for _, mk := range []string{"evt#a", "evt#b", "evt#new-99"} {
		if !seen(st, mk) {
			t.Fatalf("%s not recognised after a reopen", mk)
		}
	}
	if st.diskReads.Load() != 3 {
		t.Fatalf("%d bbolt reads after the reopen, want 3", st.diskReads.Load())
	}
	if err := st.Fold(); err != nil {
		t.Fatal(err)
	}
	now = now.Add(DefaultMarkTTL + time.Hour) // every mark expired
	if _, err := st.Sweep(time.Hour); err != nil {
		t.Fatal(err)
	}
	reads = st.diskReads.Load()
	if seen(st, "evt#a") {
		t.Fatal("an expired mark was a duplicate")
	}
	if st.diskReads.Load() != reads {
		t.Fatal("an expired and swept mark was read from bbolt: the sweep left it in the filter")
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
}
