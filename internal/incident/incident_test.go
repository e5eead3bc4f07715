package incident_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/ecs-medic/ecs-medic/internal/boltstore"
	"github.com/ecs-medic/ecs-medic/internal/classify"
	"github.com/ecs-medic/ecs-medic/internal/deployment"
	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/incident/incidenttest"
	"github.com/ecs-medic/ecs-medic/internal/servicestate"
	"github.com/ecs-medic/ecs-medic/internal/severity"
)

func newStore(t *testing.T, clock func() time.Time) *boltstore.Store {
	t.Helper()
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "medic.db"), boltstore.WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// The store contract, here too: the rules live in this package, and its own tests must pin them
// (the stores' packages run the same suite against their own store).
func TestContract(t *testing.T) {
	incidenttest.Run(t, func(t *testing.T, clock func() time.Time) incident.Store { return newStore(t, clock) })
}

func TestHumanDuration(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0 s"},
		{499 * time.Millisecond, "0 s"},
		{500 * time.Millisecond, "1 s"},
		{59 * time.Second, "59 s"},
		{time.Minute, "1 min"},
		{90 * time.Second, "2 min"},
		{89 * time.Second, "1 min"},
		{15 * time.Minute, "15 min"},
		{59*time.Minute + 29*time.Second, "59 min"},
		{time.Hour, "1 h"},
		{time.Hour + 29*time.Second, "1 h"},
		{time.Hour + 30*time.Second, "1 h 1 min"},
		{2*time.Hour - 31*time.Second, "1 h 59 min"},
		{2*time.Hour - 30*time.Second, "2 h"},
		{2 * time.Hour, "2 h"},
		{90 * time.Minute, "1 h 30 min"},
		{23*time.Hour + 59*time.Minute, "23 h 59 min"},
		{24 * time.Hour, "1 day"},
		{25 * time.Hour, "25 h"},
		{48 * time.Hour, "2 days"},
		{7 * 24 * time.Hour, "7 days"},
		{49*time.Hour + 29*time.Minute, "2 days 1 h"},
		{49*time.Hour + 30*time.Minute, "2 days 2 h"},
		{60 * time.Hour, "2 days 12 h"},
	} {
		if got := incident.HumanDuration(tc.d); got != tc.want {
			t.Errorf("HumanDuration(%s) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

// The receivers show and announce fix entries by kind: every action kind is one, and only the
// four that say what happened or will happen are announced.
func TestEntryKinds(t *testing.T) {
	for _, tc := range []struct {
		kind              incident.EntryKind
		action, announced bool
	}{
		{incident.KindAction, true, true},
		{incident.KindActionFailed, true, true},
		{incident.KindActionPlanned, true, true},
		{incident.KindActionSkipped, true, true},
		{incident.KindActionConsidered, true, false},
		{"note", false, false},
		{"relapse", false, false},
		{"actions", false, false},
		{"", false, false},
	} {
		if got := tc.kind.IsAction(); got != tc.action {
			t.Errorf("%q.IsAction() = %v", tc.kind, got)
		}
		if got := tc.kind.Announced(); got != tc.announced {
			t.Errorf("%q.Announced() = %v", tc.kind, got)
		}
	}
}

func TestClip(t *testing.T) {
	if got := incident.Clip("short", 5); got != "short" {
		t.Errorf("at its bound: %q", got)
	}
	if got := incident.Clip("abcdefghij", 9); got != "abcdef…" || len(got) != 9 {
		t.Errorf("one over: %q (%d bytes)", got, len(got))
	}
	// Never cuts a rune in half.
	s := strings.Repeat("é", 10) // 2 bytes each
	for n := 4; n < len(s); n++ {
		got := incident.Clip(s, n)
		if len(got) > n || !utf8.ValidString(got) || !strings.HasSuffix(got, "…") {
			t.Errorf("Clip(%d): %q (%d bytes)", n, got, len(got))
		}
	}
	if got := incident.Clip(strings.Repeat("é", 3), 4); got != "…" {
		t.Errorf("no room for a rune: %q", got)
	}
}

func TestScope(t *testing.T) {
	svc := incident.Scope{Account: "111122223333", Region: "us-east-1", Cluster: "prod", Service: "checkout"}
	if svc.Key() != "111122223333/us-east-1/prod/checkout" || svc.Name() != "prod/checkout" || !svc.IsService() {
		t.Errorf("service scope: %q %q %v", svc.Key(), svc.Name(), svc.IsService())
	}
	alarm := incident.Scope{Account: "111122223333", Region: "us-east-1", Alarm: "cpu-high"}
	if alarm.Key() != "111122223333/us-east-1/alarm/cpu-high" || alarm.Name() != "alarm cpu-high" || alarm.IsService() {
		t.Errorf("alarm scope: %q %q %v", alarm.Key(), alarm.Name(), alarm.IsService())
	}
	for _, s := range []incident.Scope{
		{Cluster: "prod", Service: "family:batch"},
		{Cluster: "prod"},
		{Cluster: "prod", Service: "checkout", Alarm: "x"},
	} {
		if s.IsService() {
			t.Errorf("%+v is not a service", s)
		}
	}
	// "family:" alone is too short to be a family; a service may be called "familyX".
	for _, name := range []string{"family:", "familyX:batch", "family"} {
		if s := (incident.Scope{Cluster: "prod", Service: name}); !s.IsService() {
			t.Errorf("%q is a service name", name)
		}
	}
	if !incident.Open.Active() || !incident.Acknowledged.Active() || incident.Resolved.Active() || incident.State("").Active() {
		t.Error("Active is wrong")
	}
}

func TestNewIDSortsByTime(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
	seen := map[string]bool{}
	prev := ""
	for i := range 200 {
		id := incident.NewID(t0.Add(time.Duration(i) * time.Millisecond))
		if !strings.HasPrefix(id, "inc-") || len(id) != len("inc-")+13 || id != strings.ToLower(id) {
			t.Fatalf("id %q", id)
		}
		if seen[id] || id <= prev {
			t.Fatalf("id %q after %q: not unique and increasing", id, prev)
		}
		seen[id], prev = true, id
	}
	// Two incidents in the same millisecond still get different ids.
	same := map[string]bool{}
	for range 50 {
		same[incident.NewID(t0)] = true
	}
	if len(same) < 49 {
		t.Fatalf("%d distinct ids of 50 in one millisecond", len(same))
	}
}

// The manager's own clock and id generator are the ones used, and each new incident gets its
// route once, when it opens.
func TestManagerOptions(t *testing.T) {
	ctx := context.Background()
	clk := &incidenttest.Clock{T: time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)}
	st := newStore(t, clk.Now)
	routed := 0
	m := incident.NewManager(st, incident.WithClock(clk.Now),
		incident.WithIDs(func(at time.Time) string { return "inc-" + at.Format("150405") }),
		incident.WithRoute(func(s incident.Signal) string { routed++; return "team-" + string(s.Cause) }))
	if !m.Now().Equal(clk.Now()) {
		t.Fatal("clock not the injected one")
	}
	out, err := m.Apply(ctx, incidenttest.Failure(classify.OOMKilled, 1, severity.P2))
	if err != nil || out.Incident.ID != "inc-030000" || out.Incident.Route != "team-oom-killed" || !out.Incident.OpenedAt.Equal(clk.Now()) {
		t.Fatalf("%+v %v", out.Incident, err)
	}
	clk.Advance(time.Minute)
	if _, err := m.Apply(ctx, incidenttest.Failure(classify.OOMKilled, 2, severity.P2)); err != nil || routed != 1 {
		t.Fatalf("routed %d times, %v", routed, err)
	}
	// Without options: the wall clock and real ids.
	plain := incident.NewManager(st)
	if d := time.Since(plain.Now()); d < 0 || d > time.Minute {
		t.Fatalf("default clock is %v off", d)
	}
	if _, err := m.Apply(ctx, incident.Signal{Kind: incident.Kind(42), EventID: "x", Scope: incidenttest.Scope, Marks: []string{"evt#x"}}); err == nil {
		t.Fatal("an unknown signal kind was accepted")
	}
}

// Titles and timeline texts say what people need: the service, the cause, the state read.
func TestTitlesAndTexts(t *testing.T) {
	ctx := context.Background()
	clk := &incidenttest.Clock{T: time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)}
	m := incident.NewManager(newStore(t, clk.Now), incident.WithClock(clk.Now))
	sig := incidenttest.Failure(classify.ResourceInit, 1, severity.P2)
	sig.Sub = "secrets"
	out, err := m.Apply(ctx, sig)
	if err != nil {
		t.Fatal(err)
	}
	inc := out.Incident
	if inc.Title != "checkout: task resources failed to initialize (secrets)" {
		t.Errorf("title %q", inc.Title)
	}
	if msg := inc.Timeline[0].Message; msg != `opened P2: checkout: task resources failed to initialize (secrets) — "OutOfMemoryError: Container killed due to memory usage" (service 3/4 running, 0 pending)` {
		t.Errorf("opening entry %q", msg)
	}
	alarmSig := incident.Signal{Kind: incident.Failure, EventID: "a", Scope: incidenttest.Scope, Cause: classify.Alarm, Alarm: "p99-latency",
		Marks: []string{"evt#a"}, StateError: "AccessDenied"}
	out, err = m.Apply(ctx, alarmSig)
	if err != nil {
		t.Fatal(err)
	}
	if out.Incident.Title != "checkout: CloudWatch alarm p99-latency" || !strings.HasSuffix(out.Incident.Timeline[0].Message, "(service state unknown: AccessDenied)") {
		t.Errorf("alarm on a service: %q / %q", out.Incident.Title, out.Incident.Timeline[0].Message)
	}
	own := incident.Signal{Kind: incident.Failure, EventID: "b", Scope: incident.Scope{Account: "1", Region: "r", Alarm: "disk-full"}, Cause: classify.Alarm, Marks: []string{"evt#b"}}
	out, err = m.Apply(ctx, own)
	if err != nil {
		t.Fatal(err)
	}
	if out.Incident.Title != "disk-full: CloudWatch alarm" || !strings.HasSuffix(out.Incident.Timeline[0].Message, "(no service state)") {
		t.Errorf("alarm of its own: %q / %q", out.Incident.Title, out.Incident.Timeline[0].Message)
	}
	clk.Advance(time.Minute)
	raise := incidenttest.Failure(classify.ResourceInit, 2, severity.P1)
	raise.State = &servicestate.Snapshot{Desired: 4, Running: 0, Pending: 2}
	out, err = m.Apply(ctx, raise)
	if err != nil || !out.Raised {
		t.Fatal(out, err)
	}
	if last := out.Incident.Timeline[len(out.Incident.Timeline)-1].Message; last != "severity raised P2 → P1: service 0/4 running, 2 pending" {
		t.Errorf("raise entry %q", last)
	}
	// A newer state replaces the old one; an error does not hide a state already read.
	if out.Incident.ServiceState == nil || out.Incident.ServiceState.Running != 0 {
		t.Fatalf("state not refreshed: %+v", out.Incident.ServiceState)
	}
	errSig := incidenttest.Failure(classify.ResourceInit, 3, severity.P1)
	errSig.State, errSig.StateError = nil, "throttled"
	out, err = m.Apply(ctx, errSig)
	if err != nil || out.Incident.ServiceState == nil || out.Incident.StateError != "" {
		t.Fatalf("a failed read hid the state: %+v %v", out.Incident, err)
	}
	// Escalation says when it was due.
	clk.Advance(time.Hour)
	inc2, esc, err := m.Escalate(ctx, out.Incident.ID)
	if err != nil || !esc {
		t.Fatal(esc, err)
	}
	if last := inc2.Timeline[len(inc2.Timeline)-1].Message; last != "not acknowledged within the 15 min response time of a P1 (due 03:16 UTC): escalated" {
		t.Errorf("escalation entry %q", last)
	}
	res, _, err := m.Resolve(ctx, inc2.ID, "slack:U0ALICE", "")
	if err != nil || res.Timeline[len(res.Timeline)-1].Message != "resolved" || res.Timeline[len(res.Timeline)-1].Actor != "slack:U0ALICE" {
		t.Fatalf("resolve entry %+v %v", res.Timeline[len(res.Timeline)-1], err)
	}
}

// Duplicates are counted on the incident they belong to, once in the timeline.
func TestDuplicatesCounted(t *testing.T) {
	ctx := context.Background()
	clk := &incidenttest.Clock{T: time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)}
	st := newStore(t, clk.Now)
	m := incident.NewManager(st, incident.WithClock(clk.Now))
	oom := incidenttest.Failure(classify.OOMKilled, 1, severity.P3)
	pull := incidenttest.Failure(classify.ImagePull, 2, severity.P3)
	for _, s := range []incident.Signal{oom, pull} {
		if _, err := m.Apply(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		if out, err := m.Apply(ctx, pull); err != nil || !out.Duplicate {
			t.Fatal(out, err)
		}
	}
	incs, err := st.List(ctx, incident.Filter{Active: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, inc := range incs {
		want := map[classify.Cause]int{classify.OOMKilled: 0, classify.ImagePull: 3}[inc.Cause]
		entries := 0
		for _, e := range inc.Timeline {
			if e.Kind == "suppressed" {
				entries++
			}
		}
		if inc.Suppressed["duplicate"] != want || entries != min(want, 1) {
			t.Errorf("%s: %d duplicates, %d entries; want %d", inc.Cause, inc.Suppressed["duplicate"], entries, want)
		}
	}
	// A redelivered corroboration counts on the incident it was attached to.
	corr := incident.Signal{Kind: incident.Corroborate, EventID: "c", Scope: incidenttest.Scope, Cause: classify.StartImpaired, Marks: []string{"evt#c"}}
	for range 2 {
		if _, err := m.Apply(ctx, corr); err != nil {
			t.Fatal(err)
		}
	}
	incs, _ = st.List(ctx, incident.Filter{Active: true})
	total := 0
	for _, inc := range incs {
		total += inc.Suppressed["duplicate"]
	}
	if total != 4 {
		t.Errorf("duplicates counted %d, want 4", total)
	}
}

// The unknown stop reasons are listed from the unknown incidents, newest first, bounded.
func TestUnknownTexts(t *testing.T) {
	ctx := context.Background()
	clk := &incidenttest.Clock{T: time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)}
	st := newStore(t, clk.Now)
	m := incident.NewManager(st, incident.WithClock(clk.Now))
	apply := func(service, text string, n int) string {
		sig := incidenttest.Failure(classify.Unknown, n, severity.P3)
		sig.Scope.Service, sig.Evidence, sig.Time = service, text, clk.Now()
		out, err := m.Apply(ctx, sig)
		if err != nil {
			t.Fatal(err)
		}
		return out.Incident.ID
	}
	a := apply("checkout", "text A", 1)
	clk.Advance(time.Minute)
	apply("checkout", "text B", 2) // same incident, second text
	clk.Advance(time.Minute)
	b := apply("billing", "text A", 3)
	clk.Advance(time.Minute)
	if _, err := m.Apply(ctx, incidenttest.Failure(classify.OOMKilled, 4, severity.P3)); err != nil {
		t.Fatal(err)
	}
	got, err := m.UnknownTexts(ctx, 100, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Text != "text A" || got[1].Text != "text B" {
		t.Fatalf("%+v", got)
	}
	if strings.Join(got[0].Incidents, ",") != b+","+a || strings.Join(got[0].Scopes, ",") != "prod/billing,prod/checkout" {
		t.Errorf("text A: %v %v", got[0].Incidents, got[0].Scopes)
	}
	if !got[0].LastSeen.Equal(clk.Now().Add(-time.Minute)) || !got[1].LastSeen.Equal(clk.Now().Add(-2*time.Minute)) {
		t.Errorf("last seen %v %v", got[0].LastSeen, got[1].LastSeen)
	}
	if got, _ := m.UnknownTexts(ctx, 100, 1); len(got) != 1 || len(got[0].Incidents) != 2 {
		t.Errorf("limit 1: %+v", got)
	}
	if got, _ := m.UnknownTexts(ctx, 100, 0); len(got) != 0 {
		t.Errorf("limit 0: %+v", got)
	}
	// Bounded samples of incidents and scopes per text.
	for i := range 15 {
		clk.Advance(time.Second)
		apply("svc"+string(rune('a'+i)), "text A", 10+i)
	}
	got, _ = m.UnknownTexts(ctx, 100, 10)
	if len(got[0].Incidents) != incident.MaxSampleTasks || len(got[0].Scopes) != incident.MaxSampleTasks {
		t.Errorf("samples %d incidents, %d scopes", len(got[0].Incidents), len(got[0].Scopes))
	}
	failing := incident.NewManager(failStore{st})
	if _, err := failing.UnknownTexts(ctx, 10, 10); err == nil {
		t.Error("a failing store gave no error")
	}
}

type failStore struct{ incident.Store }

func (failStore) List(context.Context, incident.Filter) ([]*incident.Incident, error) {
	return nil, errors.New("disk on fire")
}

// Invalid UTF-8 is clipped without a panic, and so is a text cut shorter than the mark itself.
func TestClipInvalidUTF8(t *testing.T) {
	for n := -1; n < 12; n++ {
		got := incident.Clip(strings.Repeat("\x80", 10), n)
		if len(got) > max(n, 0) {
			t.Errorf("Clip(%d) of invalid UTF-8: %d bytes", n, len(got))
		}
	}
	for n, want := range map[int]string{0: "", 1: "a", 2: "a", 3: "…", 4: "a…"} {
		if got := incident.Clip("aéé", n); got != want {
			t.Errorf("Clip(%q, %d) = %q, want %q", "aéé", n, got, want)
		}
	}
}

// First and last seen are the earliest and latest event times, whatever order events arrive in.
func TestOccurrenceTimes(t *testing.T) {
	ctx := context.Background()
	clk := &incidenttest.Clock{T: time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)}
	m := incident.NewManager(newStore(t, clk.Now), incident.WithClock(clk.Now))
	base := time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC)
	var inc *incident.Incident
	for i, offset := range []time.Duration{2 * time.Minute, time.Minute, 3 * time.Minute, 90 * time.Second} {
		sig := incidenttest.Failure(classify.OOMKilled, i, severity.P3)
		sig.Time = base.Add(offset)
		out, err := m.Apply(ctx, sig)
		if err != nil {
			t.Fatal(err)
		}
		inc = out.Incident
	}
	if o := inc.Occurrences; !o.FirstSeen.Equal(base.Add(time.Minute)) || !o.LastSeen.Equal(base.Add(3*time.Minute)) || o.Count != 4 {
		t.Fatalf("first %v last %v count %d", o.FirstSeen, o.LastSeen, o.Count)
	}
}

// The deployment link is recorded once: the first one found stays.
func TestLinkDeploymentOnce(t *testing.T) {
	ctx := context.Background()
	clk := &incidenttest.Clock{T: time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)}
	m := incident.NewManager(newStore(t, clk.Now), incident.WithClock(clk.Now))
	out, err := m.Apply(ctx, incidenttest.Failure(classify.EssentialExit, 1, severity.P2))
	if err != nil {
		t.Fatal(err)
	}
	id := out.Incident.ID
	if inc, err := m.LinkDeployment(ctx, id, nil); err != nil || inc.Deployment != nil {
		t.Fatalf("nil link: %+v %v", inc.Deployment, err)
	}
	first := &deployment.Link{DeploymentID: "ecs-svc/1", To: "arn:aws:ecs:us-east-1:1:task-definition/checkout:13", From: "arn:aws:ecs:us-east-1:1:task-definition/checkout:12"}
	inc, err := m.LinkDeployment(ctx, id, first)
	if err != nil || inc.Deployment == nil || inc.Deployment.DeploymentID != "ecs-svc/1" || inc.Timeline[len(inc.Timeline)-1].Kind != "deployment" {
		t.Fatalf("link: %+v %v", inc, err)
	}
	inc, err = m.LinkDeployment(ctx, id, &deployment.Link{DeploymentID: "ecs-svc/2", To: "x"})
	if err != nil || inc.Deployment.DeploymentID != "ecs-svc/1" {
		t.Fatalf("second link replaced the first: %+v %v", inc.Deployment, err)
	}
	n := 0
	for _, e := range inc.Timeline {
		if e.Kind == "deployment" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d deployment entries", n)
	}
}

