package boltstore

import (
	"context"
	"errors"
	"math/bits"
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

// Each mark sets markFilterHashes bits: more would fill the filter sooner, fewer would let more
// false positives through.
func TestMarkFilterSetsItsHashesBits(t *testing.T) {
	f := newMarkFilter(markFilterBits)
	f.add("evt#one")
	set := 0
	for i := range f.words {
		set += bits.OnesCount64(f.words[i].Load())
	}
	// Two of the 4 positions landing on one bit of 2^23 is about a 1e-6 chance.
	if set != markFilterHashes {
		t.Fatalf("%d bits set for one mark, want %d", set, markFilterHashes)
	}
}

// A mark that expires now is not held: it never holds again.
func TestBuildMarkFilterLeavesExpiredOut(t *testing.T) {
	now := time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC)
	st, err := Open(filepath.Join(t.TempDir(), "medic.db"), WithClock(func() time.Time { return now }), WithFoldInterval(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	scope := incident.Scope{Account: "1", Region: "eu-west-1", Cluster: "prod", Service: "api"}
	if err := st.Update(context.Background(), scope, []string{"evt#x"}, func([]*incident.Incident) ([]*incident.Incident, error) { return nil, nil }); err != nil {
		t.Fatal(err)
	}
	if err := st.Fold(); err != nil {
		t.Fatal(err)
	}
	exp := now.Add(DefaultMarkTTL).Unix()
	for _, c := range []struct {
		at   int64
		held bool
	}{{exp - 1, true}, {exp, false}, {exp + 1, false}} {
		f, err := buildMarkFilter(st.db, markFilterBits, c.at)
		if err != nil {
			t.Fatal(err)
		}
		if f.mayHold("evt#x") != c.held {
			t.Errorf("at expiry%+d: held %v, want %v", c.at-exp, !c.held, c.held)
		}
	}
}
