package boltstore

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/servicestate"
	"github.com/ecs-medic/ecs-medic/internal/severity"
)

func TestDeltaOf(t *testing.T) {
	for _, c := range []struct {
		name       string
		prev, next []string
		drop       int
		add        []string
	}{
		{"both empty", nil, nil, 0, nil},
		{"first", nil, []string{"a"}, 0, []string{"a"}},
		{"appended", []string{"a", "b"}, []string{"a", "b", "c"}, 0, []string{"c"}},
		{"slid", []string{"a", "b", "c"}, []string{"b", "c", "d"}, 1, []string{"d"}},
		{"slid by two", []string{"a", "b", "c"}, []string{"c", "d", "e"}, 2, []string{"d", "e"}},
		{"unchanged", []string{"a", "b"}, []string{"a", "b"}, 0, nil},
		{"replaced", []string{"a", "b"}, []string{"x"}, 2, []string{"x"}},
		{"emptied", []string{"a", "b"}, nil, 2, nil},
		{"shortened from the front", []string{"a", "b"}, []string{"b"}, 1, nil},
		{"shortened from the back", []string{"a", "b"}, []string{"a"}, 2, []string{"a"}},
		{"repeats", []string{"a", "a", "b"}, []string{"a", "b", "a"}, 1, []string{"a"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := deltaOf(c.prev, c.next)
			if d.drop != c.drop || !slices.Equal(d.add, c.add) {
				t.Fatalf("deltaOf = drop %d add %q, want drop %d add %q", d.drop, d.add, c.drop, c.add)
			}
			got, err := d.apply(slices.Clip(c.prev))
			if err != nil || !slices.Equal(got, c.next) || (len(c.next) == 0) != (got == nil) {
				t.Fatalf("apply = %q, %v; want %q", got, err, c.next)
			}
		})
	}
	if _, err := (delta{drop: 3}).apply([]string{"a"}); err == nil {
		t.Fatal("a delta dropping more than there is applied")
	}
	// The previous slice is not written through, even with room after it.
	prev := make([]string, 2, 8)
	prev[0], prev[1] = "a", "b"
	got, _ := delta{drop: 0, add: []string{"c"}}.apply(prev)
	got[0] = "changed"
	if prev[0] != "a" || prev[:3][2] != "" {
		t.Fatal("apply wrote into the previous slice")
	}
}

// TestBinaryRecordRoundTrip encodes records as Update does and decodes them as replay does: the
// incident rebuilt from the previous one must equal the one recorded.
func TestBinaryRecordRoundTrip(t *testing.T) {
	t0 := time.Date(2026, 11, 28, 3, 0, 0, 123456789, time.UTC)
	snap := &servicestate.Snapshot{Cluster: "prod", Service: "api", Status: "ACTIVE", Desired: 4, Running: 1,
		Tags: map[string]string{"team": "core"}, ReadAt: t0}
	// The previous incident has a state read, so "unchanged", "gone" and "read anew" all differ.
	prev := &incident.Incident{ID: "inc-1", Version: 4, UpdatedAt: t0, Occurrences: incident.Occurrences{
		Count: 3, FirstSeen: t0.Add(-time.Hour), LastSeen: t0,
		Tasks: []string{"t1", "t2", "t3"}, Evidence: []string{"OOM"},
		// More task definitions than there are bytes after their delta's drop when they all go
		// ("state gone"): a drop counts entries, not bytes.
		TaskDefinitions: []string{"app:1", "app:2", "app:3", "app:4", "app:5", "app:6", "app:7", "app:8"},
	}, ServiceState: &servicestate.Snapshot{Cluster: "prod", Service: "api", Desired: 4, Running: 4, ReadAt: t0.Add(-time.Minute)}}
	paris := time.FixedZone("", 3600) // as JSON, the binary form keeps the offset, not a zone name
	for _, c := range []struct {
		name  string
		marks []string
		occ   []occurred
	}{
		{"marks only", []string{"evt#1", "task#arn#2"}, nil},
		{"occurrence, no marks", nil, []occurred{{ID: "inc-1", Version: 5, UpdatedAt: t0.Add(time.Second),
			Occurrences: incident.Occurrences{Count: 4, FirstSeen: t0.Add(-time.Hour), LastSeen: t0.Add(time.Second),
				Tasks: []string{"t2", "t3", "t4"}, Evidence: []string{"OOM"}, TaskDefinitions: []string{"app:1", "app:2"}}}}},
		{"state read, error, other zone", []string{"evt#2"}, []occurred{{ID: "inc-1", Version: 5, UpdatedAt: t0.In(paris),
			Occurrences: incident.Occurrences{Count: 4, FirstSeen: t0.Add(-time.Hour), LastSeen: t0.In(paris),
				Tasks: []string{"t1", "t2", "t3", "t4"}, Evidence: []string{"OOM"}, TaskDefinitions: []string{"app:1"}},
			StateError: "throttled", NewState: true, State: snap}}},
		{"state gone", nil, []occurred{{ID: "inc-1", Version: 5, UpdatedAt: t0,
			Occurrences: incident.Occurrences{Count: 4, FirstSeen: t0, LastSeen: t0}, NewState: true}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := &record{Marks: c.marks, Occurred: c.occ}
			if len(c.marks) > 0 {
				rec.Exp = t0.Unix() + 172800
			}
			if !binaryForm(rec) {
				t.Fatal("a record of marks and occurrences is not binary")
			}
			b, err := appendBinaryRecord(nil, rec, func(id string) *incident.Incident { return prev })
			if err != nil {
				t.Fatal(err)
			}
			marks, exp, occ, err := decodeBinaryRecord(b)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(marks, c.marks) || exp != rec.Exp || len(occ) != len(c.occ) {
				t.Fatalf("decoded marks %q exp %d, %d occurrences; want %q %d %d", marks, exp, len(occ), c.marks, rec.Exp, len(c.occ))
			}
			for i := range occ {
				got, err := occ[i].applyTo(prev)
				if err != nil {
					t.Fatal(err)
				}
				want := c.occ[i].applyTo(prev)
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("replayed\n%+v\nwant\n%+v", got, want)
				}
				_, gotOff := got.UpdatedAt.Zone()
				_, wantOff := c.occ[i].UpdatedAt.Zone()
				if !got.UpdatedAt.Equal(c.occ[i].UpdatedAt) || gotOff != wantOff {
					t.Fatalf("updated at %v, want %v", got.UpdatedAt, c.occ[i].UpdatedAt)
				}
			}
			// Every cut of the record is refused, never a panic.
			for n := range len(b) {
				if _, _, _, err := decodeBinaryRecord(b[:n]); err == nil {
					t.Fatalf("a record cut to %d of %d bytes was read", n, len(b))
				}
			}
			if _, _, _, err := decodeBinaryRecord(append(slices.Clone(b), 0)); err == nil {
				t.Fatal("a record with a byte after its end was read")
			}
		})
	}
}

