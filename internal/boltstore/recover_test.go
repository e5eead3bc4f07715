package boltstore_test

import (
	"context"
	"encoding/binary"
	"fmt"
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

// frameEnds returns where each record of a log segment ends (a frame is a 16-byte header, length,
// CRC-32C and sequence number, then the record); a zero length ends the segment.
func frameEnds(t *testing.T, raw []byte) []int {
	t.Helper()
	var ends []int
	for off := 0; off+4 <= len(raw); {
		n := int(binary.BigEndian.Uint32(raw[off:]))
		if n == 0 {
			break
		}
		off += 16 + n
		ends = append(ends, off)
	}
	return ends
}

// killedStore applies events 0..n-1 of one OOM incident to a store that never folds, and returns
// the files a process killed at that moment leaves behind, and the incident's id.
func killedStore(t *testing.T, n int, opts ...boltstore.Option) (path, id string) {
	t.Helper()
	ctx := context.Background()
	live := filepath.Join(t.TempDir(), "medic.db")
	clk := &incidenttest.Clock{T: time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)}
	st, err := boltstore.Open(live, append([]boltstore.Option{boltstore.WithClock(clk.Now), boltstore.WithFoldInterval(time.Hour), boltstore.WithSegmentSize(64 << 10)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	m := incident.NewManager(st, incident.WithClock(clk.Now))
	for i := range n {
		out, err := m.Apply(ctx, incidenttest.Failure(classify.OOMKilled, i, severity.P2))
		if err != nil {
			t.Fatal(err)
		}
		id = out.Incident.ID
	}
	if st.Commits() != 0 {
		t.Fatalf("%d folds: the test wants everything still in the log", st.Commits())
	}
	return copyFiles(t, live, t.TempDir()), id
}

// occurrencesAfterOpen opens the store at path read-only (replaying its log, as every open does,
// without the fsyncs of folding it) and returns how many occurrences its incident holds, 0 when
// the incident is unknown.
func occurrencesAfterOpen(t *testing.T, path, id string) int {
	t.Helper()
	st, err := boltstore.OpenReadOnly(path)
	if err != nil {
		t.Fatalf("open after the kill: %v", err)
	}
	defer st.Close()
	inc, err := st.Get(context.Background(), id)
	if err != nil {
		return 0
	}
	if inc.Version != int64(inc.Occurrences.Count) {
		t.Fatalf("version %d with %d occurrences: a record applied twice or skipped", inc.Version, inc.Occurrences.Count)
	}
	return inc.Occurrences.Count
}

// A kill can leave the log's last record torn anywhere: cut short (the file ends), or followed by
// whatever bytes the mapping held. Opening the store never fails nor panics on it, and keeps every
// record before the torn one: each was whole in the operating system when Update returned.
func TestTornTailKeepsEveryWholeRecord(t *testing.T) {
	const events = 6
	path, id := killedStore(t, events)
	segs, _ := filepath.Glob(path + ".log.*")
	if len(segs) != 1 {
		t.Fatalf("segments: %v", segs)
	}
	pristine, err := os.ReadFile(segs[0])
	if err != nil {
		t.Fatal(err)
	}
	ends := frameEnds(t, pristine)
	if len(ends) != events {
		t.Fatalf("%d records for %d events", len(ends), events)
	}
	starts := append([]int{0}, ends[:len(ends)-1]...)
	for i, start := range starts {
		// Cut inside record i's header, right after it, inside its record, one byte short.
		for _, cut := range []int{start + 1, start + 8, start + 16, (start + ends[i]) / 2, ends[i] - 1} {
			for _, tail := range []string{"cut", "garbage", "zeros", "bad crc"} {
				t.Run(fmt.Sprintf("record %d at %d %s", i, cut-start, tail), func(t *testing.T) {
					dir := t.TempDir()
					p := copyFiles(t, path, dir)
					seg := filepath.Join(dir, filepath.Base(segs[0]))
					raw := append([]byte(nil), pristine...)
					switch tail {
					case "cut":
						raw = raw[:cut]
					case "garbage":
						for j := cut; j < len(raw); j++ {
							raw[j] = 0xff
						}
					case "zeros":
						clear(raw[cut:])
					case "bad crc":
						// The whole record is there but one byte of it changed.
						raw[cut] ^= 0x20
					}
					if err := os.WriteFile(seg, raw, 0o600); err != nil {
						t.Fatal(err)
					}
					if got := occurrencesAfterOpen(t, p, id); got != i {
						t.Fatalf("%d occurrences after tearing record %d, want the %d before it", got, i, i)
					}
				})
			}
		}
	}
	// Untouched, every record is replayed.
	if got := occurrencesAfterOpen(t, copyFiles(t, path, t.TempDir()), id); got != events {
		t.Fatalf("%d occurrences from the whole log, want %d", got, events)
	}
}

// Records that do not fit in a segment start the next one, one larger than a segment included;
// a kill then leaves several segments, and opening replays them all, in order.
func TestReplayAcrossSegments(t *testing.T) {
	const events, size = 40, 1024
	path, id := killedStore(t, events, boltstore.WithSegmentSize(size))
	segs, _ := filepath.Glob(path + ".log.*")
	if len(segs) < 3 {
		t.Fatalf("%d segments, the test wants several", len(segs))
	}
	total, larger := 0, 0
	for _, s := range segs {
		raw, err := os.ReadFile(s)
		if err != nil {
			t.Fatal(err)
		}
		ends := frameEnds(t, raw)
		if len(ends) == 0 || ends[len(ends)-1]+4 > len(raw) {
			t.Fatalf("segment %s: records end at %v of %d bytes: no room for the zero length", filepath.Base(s), ends, len(raw))
		}
		total += len(ends)
		if ends[0] > size {
			larger++
		}
	}
	if larger == 0 {
		t.Fatal("no record larger than a segment: the test wants one")
	}
	if total != events {
		t.Fatalf("%d records in the segments for %d events", total, events)
	}
	if got := occurrencesAfterOpen(t, path, id); got != events {
		t.Fatalf("%d occurrences after replaying %d segments, want %d", got, len(segs), events)
	}
	// Opened to write, the replayed segments are folded into bbolt and removed.
	st, err := boltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if left, _ := filepath.Glob(path + ".log.*"); len(left) != 1 {
		t.Fatalf("segments after the replay was folded: %v", left)
	}
	if inc, err := st.Get(context.Background(), id); err != nil || inc.Occurrences.Count != events {
		t.Fatalf("after the fold of the replay: %+v %v", inc, err)
	}
}

// A kill between a fold's commit and the removal of the segments it covered leaves records that
// bbolt already holds: opening skips them (they are older than what bbolt says it folded) and
// replays only the newer ones. Here the leftover records count occurrences of an incident that
// has since resolved (and been folded): replayed, they would be changes of an incident no longer
// active.
func TestKilledDuringFoldReplaysOnlyTheRest(t *testing.T) {
	ctx := context.Background()
	live := filepath.Join(t.TempDir(), "medic.db")
	clk := &incidenttest.Clock{T: time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)}
	st, err := boltstore.Open(live, boltstore.WithClock(clk.Now), boltstore.WithFoldInterval(time.Hour), boltstore.WithSegmentSize(64<<10))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	m := incident.NewManager(st, incident.WithClock(clk.Now))
	fold := func() {
		t.Helper()
		if err := st.Fold(); err != nil {
			t.Fatal(err)
		}
	}
	var id string
	for i := range 5 {
		out, err := m.Apply(ctx, incidenttest.Failure(classify.OOMKilled, i, severity.P2))
		if err != nil {
			t.Fatal(err)
		}
		id = out.Incident.ID
		if i == 0 {
			fold() // the record that opened the incident is folded and its segment gone
		}
	}
	leftover := t.TempDir()
	copyFiles(t, live, leftover) // the occurrences' segment, as it was before the next fold
	fold()
	if _, _, err := m.Resolve(ctx, id, "alice", "fixed"); err != nil {
		t.Fatal(err)
	}
	fold()
	dir := t.TempDir()
	p := copyFiles(t, live, dir)
	old, _ := filepath.Glob(filepath.Join(leftover, "medic.db.log.*"))
	if len(old) != 1 {
		t.Fatalf("leftover segments: %v", old)
	}
	raw, err := os.ReadFile(old[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(frameEnds(t, raw)) != 4 {
		t.Fatalf("the leftover segment holds %d records, want the 4 occurrences", len(frameEnds(t, raw)))
	}
	if err := os.WriteFile(filepath.Join(dir, filepath.Base(old[0])), raw, 0o600); err != nil {
		t.Fatal(err)
	}
	again, err := boltstore.Open(p, boltstore.WithClock(clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	inc, err := again.Get(ctx, id)
	if err != nil || inc.State != incident.Resolved || inc.Occurrences.Count != 5 {
		t.Fatalf("after the kill during the fold: %+v %v", inc, err)
	}
	if active, err := again.List(ctx, incident.Filter{Active: true}); err != nil || len(active) != 0 {
		t.Fatalf("active after the kill during the fold: %d %v", len(active), err)
	}
	// The marks of the folded events are still there.
	m2 := incident.NewManager(again, incident.WithClock(clk.Now))
	if out, err := m2.Apply(ctx, incidenttest.Failure(classify.OOMKilled, 2, severity.P2)); err != nil || !out.Duplicate {
		t.Fatalf("redelivery after the kill during the fold: %+v %v", out, err)
	}
}

// foldingStore opens a store on an injected clock that folds only when the test says so, and its
// manager.
func foldingStore(t *testing.T) (*boltstore.Store, *incident.Manager, *incidenttest.Clock) {
	t.Helper()
	clk := &incidenttest.Clock{T: time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)}
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "medic.db"), boltstore.WithClock(clk.Now), boltstore.WithFoldInterval(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st, incident.NewManager(st, incident.WithClock(clk.Now)), clk
}

// Marks a fold wrote into bbolt keep their exact TTL too: a duplicate 1 s before it, a new event
// at it (the contract suite's marks are usually still in memory, not yet folded).
func TestFoldedMarksLastExactlyTheirTTL(t *testing.T) {
	ctx := context.Background()
	st, m, clk := foldingStore(t)
	sig := incidenttest.Failure(classify.OOMKilled, 1, severity.P2)
	if _, err := m.Apply(ctx, sig); err != nil {
		t.Fatal(err)
	}
	if err := st.Fold(); err != nil {
		t.Fatal(err)
	}
	clk.Advance(boltstore.DefaultMarkTTL - time.Second)
	if out, err := m.Apply(ctx, sig); err != nil || !out.Duplicate {
		t.Fatalf("1 s before the TTL: %+v %v", out, err)
	}
	if err := st.Fold(); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second)
	if out, err := m.Apply(ctx, sig); err != nil || out.Duplicate || out.Incident.Occurrences.Count != 2 {
		t.Fatalf("at the TTL: %+v %v", out, err)
	}
}

// Writes counts the Update and Modify calls that wrote a record: one per event applied, and one
// for a duplicate (counted on its incident), none for a refused write (medic-load reports it).
func TestWritesCountsRecords(t *testing.T) {
	ctx := context.Background()
	st, m, _ := foldingStore(t)
	for i := range 3 {
		if _, err := m.Apply(ctx, incidenttest.Failure(classify.OOMKilled, i, severity.P2)); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := m.Apply(ctx, incidenttest.Failure(classify.OOMKilled, 1, severity.P2)); err != nil || !out.Duplicate {
		t.Fatalf("redelivery: %+v %v", out, err)
	}
	if got := st.Writes(); got != 4 {
		t.Fatalf("Writes() = %d after 3 events and a duplicate, want 4", got)
	}
}