// A resolved incident takes no state reading; an alarm incident that never named its alarms is
// resolved by any of its alarms returning to OK.
func TestResolvedAndAlarmEdges(t *testing.T) {
	ctx := context.Background()
	clk := &incidenttest.Clock{T: time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)}
	m := incident.NewManager(newStore(t, clk.Now), incident.WithClock(clk.Now))
	sig := incidenttest.Failure(classify.OOMKilled, 1, severity.P3)
	sig.State, sig.StateError = nil, "no role"
	out, err := m.Apply(ctx, sig)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.Resolve(ctx, out.Incident.ID, "alice", ""); err != nil {
		t.Fatal(err)
	}
	inc, raised, err := m.StateKnown(ctx, out.Incident.ID, &servicestate.Snapshot{Desired: 2, Running: 0})
	if err != nil || raised || inc.Severity != severity.P3 || inc.ServiceState != nil {
		t.Fatalf("state on a resolved incident: %v %+v %v", raised, inc, err)
	}
	alarm := incident.Scope{Account: "1", Region: "r", Alarm: "queue-depth"}
	open, err := m.Apply(ctx, incident.Signal{Kind: incident.Failure, EventID: "a1", Scope: alarm, Cause: classify.Alarm, Marks: []string{"evt#a1"}})
	if err != nil || len(open.Incident.Alarms) != 0 {
		t.Fatalf("%+v %v", open, err)
	}
	rec, err := m.Apply(ctx, incident.Signal{Kind: incident.Recover, EventID: "a2", Scope: alarm, Cause: classify.Alarm, Alarm: "queue-depth", Marks: []string{"evt#a2"}, Message: "OK"})
	if err != nil || !rec.Resolved {
		t.Fatalf("recover: %+v %v", rec, err)
	}
}