func TestBinaryRecordRefusals(t *testing.T) {
	if _, err := appendBinaryRecord(nil, &record{Occurred: []occurred{{ID: "inc-x"}}}, func(string) *incident.Incident { return nil }); err == nil {
		t.Fatal("an occurrence without its previous incident was encoded")
	}
	if binaryForm(&record{Incidents: []*incident.Incident{{ID: "inc-1"}}}) {
		t.Fatal("a record with a whole incident would be binary")
	}
	prev := &incident.Incident{ID: "inc-1"}
	good, err := appendBinaryRecord(nil, &record{Occurred: []occurred{{ID: "inc-1", NewState: true, State: &servicestate.Snapshot{}}}},
		func(string) *incident.Incident { return prev })
	if err != nil {
		t.Fatal(err)
	}
	bad := slices.Clone(good)
	raw, _ := json.Marshal(&servicestate.Snapshot{})
	i := len(bad) - len(raw) - len(binary.AppendUvarint(nil, uint64(len(raw)))) - 1 // the flag, the JSON's length, the JSON
	if bad[i] != 2 {
		t.Fatalf("state flag not where expected: %d", bad[i])
	}
	bad[i] = 7
	if _, _, _, err := decodeBinaryRecord(bad); err == nil {
		t.Fatal("an unknown state flag was read")
	}
	// An unknown flag as the record's last byte: nothing after it to fail on instead.
	last, err := appendBinaryRecord(nil, &record{Occurred: []occurred{{ID: "inc-1"}}}, func(string) *incident.Incident { return prev })
	if err != nil || last[len(last)-1] != 0 {
		t.Fatalf("a record without a state change does not end with its flag 0: %v", err)
	}
	last[len(last)-1] = 3
	if _, _, _, err := decodeBinaryRecord(last); err == nil || !strings.Contains(err.Error(), "unknown service state flag") {
		t.Fatalf("an unknown last state flag: %v", err)
	}
	bad = slices.Clone(good)
	bad[len(bad)-2] = '!' // the state's JSON broken
	if _, _, _, err := decodeBinaryRecord(bad); err == nil {
		t.Fatal("a broken service state was read")
	}
	if _, _, _, err := decodeBinaryRecord([]byte(`{"m":["evt#1"]}`)); err == nil {
		t.Fatal("a JSON record was read as binary")
	}
	if _, _, _, err := decodeBinaryRecord(nil); err == nil {
		t.Fatal("an empty record was read")
	}
	// A time that is not a time.
	b := []byte{binaryRecord, 0, 1}
	b = appendString(b, "inc-1")
	b = append(b, 2)                   // version 1
	b = append(b, 3, 0xff, 0xff, 0xff) // a 3-byte "time"
	if _, _, _, err := decodeBinaryRecord(b); err == nil || errors.Is(err, errShort) {
		t.Fatalf("a broken time: %v", err)
	}
}

