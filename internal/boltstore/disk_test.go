package boltstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ecs-medic/ecs-medic/internal/boltstore"
	"github.com/ecs-medic/ecs-medic/internal/classify"
	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/incident/incidenttest"
	"github.com/ecs-medic/ecs-medic/internal/servicestate"
	"github.com/ecs-medic/ecs-medic/internal/severity"
)

// t0 is when the tests below start.
var t0 = time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)

// openManual opens a store at path that folds only when the test says so (or at Close).
func openManual(t *testing.T, path string, clk *incidenttest.Clock, opts ...boltstore.Option) *boltstore.Store {
	t.Helper()
	st, err := boltstore.Open(path, append([]boltstore.Option{boltstore.WithClock(clk.Now), boltstore.WithFoldInterval(time.Hour)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func scopeOf(cluster, service string) incident.Scope {
	return incident.Scope{Account: "111122223333", Region: "us-east-1", Cluster: cluster, Service: service}
}

func newIncident(id string, scope incident.Scope, cause classify.Cause, opened time.Time) *incident.Incident {
	return &incident.Incident{ID: id, Scope: scope, Cause: cause, Title: "incident " + id, Severity: severity.P2,
		State: incident.Open, OpenedAt: opened, UpdatedAt: opened,
		Occurrences: incident.Occurrences{Count: 1, FirstSeen: opened, LastSeen: opened}}
}

// create stores inc, new, through Update with the given marks.
func create(t *testing.T, st incident.Store, inc *incident.Incident, marks ...string) {
	t.Helper()
	err := st.Update(context.Background(), inc.Scope, marks, func([]*incident.Incident) ([]*incident.Incident, error) {
		return []*incident.Incident{inc.Clone()}, nil
	})
	if err != nil {
		t.Fatalf("create %s: %v", inc.ID, err)
	}
}

// change applies fn to the live incident id through Update (the path of events) and returns
// the stored result.
func change(t *testing.T, st incident.Store, scope incident.Scope, id string, fn func(*incident.Incident)) *incident.Incident {
	t.Helper()
	found := false
	err := st.Update(context.Background(), scope, nil, func(active []*incident.Incident) ([]*incident.Incident, error) {
		for _, inc := range active {
			if inc.ID == id {
				found = true
				fn(inc)
				return []*incident.Incident{inc}, nil
			}
		}
		return nil, nil
	})
	if err != nil || !found {
		t.Fatalf("change %s: found %v, %v", id, found, err)
	}
	inc, err := st.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return inc
}

func resolve(at time.Time) func(*incident.Incident) {
	return func(inc *incident.Incident) { inc.State, inc.ResolvedAt, inc.UpdatedAt = incident.Resolved, &at, at }
}

// remark records marks alone (an event that changed no incident).
func remark(st incident.Store, scope incident.Scope, marks ...string) error {
	return st.Update(context.Background(), scope, marks, func([]*incident.Incident) ([]*incident.Incident, error) { return nil, nil })
}

func logSegments(t *testing.T, path string) []string {
	t.Helper()
	segs, err := filepath.Glob(path + ".log.*")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(segs)
	return segs
}

func ids(incs []*incident.Incident) []string {
	out := make([]string, len(incs))
	for i, inc := range incs {
		out[i] = inc.ID
	}
	return out
}

// listModel keeps the last version of every incident written, to say what a listing must hold.
type listModel map[string]*incident.Incident

func (m listModel) want(f incident.Filter) []string {
	var out []string
	for _, inc := range m {
		if f.Match(inc) {
			out = append(out, inc.ID)
		}
	}
	slices.Sort(out)
	slices.Reverse(out)
	return out
}

// checkListing lists every filter, page by page with Before and Limit, and compares what each
// page holds (ids and the versions of their incidents) with the model.
func checkListing(t *testing.T, stage string, st incident.Store, model listModel) {
	t.Helper()
	ctx := context.Background()
	since := t0.Add(5 * time.Minute)
	filters := []incident.Filter{
		{}, {Active: true}, {State: incident.Open}, {State: incident.Acknowledged}, {State: incident.Resolved},
		{Cluster: "prod"}, {Cluster: "staging", Active: true}, {Service: "svc-03"}, {Account: "111122223333"},
		{Account: "999999999999"}, {Since: since}, {Since: since, State: incident.Resolved}, {Since: since, Active: true},
	}
	all := model.want(incident.Filter{})
	// Cursors: every id, one between two ids, one after every id (the newest incident may be
	// one not yet folded), one before every id.
	befores := append([]string{"inc-0055", "inc-999", "inc-000"}, all...)
	for _, f := range filters {
		for _, limit := range []int{1, 2, 3, 5, 0} {
			for _, before := range append([]string{""}, befores...) {
				f := f
				f.Limit, f.Before = limit, before
				want := model.want(f)
				if max := f.Max(); len(want) > max {
					want = want[:max]
				}
				got, err := st.List(ctx, f)
				if err != nil {
					t.Fatalf("%s: List(%+v): %v", stage, f, err)
				}
				if !slices.Equal(ids(got), want) {
					t.Fatalf("%s: List(%+v) = %v, want %v", stage, f, ids(got), want)
				}
				for _, inc := range got {
					if m := model[inc.ID]; inc.Version != m.Version || inc.State != m.State {
						t.Fatalf("%s: List(%+v): %s at version %d %s, want %d %s", stage, f, inc.ID, inc.Version, inc.State, m.Version, m.State)
					}
				}
			}
			// Paging with the last id of each page as the next cursor walks the whole answer once.
			if limit == 0 {
				continue
			}
			var walked []string
			p := f
			p.Limit = limit
			for range len(all) + 2 {
				page, err := st.List(ctx, p)
				if err != nil {
					t.Fatal(err)
				}
				walked = append(walked, ids(page)...)
				if len(page) < limit {
					break
				}
				p.Before = page[len(page)-1].ID
			}
			if want := model.want(f); !slices.Equal(walked, want) {
				t.Fatalf("%s: pages of %d of %+v: %v, want %v", stage, limit, f, walked, want)
			}
		}
	}
}

// Listings are the same whether an incident is in bbolt, only in the log (changed since the last
// fold), or both with different versions: every filter, every page, every cursor, before a
// fold, between folds, after a restart (all read back from bbolt) and read-only.
func TestListingAcrossFoldsAndRestarts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "medic.db")
	clk := &incidenttest.Clock{T: t0}
	st := openManual(t, path, clk)
	model := listModel{}
	put := func(inc *incident.Incident) { model[inc.ID] = inc }
	scopes := make([]incident.Scope, 13)
	for i := 1; i <= 12; i++ {
		cluster := "prod"
		if i%3 == 0 {
			cluster = "staging"
		}
		scopes[i] = scopeOf(cluster, fmt.Sprintf("svc-%02d", i%5))
		inc := newIncident(fmt.Sprintf("inc-%03d", i), scopes[i], classify.OOMKilled, t0.Add(time.Duration(i)*time.Minute))
		// Each svc-N holds several incidents, each of its own cause.
		inc.Cause = classify.Cause(fmt.Sprintf("cause-%d", i))
		create(t, st, inc)
		got, err := st.Get(context.Background(), inc.ID)
		if err != nil {
			t.Fatal(err)
		}
		put(got)
		if i == 6 {
			checkListing(t, "in the log only", st, model)
			if err := st.Fold(); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Folded incidents changed since: resolved, acknowledged; newer ones resolved before any fold.
	put(change(t, st, scopes[2], "inc-002", resolve(t0.Add(time.Hour))))
	put(change(t, st, scopes[4], "inc-004", func(inc *incident.Incident) { inc.State = incident.Acknowledged }))
	put(change(t, st, scopes[9], "inc-009", resolve(t0.Add(time.Hour))))
	checkListing(t, "folded and in the log", st, model)
	if err := st.Fold(); err != nil {
		t.Fatal(err)
	}
	put(change(t, st, scopes[5], "inc-005", resolve(t0.Add(2*time.Hour))))
	put(change(t, st, scopes[12], "inc-012", func(inc *incident.Incident) { inc.State = incident.Acknowledged }))
	checkListing(t, "after two folds", st, model)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	st = openManual(t, path, clk)
	checkListing(t, "after a restart", st, model)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	ro, err := boltstore.OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	checkListing(t, "read-only", ro, model)
}

// A resolved incident leaves the active index when a fold writes it: after a restart it is not
// active, and its cause may open a new incident; changing it later (a note, in bbolt directly)
// moves its version on and leaves the new incident of its cause active.
func TestResolvedLeavesTheActiveIndex(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "medic.db")
	clk := &incidenttest.Clock{T: t0}
	scope := scopeOf("prod", "checkout")
	st := openManual(t, path, clk)
	create(t, st, newIncident("inc-a", scope, classify.OOMKilled, t0), "evt#a")
	if err := st.Fold(); err != nil {
		t.Fatal(err)
	}
	change(t, st, scope, "inc-a", resolve(t0.Add(time.Minute)))
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	st = openManual(t, path, clk)
	if active, err := st.List(ctx, incident.Filter{Active: true}); err != nil || len(active) != 0 {
		t.Fatalf("active after the restart: %v %v", ids(active), err)
	}
	create(t, st, newIncident("inc-b", scope, classify.OOMKilled, t0.Add(2*time.Minute)), "evt#b")
	if err := st.Fold(); err != nil {
		t.Fatal(err)
	}
	got, err := st.Modify(ctx, "inc-a", func(inc *incident.Incident) (bool, error) { inc.Title = "postmortem written"; return true, nil })
	if err != nil || got.Version != 3 || got.State != incident.Resolved {
		t.Fatalf("modify the resolved incident: %+v %v", got, err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	st = openManual(t, path, clk)
	defer st.Close()
	if a, err := st.Get(ctx, "inc-a"); err != nil || a.Version != 3 || a.Title != "postmortem written" {
		t.Fatalf("resolved incident after the restart: %+v %v", a, err)
	}
	if active, err := st.List(ctx, incident.Filter{Active: true}); err != nil || !slices.Equal(ids(active), []string{"inc-b"}) {
		t.Fatalf("active after the second restart: %v %v", ids(active), err)
	}
	// The restart loaded the active incident: an event of its scope finds it.
	var seen []string
	err = st.Update(ctx, scope, nil, func(active []*incident.Incident) ([]*incident.Incident, error) {
		seen = ids(active)
		return nil, nil
	})
	if err != nil || !slices.Equal(seen, []string{"inc-b"}) {
		t.Fatalf("an update after the restart saw %v, %v", seen, err)
	}
	err = st.Update(ctx, scope, nil, func([]*incident.Incident) ([]*incident.Incident, error) {
		return []*incident.Incident{newIncident("inc-c", scope, classify.OOMKilled, t0.Add(3*time.Minute))}, nil
	})
	if !errors.Is(err, incident.ErrConflict) {
		t.Fatalf("a second active incident of the cause after the restart: %v", err)
	}
}

// nextSegment is the name of the log segment a fold of st would start now: the first record it
// will hold is the one after the last in the current segment.
func nextSegment(t *testing.T, path string) string {
	t.Helper()
	segs := logSegments(t, path)
	if len(segs) != 1 {
		t.Fatalf("segments: %v", segs)
	}
	first, err := strconv.ParseUint(strings.TrimPrefix(segs[0], path+".log."), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(segs[0])
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%s.log.%020d", path, first+uint64(len(frameEnds(t, raw))))
}

// A fold that fails (here it cannot create the next log segment) keeps everything for the next
// one, and Close that cannot fold reports it, keeps the log and still closes bbolt: the next
// open replays the log. A Close that folded leaves no log behind.
func TestFailedFoldKeepsTheLog(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "medic.db")
	clk := &incidenttest.Clock{T: t0}
	scope := scopeOf("prod", "checkout")
	st := openManual(t, path, clk)
	create(t, st, newIncident("inc-a", scope, classify.OOMKilled, t0), "evt#1")
	blocker := nextSegment(t, path)
	if err := os.Mkdir(blocker, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := st.Fold(); err == nil {
		t.Fatal("a fold that could not start a segment succeeded")
	}
	if st.Commits() != 0 {
		t.Fatalf("%d commits after a failed fold", st.Commits())
	}
	change(t, st, scope, "inc-a", func(inc *incident.Incident) { inc.Occurrences.Count = 2 })
	if err := remark(st, scope, "evt#2"); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(blocker); err != nil {
		t.Fatal(err)
	}
	blocker = nextSegment(t, path)
	if err := os.Mkdir(blocker, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err == nil {
		t.Fatal("Close reported no error though it could not fold the log")
	}
	if err := os.Remove(blocker); err != nil {
		t.Fatal(err)
	}
	if segs := logSegments(t, path); len(segs) != 1 {
		t.Fatalf("log segments after the failed Close: %v", segs)
	}

	st = openManual(t, path, clk)
	if inc, err := st.Get(ctx, "inc-a"); err != nil || inc.Occurrences.Count != 2 || inc.Version != 2 {
		t.Fatalf("after the failed Close: %+v %v", inc, err)
	}
	wantDuplicates(t, st, scope, "after the failed Close", "evt#1", "evt#2")
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if segs := logSegments(t, path); len(segs) != 0 {
		t.Fatalf("log segments after a Close that folded: %v", segs)
	}
}

// A fold commits when something waits for it, marks alone or an incident changed alone, and
// never otherwise; what it folded reaches bbolt (a restart sees it).
func TestFoldCommitsWhatWaits(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "medic.db")
	clk := &incidenttest.Clock{T: t0}
	scope := scopeOf("prod", "checkout")
	st := openManual(t, path, clk)
	fold := func(want int64) {
		t.Helper()
		if err := st.Fold(); err != nil {
			t.Fatal(err)
		}
		if got := st.Commits(); got != want {
			t.Fatalf("%d commits, want %d", got, want)
		}
	}
	fold(0)
	create(t, st, newIncident("inc-a", scope, classify.OOMKilled, t0), "evt#1")
	fold(1)
	fold(1)
	if err := remark(st, scope, "evt#2"); err != nil {
		t.Fatal(err)
	}
	fold(2)
	fold(2)
	if _, err := st.Modify(ctx, "inc-a", func(inc *incident.Incident) (bool, error) {
		inc.State = incident.Acknowledged
		return true, nil
	}); err != nil {
		t.Fatal(err)
	}
	fold(3)
	fold(3)
	// What the folds wrote is in bbolt: a copy of the files without the log has it all.
	dir := t.TempDir()
	killed := copyFiles(t, path, dir)
	for _, s := range logSegments(t, killed) {
		if err := os.Remove(s); err != nil {
			t.Fatal(err)
		}
	}
	again := openManual(t, killed, clk)
	defer again.Close()
	if inc, err := again.Get(ctx, "inc-a"); err != nil || inc.State != incident.Acknowledged {
		t.Fatalf("folded into bbolt: %+v %v", inc, err)
	}
	wantDuplicates(t, again, scope, "folded into bbolt", "evt#1", "evt#2")
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
}

// What an open replays from the log is in bbolt before the open returns: a second kill right
// after it loses nothing, whether the log held only incident changes or only marks.
func TestReplayedLogSurvivesASecondKill(t *testing.T) {
	ctx := context.Background()
	scope := scopeOf("prod", "checkout")
	for _, tc := range []struct {
		name  string
		write func(t *testing.T, st *boltstore.Store)
		check func(t *testing.T, st *boltstore.Store)
	}{
		{"incident changes only", func(t *testing.T, st *boltstore.Store) {
			if _, err := st.Modify(ctx, "inc-a", func(inc *incident.Incident) (bool, error) {
				inc.State = incident.Acknowledged
				return true, nil
			}); err != nil {
				t.Fatal(err)
			}
		}, func(t *testing.T, st *boltstore.Store) {
			if inc, err := st.Get(ctx, "inc-a"); err != nil || inc.State != incident.Acknowledged || inc.Version != 2 {
				t.Fatalf("after the second kill: %+v %v", inc, err)
			}
		}},
		{"marks only", func(t *testing.T, st *boltstore.Store) {
			if err := remark(st, scope, "evt#2"); err != nil {
				t.Fatal(err)
			}
		}, func(t *testing.T, st *boltstore.Store) {
			wantDuplicates(t, st, scope, "after the second kill", "evt#2")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := &incidenttest.Clock{T: t0}
			live := filepath.Join(t.TempDir(), "medic.db")
			st := openManual(t, live, clk)
			defer st.Close()
			create(t, st, newIncident("inc-a", scope, classify.OOMKilled, t0), "evt#1")
			if err := st.Fold(); err != nil {
				t.Fatal(err)
			}
			tc.write(t, st)
			first := copyFiles(t, live, t.TempDir())
			reopened := openManual(t, first, clk)
			defer reopened.Close()
			second := copyFiles(t, first, t.TempDir())
			again := openManual(t, second, clk)
			defer again.Close()
			tc.check(t, again)
		})
	}
}

// records decodes the log records of a segment, each as its JSON fields.
func records(t *testing.T, seg string) []map[string]json.RawMessage {
	t.Helper()
	raw, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]json.RawMessage
	start := 0
	for _, end := range frameEnds(t, raw) {
		rec, err := boltstore.RecordFields(raw[start+16 : end])
		if err != nil {
			t.Fatalf("record at %d: %v", start, err)
		}
		out = append(out, rec)
		start = end
	}
	return out
}

func keys(m map[string]json.RawMessage) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// The log's records: a new incident whole with its marks and their expiry; an event that only
// counted an occurrence just that (and the service state when it changed); a change without
// marks no expiry. A kill replays each to the same incident.
func TestLogRecords(t *testing.T) {
	ctx := context.Background()
	live := filepath.Join(t.TempDir(), "medic.db")
	clk := &incidenttest.Clock{T: t0}
	scope := scopeOf("prod", "checkout")
	st := openManual(t, live, clk)
	defer st.Close()
	inc := newIncident("inc-a", scope, classify.OOMKilled, t0)
	inc.ServiceState = &servicestate.Snapshot{Cluster: "prod", Service: "checkout", Desired: 4, Running: 3}
	create(t, st, inc, "evt#1")
	count := func(running int) func(*incident.Incident) {
		return func(inc *incident.Incident) {
			inc.Occurrences.Count++
			if running >= 0 {
				inc.ServiceState = &servicestate.Snapshot{Cluster: "prod", Service: "checkout", Desired: 4, Running: running}
			}
		}
	}
	change(t, st, scope, "inc-a", count(2))  // the service state changed
	change(t, st, scope, "inc-a", count(-1)) // the same state
	change(t, st, scope, "inc-a", func(inc *incident.Incident) { inc.State = incident.Acknowledged })

	segs := logSegments(t, live)
	if len(segs) != 1 {
		t.Fatalf("segments: %v", segs)
	}
	recs := records(t, segs[0])
	want := [][]string{{"i", "m", "x"}, {"o"}, {"o"}, {"i"}}
	if len(recs) != len(want) {
		t.Fatalf("%d records, want %d", len(recs), len(want))
	}
	for i, rec := range recs {
		if got := keys(rec); !slices.Equal(got, want[i]) {
			t.Errorf("record %d has %v, want %v", i+1, got, want[i])
		}
	}
	var occ []map[string]json.RawMessage
	if err := json.Unmarshal(recs[1]["o"], &occ); err != nil || len(occ) != 1 || occ[0]["st"] == nil {
		t.Fatalf("the occurrence that changed the service state: %s %v", recs[1]["o"], err)
	}

	ro, err := boltstore.OpenReadOnly(copyFiles(t, live, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	got, err := ro.Get(ctx, "inc-a")
	if err != nil || got.Version != 4 || got.Occurrences.Count != 3 || got.State != incident.Acknowledged ||
		got.ServiceState == nil || got.ServiceState.Running != 2 {
		t.Fatalf("replayed: %+v %v", got, err)
	}
}

// A segment holds every record that fits with the 4 bytes of the zero length that ends it,
// and no more: records of one size fill a segment of two records and four bytes two by two,
// and one byte less one by one. A restart replays them all.
func TestSegmentHoldsWhatFits(t *testing.T) {
	scope := scopeOf("prod", "checkout")
	clk := &incidenttest.Clock{T: t0}
	mark := func(i int) string { return fmt.Sprintf("evt#%04d", i) }
	// The size of one record of one mark.
	probe := filepath.Join(t.TempDir(), "medic.db")
	st := openManual(t, probe, clk)
	if err := remark(st, scope, mark(0)); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(logSegments(t, probe)[0])
	if err != nil {
		t.Fatal(err)
	}
	frame := frameEnds(t, raw)[0]
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		size, perSegment int
	}{{2*frame + 4, 2}, {2*frame + 3, 1}, {3*frame + 4, 3}, {3*frame + 3, 2}} {
		t.Run(fmt.Sprintf("%d bytes", tc.size), func(t *testing.T) {
			const n = 6
			live := filepath.Join(t.TempDir(), "medic.db")
			st := openManual(t, live, clk, boltstore.WithSegmentSize(tc.size))
			defer st.Close()
			for i := range n {
				if err := remark(st, scope, mark(i)); err != nil {
					t.Fatal(err)
				}
			}
			segs := logSegments(t, live)
			total := 0
			for i, s := range segs {
				raw, err := os.ReadFile(s)
				if err != nil {
					t.Fatal(err)
				}
				got := len(frameEnds(t, raw))
				total += got
				if got != tc.perSegment && !(i == len(segs)-1 && got < tc.perSegment) {
					t.Errorf("segment %d of %d bytes holds %d records of %d bytes, want %d", i, len(raw), got, frame, tc.perSegment)
				}
			}
			if total != n {
				t.Fatalf("%d records in the segments, want %d", total, n)
			}
			again := openManual(t, copyFiles(t, live, t.TempDir()), clk)
			defer again.Close()
			for i := range n {
				if err := remark(again, scope, mark(i)); !errors.Is(err, incident.ErrDuplicate) {
					t.Fatalf("mark %d after the restart: %v", i, err)
				}
			}
		})
	}
}

// Sweep removes marks at their expiry and not before, resolved incidents kept longer than the
// retention and not at it, and remembered keys (Slack signatures) only once they expired: a
// replayed request is still refused after a sweep.
func TestSweepRemovesOnlyWhatExpired(t *testing.T) {
	ctx := context.Background()
	clk := &incidenttest.Clock{T: t0}
	st := openManual(t, filepath.Join(t.TempDir(), "medic.db"), clk)
	defer st.Close()
	m := incident.NewManager(st, incident.WithClock(clk.Now))
	sig := incidenttest.Failure(classify.OOMKilled, 1, severity.P2) // two marks
	out, err := m.Apply(ctx, sig)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.Resolve(ctx, out.Incident.ID, "alice", "fixed"); err != nil {
		t.Fatal(err)
	}
	for key, d := range map[string]time.Duration{"sig-short": time.Minute, "sig-day": boltstore.DefaultMarkTTL, "sig-long": boltstore.DefaultMarkTTL + time.Hour} {
		if err := st.Remember(ctx, key, t0.Add(d)); err != nil {
			t.Fatal(err)
		}
	}
	retain := boltstore.DefaultMarkTTL
	sweep := func(want int) {
		t.Helper()
		if n, err := st.Sweep(retain); err != nil || n != want {
			t.Fatalf("at %v: swept %d, %v; want %d", clk.Now().Sub(t0), n, err, want)
		}
	}
	clk.Advance(2 * time.Minute)
	sweep(0)
	if out, err := m.Apply(ctx, sig); err != nil || !out.Duplicate {
		t.Fatalf("redelivery after a sweep: %+v %v", out, err)
	}
	if err := st.Remember(ctx, "sig-long", t0.Add(time.Hour)); !errors.Is(err, incident.ErrDuplicate) {
		t.Fatalf("a remembered key after a sweep: %v", err)
	}
	clk.Advance(boltstore.DefaultMarkTTL - 2*time.Minute) // the marks' expiry, and the incident resolved exactly retain ago
	sweep(2)
	if _, err := st.Get(ctx, out.Incident.ID); err != nil {
		t.Fatalf("resolved exactly the retention ago: %v", err)
	}
	if err := st.Remember(ctx, "sig-long", t0.Add(time.Hour)); !errors.Is(err, incident.ErrDuplicate) {
		t.Fatalf("a remembered key after the second sweep: %v", err)
	}
	clk.Advance(time.Second)
	sweep(1)
	if _, err := st.Get(ctx, out.Incident.ID); !errors.Is(err, incident.ErrNotFound) {
		t.Fatalf("resolved longer than the retention ago: %v", err)
	}
}

// A second process cannot open a store a running one holds: the writer gets ErrInUse, a
// reader ErrLocked (each after bbolt's lock timeout, 2 s and 200 ms), and once the holder
// closes, both open.
func TestLockedStoreIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "medic.db")
	clk := &incidenttest.Clock{T: t0}
	st := openManual(t, path, clk)
	create(t, st, newIncident("inc-a", scopeOf("prod", "checkout"), classify.OOMKilled, t0))
	if _, err := boltstore.Open(path); !errors.Is(err, boltstore.ErrInUse) {
		t.Fatalf("second writer: %v", err)
	}
	if _, err := boltstore.OpenReadOnly(path); !errors.Is(err, boltstore.ErrLocked) {
		t.Fatalf("reader while a writer holds the file: %v", err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	ro, err := boltstore.OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ro.Get(context.Background(), "inc-a"); err != nil {
		t.Fatal(err)
	}
	if err := ro.Close(); err != nil {
		t.Fatal(err)
	}
}

// openFiles counts the process's open file descriptors (Linux).
func openFiles(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(fds)
}

// Close closes every file the store opened, the log segments too, also after many segments.
func TestCloseReleasesTheFiles(t *testing.T) {
	clk := &incidenttest.Clock{T: t0}
	scope := scopeOf("prod", "checkout")
	use := func(path string) {
		st := openManual(t, path, clk, boltstore.WithSegmentSize(256))
		for i := range 20 {
			if err := remark(st, scope, fmt.Sprintf("evt#%d", i)); err != nil {
				t.Fatal(err)
			}
			if i == 10 {
				if err := st.Fold(); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	use(filepath.Join(dir, "warm.db")) // whatever the runtime opens once
	before := openFiles(t)
	use(filepath.Join(dir, "medic.db"))
	ro, err := boltstore.OpenReadOnly(filepath.Join(dir, "medic.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := ro.Close(); err != nil {
		t.Fatal(err)
	}
	if after := openFiles(t); after != before {
		t.Fatalf("%d files open before, %d after", before, after)
	}
}

// While a fold writes bbolt, what it writes is still read from memory: an incident resolved
// since the last fold reads resolved, not as bbolt held it before.
func TestReadsDuringAFold(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "medic.db")
	clk := &incidenttest.Clock{T: t0}
	scope := scopeOf("prod", "checkout")
	st := openManual(t, path, clk)
	defer st.Close()
	create(t, st, newIncident("inc-a", scope, classify.OOMKilled, t0), "evt#1")
	if err := st.Fold(); err != nil {
		t.Fatal(err)
	}
	change(t, st, scope, "inc-a", resolve(t0.Add(time.Minute)))
	next := nextSegment(t, path)

	// A write transaction held open keeps the fold from committing.
	entered, release := make(chan struct{}), make(chan struct{})
	guardDone, foldDone := make(chan error, 1), make(chan error, 1)
	go func() {
		_, err := st.UpdateGuard(ctx, scope, func(*incident.Guard) error { close(entered); <-release; return nil })
		guardDone <- err
	}()
	var releaseOnce sync.Once
	let := func() { releaseOnce.Do(func() { close(release) }) }
	defer let() // before Close, which folds too
	<-entered
	go func() { foldDone <- st.Fold() }()
	// The fold has started once it made its new segment (it makes it before it writes bbolt).
	for {
		if _, err := os.Stat(next); err == nil {
			break
		}
		select {
		case err := <-foldDone:
			t.Fatalf("the fold returned (%v) without starting segment %s", err, filepath.Base(next))
		default:
		}
		runtime.Gosched()
	}
	inc, err := st.Get(ctx, "inc-a")
	if err != nil || inc.State != incident.Resolved || inc.Version != 2 {
		t.Fatalf("during the fold: %+v %v", inc, err)
	}
	if active, err := st.List(ctx, incident.Filter{Active: true}); err != nil || len(active) != 0 {
		t.Fatalf("active during the fold: %v %v", ids(active), err)
	}
	let()
	if err := <-guardDone; err != nil {
		t.Fatal(err)
	}
	if err := <-foldDone; err != nil {
		t.Fatal(err)
	}
	if inc, err := st.Get(ctx, "inc-a"); err != nil || inc.State != incident.Resolved || inc.Version != 2 {
		t.Fatalf("after the fold: %+v %v", inc, err)
	}
}

// damage overwrites the bbolt record of incident id (the store closed) with bytes that do not
// decode, as a bad disk or another program would.
func damage(t *testing.T, path, id string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("incidents"))
		if b.Get([]byte(id)) == nil {
			return fmt.Errorf("no incident %s in bbolt", id)
		}
		return b.Put([]byte(id), []byte(`{"id": damaged`))
	}); err != nil {
		t.Fatal(err)
	}
}

// A listing reads from bbolt only the records its page needs: a damaged incident record fails
// the pages that reach it (an error, not a panic nor a silent gap), not a page before it (the
// limit reached first) nor the pages after it (the cursor past it).
func TestListingReadsOnlyItsPage(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "medic.db")
	clk := &incidenttest.Clock{T: t0}
	st := openManual(t, path, clk)
	for i := 1; i <= 6; i++ {
		scope := scopeOf("prod", fmt.Sprintf("svc-%d", i))
		id := fmt.Sprintf("inc-%03d", i)
		create(t, st, newIncident(id, scope, classify.OOMKilled, t0.Add(time.Duration(i)*time.Minute)))
		change(t, st, scope, id, resolve(t0.Add(time.Hour)))
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	damage(t, path, "inc-004")
	st = openManual(t, path, clk)
	defer st.Close()
	for _, tc := range []struct {
		f    incident.Filter
		want []string // nil: an error
	}{
		{incident.Filter{}, nil},
		{incident.Filter{Before: "inc-005"}, nil},
		{incident.Filter{Limit: 2}, []string{"inc-006", "inc-005"}},
		{incident.Filter{Limit: 1, Before: "inc-006"}, []string{"inc-005"}},
		{incident.Filter{Before: "inc-004"}, []string{"inc-003", "inc-002", "inc-001"}},
		{incident.Filter{Before: "inc-004", State: incident.Resolved, Limit: 2}, []string{"inc-003", "inc-002"}},
	} {
		got, err := st.List(ctx, tc.f)
		if tc.want == nil {
			if err == nil {
				t.Errorf("List(%+v) = %v through a damaged record, want an error", tc.f, ids(got))
			}
			continue
		}
		if err != nil || !slices.Equal(ids(got), tc.want) {
			t.Errorf("List(%+v) = %v, %v; want %v", tc.f, ids(got), err, tc.want)
		}
	}
}

// wantDuplicates fails unless each mark is a duplicate in st: recorded, and not expired.
func wantDuplicates(t *testing.T, st *boltstore.Store, scope incident.Scope, when string, marks ...string) {
	t.Helper()
	for _, mk := range marks {
		if err := remark(st, scope, mk); !errors.Is(err, incident.ErrDuplicate) {
			t.Fatalf("mark %s %s: %v", mk, when, err)
		}
	}
}