// TestBinaryRecordCoversEveryField fails when a field is added to what an occurrence record
// carries: the binary form must then write it too.
func TestBinaryRecordCoversEveryField(t *testing.T) {
	if n := reflect.TypeFor[incident.Occurrences]().NumField(); n != 6 {
		t.Fatalf("incident.Occurrences has %d fields: write the new ones in appendBinaryRecord and read them in decodeBinaryRecord", n)
	}
	if n := reflect.TypeFor[occurred]().NumField(); n != 7 {
		t.Fatalf("occurred has %d fields: write the new ones in appendBinaryRecord and read them in decodeBinaryRecord", n)
	}
}

// TestBinaryRecordsReplay writes occurrences (samples sliding, the service state read, changed
// and lost, marks) to a store that never folds, and opens a copy of its files as a killed process
// leaves them: every incident is as the live store had it, and every mark is recognised.
func TestBinaryRecordsReplay(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	live := filepath.Join(dir, "medic.db")
	t0 := time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC)
	st, err := Open(live, WithClock(func() time.Time { return t0 }), WithFoldInterval(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	scope := incident.Scope{Account: "1", Region: "eu-west-1", Cluster: "prod", Service: "api"}
	open := &incident.Incident{ID: "inc-r", Scope: scope, Cause: "oom", Severity: severity.P2, State: incident.Open, OpenedAt: t0, UpdatedAt: t0,
		Occurrences: incident.Occurrences{Count: 1, FirstSeen: t0, LastSeen: t0, Tasks: []string{"task-0"}}}
	if err := st.Update(ctx, scope, []string{"evt#0"}, func([]*incident.Incident) ([]*incident.Incident, error) {
		return []*incident.Incident{open}, nil
	}); err != nil {
		t.Fatal(err)
	}
	states := []*servicestate.Snapshot{nil, {Cluster: "prod", Service: "api", Desired: 4, Running: 1, ReadAt: t0}, nil,
		{Cluster: "prod", Service: "api", Desired: 4, Running: 0, Tags: map[string]string{"team": "core"}, ReadAt: t0.Add(time.Minute)}}
	var marks []string
	for i := 1; i <= 25; i++ {
		mk := "evt#" + strconv.Itoa(i)
		marks = append(marks, mk)
		err := st.Update(ctx, scope, []string{mk}, func(cur []*incident.Incident) ([]*incident.Incident, error) {
			inc := cur[0]
			o := &inc.Occurrences
			o.Count++
			o.LastSeen = t0.Add(time.Duration(i) * time.Second)
			inc.UpdatedAt = o.LastSeen
			o.Tasks = append(o.Tasks, "task-"+strconv.Itoa(i))
			if len(o.Tasks) > incident.MaxSampleTasks {
				o.Tasks = o.Tasks[len(o.Tasks)-incident.MaxSampleTasks:]
			}
			if i%4 == 0 && len(o.Evidence) < incident.MaxSampleEvidence {
				o.Evidence = append(o.Evidence, "evidence "+strconv.Itoa(i))
			}
			if i%8 == 0 { // read, lost, read again
				inc.ServiceState = states[i/8]
				inc.StateError = "read " + strconv.Itoa(i)
			}
			return []*incident.Incident{inc}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	want, err := st.Get(ctx, "inc-r")
	if err != nil {
		t.Fatal(err)
	}
	if st.Commits() != 0 || want.Occurrences.Count != 26 || want.ServiceState == nil {
		t.Fatalf("%d folds, %d occurrences, state %v: the test wants 26 occurrences, a state, all in the log", st.Commits(), want.Occurrences.Count, want.ServiceState)
	}
	copyDir := t.TempDir()
	files, _ := filepath.Glob(live + "*")
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(copyDir, filepath.Base(f)), raw, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	re, err := Open(filepath.Join(copyDir, "medic.db"), WithClock(func() time.Time { return t0 }), WithFoldInterval(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer re.Close()
	got, err := re.Get(ctx, "inc-r")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("after replay\n%+v\nwant\n%+v", got, want)
	}
	for _, mk := range append(marks, "evt#0") {
		err := re.Update(ctx, scope, []string{mk}, func(cur []*incident.Incident) ([]*incident.Incident, error) { return nil, nil })
		if !errors.Is(err, incident.ErrDuplicate) {
			t.Fatalf("mark %s after replay: %v, want a duplicate", mk, err)
		}
	}
}

// A zone offset time's binary form cannot hold (beyond ±32767 minutes) keeps the instant, in UTC.
func TestBinaryRecordOddZoneOffset(t *testing.T) {
	at := time.Date(2026, 11, 28, 3, 0, 0, 5, time.FixedZone("", 40000*60))
	r := &reader{b: appendTime(nil, at)}
	got := r.time()
	if r.err != nil || len(r.b) != 0 || !got.Equal(at) || got.Location() != time.UTC {
		t.Fatalf("read back %v (%v, %d bytes left), want %v in UTC", got, r.err, len(r.b), at)
	}
}
