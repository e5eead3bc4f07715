package report_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ecs-medic/ecs-medic/internal/boltstore"
	"github.com/ecs-medic/ecs-medic/internal/classify"
	"github.com/ecs-medic/ecs-medic/internal/deployment"
	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/incident/incidenttest"
	"github.com/ecs-medic/ecs-medic/internal/notify/notifytest"
	"github.com/ecs-medic/ecs-medic/internal/report"
	"github.com/ecs-medic/ecs-medic/internal/servicestate"
	"github.com/ecs-medic/ecs-medic/internal/severity"
)

// week is a week of incidents made through the incident manager on a real store, with a clock
// the test moves, so every figure of the report is known in advance.
type week struct {
	store *boltstore.Store
	m     *incident.Manager
	clk   *incidenttest.Clock
	ids   map[string]string
	n     int
}

// start is Monday 00:00 of the reported week; now is the following Monday 00:00.
var (
	start = time.Date(2026, 11, 16, 0, 0, 0, 0, time.UTC)
	now   = start.Add(7 * 24 * time.Hour)
)

func newWeek(t *testing.T) *week {
	t.Helper()
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "medic.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	clk := &incidenttest.Clock{T: start}
	seq := 0
	ids := func(time.Time) string { seq++; return fmt.Sprintf("inc-week%09d", seq) }
	return &week{store: st, clk: clk, ids: map[string]string{},
		m: incident.NewManager(st, incident.WithClock(clk.Now), incident.WithIDs(ids))}
}

// open opens an incident at `at` for service with cause, as a failure event would.
func (w *week) open(t *testing.T, name string, at time.Time, service string, cause classify.Cause, level severity.Level, evidence string, tasks int) string {
	t.Helper()
	w.clk.T = at
	scope := incident.Scope{Account: "111122223333", Region: "us-east-1", Cluster: "prod", Service: service}
	var id string
	revision := map[string]int{"checkout": 12, "payments": 31, "search": 4, "api": 9, "billing": 2}[service]
	taskDef := fmt.Sprintf("arn:aws:ecs:us-east-1:111122223333:task-definition/%s:%d", service, revision)
	var exit *int
	switch cause {
	case classify.OOMKilled:
		exit = new(int)
		*exit = 137
	case classify.EssentialExit:
		exit = new(int)
		*exit = 1
	}
	for range tasks {
		w.n++
		task := fmt.Sprintf("%032d", w.n)
		sig := incident.Signal{Kind: incident.Failure, EventID: "evt-" + task, Time: at, Scope: scope, Cause: cause,
			Confidence: classify.Confirmed, Severity: level, Marks: []string{"evt#evt-" + task}, TaskID: task, Evidence: evidence,
			Diagnosis: &classify.Diagnosis{Cause: cause, Confidence: classify.Confirmed, Container: "app", ExitCode: exit,
				Evidence: []classify.Evidence{{Field: "containers[app].reason", Value: evidence}}, Rule: string(cause)},
			Facts: incident.Facts{TaskArn: "arn:aws:ecs:us-east-1:111122223333:task/prod/" + task,
				TaskDefinition: taskDef, StoppedReason: evidence, LaunchType: "FARGATE", CPU: "256", Memory: "512", LogGroup: "/ecs/" + service},
			State: &servicestate.Snapshot{Cluster: "prod", Service: service, Desired: 4, Running: 0, TaskDefinition: taskDef, ReadAt: at}}
		out, err := w.m.Apply(context.Background(), sig)
		if err != nil {
			t.Fatal(err)
		}
		id = out.Incident.ID
	}
	w.ids[name] = id
	return id
}

func (w *week) ack(t *testing.T, id string, at time.Time) {
	t.Helper()
	w.clk.T = at
	if _, ok, err := w.m.Acknowledge(context.Background(), id, "slack:U0ALICE"); err != nil || !ok {
		t.Fatalf("ack %s: %v %v", id, ok, err)
	}
}

func (w *week) resolve(t *testing.T, id string, at time.Time, actor string) {
	t.Helper()
	w.clk.T = at
	if _, ok, err := w.m.Resolve(context.Background(), id, actor, "service at 4/4 running for 5m0s"); err != nil || !ok {
		t.Fatalf("resolve %s: %v %v", id, ok, err)
	}
}

func (w *week) record(t *testing.T, id string, at time.Time, kind incident.EntryKind, msg string, costUSD ...float64) {
	t.Helper()
	w.clk.T = at
	e := incident.Entry{Actor: "ecs-medic", Kind: kind, Message: msg}
	if len(costUSD) == 1 {
		e.CostUSD = &costUSD[0]
	}
	if _, err := w.m.Record(context.Background(), id, e); err != nil {
		t.Fatal(err)
	}
}

// build makes the week every test here reads:
//   - checkout OOM (P1): opened Mon 03:00, acknowledged after 5 min, a fix applied, resolved
//     after 40 min; again Wed 03:00, acknowledged after 20 min (SLA 15 min missed), resolved
//     after 60 min.
//   - payments image-pull (P2): opened Tue 10:00, resolved by itself after 25 min, never
//     acknowledged (SLA 30 min met).
//   - search unknown (P3): opened Fri 12:00, still open, never acknowledged (SLA 2 h missed).
//   - api essential-exit (P3): opened Sun 23:00, open, inside its deadline (pending).
//   - billing, opened the week before, is outside the period.
func build(t *testing.T) *week {
	w := newWeek(t)
	day := 24 * time.Hour
	old := w.open(t, "billing", start.Add(-2*day), "billing", classify.EssentialExit, severity.P3, "Essential container in task exited", 1)
	w.resolve(t, old, start.Add(-2*day+time.Hour), "ecs-medic")

	c1 := w.open(t, "checkout-1", start.Add(3*time.Hour), "checkout", classify.OOMKilled, severity.P1, "OutOfMemoryError: Container killed due to memory usage", 3)
	w.ack(t, c1, start.Add(3*time.Hour+5*time.Minute))
	w.record(t, c1, start.Add(3*time.Hour+6*time.Minute), "action", "raise memory of prod/checkout: register a new revision of checkout:7 with memory 512 → 1024 MiB, and update the service to it; cost: +$6.49/month for 4 task(s) on Fargate in us-east-1", 6.49)
	w.resolve(t, c1, start.Add(3*time.Hour+40*time.Minute), "ecs-medic")

	c2 := w.open(t, "checkout-2", start.Add(2*day+3*time.Hour), "checkout", classify.OOMKilled, severity.P1, "OutOfMemoryError: Container killed due to memory usage", 2)
	w.record(t, c2, start.Add(2*day+3*time.Hour+time.Minute), "action-skipped", "raise-memory not done: cooldown: the last action on this service was 1m ago (cooldown 15m0s)")
	w.ack(t, c2, start.Add(2*day+3*time.Hour+20*time.Minute))
	w.resolve(t, c2, start.Add(2*day+4*time.Hour), "slack:U0ALICE")

	p := w.open(t, "payments", start.Add(day+10*time.Hour), "payments", classify.ImagePull, severity.P2, "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref 111122223333.dkr.ecr.us-east-1.amazonaws.com/payments:v31: not found", 1)
	w.clk.T = start.Add(day + 10*time.Hour)
	if _, err := w.m.LinkDeployment(context.Background(), p, &deployment.Link{DeploymentID: "ecs-svc/31", StartedAt: start.Add(day + 9*time.Hour + 57*time.Minute),
		From: "arn:aws:ecs:us-east-1:111122223333:task-definition/payments:30", To: "arn:aws:ecs:us-east-1:111122223333:task-definition/payments:31",
		After: 3 * time.Minute, Rollback: true, Changes: []string{"api image v30 → v31"}}); err != nil {
		t.Fatal(err)
	}
	w.resolve(t, p, start.Add(day+10*time.Hour+25*time.Minute), "ecs-medic")

	w.open(t, "search", start.Add(4*day+12*time.Hour), "search", classify.Unknown, severity.P3, "Task stopped: the frobnicator declined", 4)
	w.open(t, "api", start.Add(6*day+23*time.Hour), "api", classify.EssentialExit, severity.P3, "Essential container in task exited", 1)
	return w
}

func periodOf(t *testing.T, w *week) report.Period {
	t.Helper()
	incs, err := w.store.List(context.Background(), incident.Filter{Since: start, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return report.Build(incs, start, now, now)
}

func TestWeekFigures(t *testing.T) {
	w := build(t)
	p := periodOf(t, w)

	tot := p.Totals
	if tot.Incidents != 5 {
		t.Fatalf("incidents = %d, want 5 (billing is outside the period)", tot.Incidents)
	}
	checkMean(t, "total MTTA", tot.MTTASeconds, (5*60+20*60)/2)
	checkMean(t, "total MTTR", tot.MTTRSeconds, (40*60+60*60+25*60)/3)
	if tot.SLAMet != 2 || tot.SLAMissed != 2 {
		t.Errorf("SLA met %d missed %d, want 2 and 2 (api is still inside its deadline)", tot.SLAMet, tot.SLAMissed)
	}
	if tot.Actions != 1 || tot.ActionOutcomes[report.ActionRefused] != 1 {
		t.Errorf("actions %d outcomes %v, want 1 applied and 1 refused", tot.Actions, tot.ActionOutcomes)
	}
	if tot.CostUSD != 6.49 {
		t.Errorf("cost change %v, want the applied fix's 6.49 USD/month", tot.CostUSD)
	}
	if tot.TasksLost != 3+2+1+4+1 {
		t.Errorf("tasks lost %d, want 11", tot.TasksLost)
	}
	if got := tot.BySeverity; got["P1"] != 2 || got["P2"] != 1 || got["P3"] != 2 {
		t.Errorf("by severity %v", got)
	}

	if p.Services[0].Service != "checkout" {
		t.Fatalf("busiest service first: got %s", p.Services[0].Service)
	}
	c := p.Services[0]
	if c.Incidents != 2 || c.ByCause["oom-killed"] != 2 || c.SLAMet != 1 || c.SLAMissed != 1 {
		t.Errorf("checkout: %+v", c.Stats)
	}
	checkMean(t, "checkout MTTA", c.MTTASeconds, (5*60+20*60)/2)
	checkMean(t, "checkout MTTR", c.MTTRSeconds, (40*60+60*60)/2)
	if want := []string{w.ids["checkout-1"], w.ids["checkout-2"]}; strings.Join(c.IncidentIDs, ",") != strings.Join(want, ",") {
		t.Errorf("checkout incident ids %v, want %v", c.IncidentIDs, want)
	}
	for _, s := range p.Services {
		if s.Service == "payments" && (s.MTTASeconds != nil || s.SLAMet != 1) {
			t.Errorf("payments: never acknowledged, resolved in time: %+v", s.Stats)
		}
	}
	if len(p.Recurring) != 1 || p.Recurring[0].Scope != "prod/checkout" || p.Recurring[0].Incidents != 2 {
		t.Errorf("recurring %+v", p.Recurring)
	}
	if len(p.TopCauses) == 0 || p.TopCauses[0].Cause != "oom-killed" {
		t.Errorf("top causes %+v", p.TopCauses)
	}
	if len(p.Unknown) != 1 || p.Unknown[0].Text != "Task stopped: the frobnicator declined" || p.Unknown[0].Services[0] != "prod/search" {
		t.Errorf("unknown texts %+v", p.Unknown)
	}
}

func checkMean(t *testing.T, what string, got *float64, want int) {
	t.Helper()
	if got == nil || *got != float64(want) {
		t.Errorf("%s = %v, want %d s", what, deref(got), want)
	}
}

func deref(f *float64) any {
	if f == nil {
		return nil
	}
	return *f
}

func TestSLAOutcome(t *testing.T) {
	at := func(m int) *time.Time { v := start.Add(time.Duration(m) * time.Minute); return &v }
	deadline := start.Add(15 * time.Minute)
	for _, tc := range []struct {
		name       string
		ack, res   *time.Time
		now        time.Time
		wantResult string
	}{
		{"acknowledged on the deadline", at(15), nil, now, report.SLAMet},
		{"acknowledged a second late", nil, nil, now, report.SLAMissed},
		{"resolved before anyone acknowledged", nil, at(10), now, report.SLAMet},
		{"resolved late", nil, at(16), now, report.SLAMissed},
		{"acknowledged late, resolved in time is still late", at(20), at(30), now, report.SLAMissed},
		{"open inside its deadline", nil, nil, start.Add(14 * time.Minute), report.SLAPending},
		{"open past its deadline", nil, nil, start.Add(16 * time.Minute), report.SLAMissed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inc := &incident.Incident{OpenedAt: start, SLADeadline: deadline, AcknowledgedAt: tc.ack, ResolvedAt: tc.res}
			if tc.name == "acknowledged a second late" {
				late := deadline.Add(time.Second)
				inc.AcknowledgedAt = &late
			}
			if got := report.SLAOutcome(inc, tc.now); got != tc.wantResult {
				t.Errorf("got %s, want %s", got, tc.wantResult)
			}
		})
	}
}

func TestReportGolden(t *testing.T) {
	w := build(t)
	p := periodOf(t, w)
	var text bytes.Buffer
	if err := report.WriteText(&text, p); err != nil {
		t.Fatal(err)
	}
	notifytest.Golden(t, "week.txt", text.Bytes())
	js, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	notifytest.Golden(t, "week.json", append(js, '\n'))
}

func TestPostmortemGolden(t *testing.T) {
	w := build(t)
	for _, name := range []string{"checkout-2", "search", "payments"} {
		inc, err := w.store.Get(context.Background(), w.ids[name])
		if err != nil {
			t.Fatal(err)
		}
		var md bytes.Buffer
		if err := report.WritePostmortem(&md, inc, now); err != nil {
			t.Fatal(err)
		}
		notifytest.Golden(t, "postmortem-"+name+".md", md.Bytes())
	}
}

func TestPostmortemKeepsEventTextLiteral(t *testing.T) {
	// A container reason is anyone's text: it must not add headings, links or table cells.
	w := newWeek(t)
	id := w.open(t, "x", start, "web", classify.Unknown, severity.P3, "boom\n# Fake heading | [click](https://evil.example) <b>x</b>", 1)
	inc, err := w.store.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var md bytes.Buffer
	if err := report.WritePostmortem(&md, inc, now); err != nil {
		t.Fatal(err)
	}
	// Inside code spans text is shown as it is; everywhere else it must be escaped.
	out := regexp.MustCompile("`[^`\n]*`").ReplaceAllString(md.String(), "CODE")
	if regexp.MustCompile(`(^|[^\\])\]\(`).MatchString(out) || strings.Contains(out, "<b>") || strings.Contains(out, "\n# Fake") {
		t.Errorf("postmortem carries markup from event text:\n%s", md.String())
	}
	if !strings.Contains(md.String(), "`boom # Fake heading | [click](https://evil.example) <b>x</b>`") {
		t.Errorf("the evidence is not quoted verbatim (as code):\n%s", md.String())
	}
}

func TestParseSince(t *testing.T) {
	for in, want := range map[string]time.Duration{"7d": 7 * 24 * time.Hour, "2w": 14 * 24 * time.Hour, "36h": 36 * time.Hour, " 90m ": 90 * time.Minute} {
		if got, err := report.ParseSince(in); err != nil || got != want {
			t.Errorf("ParseSince(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "x", "30s", "4000d", "-1d", "d", "1.5d"} {
		if _, err := report.ParseSince(bad); err == nil {
			t.Errorf("ParseSince(%q) accepted", bad)
		}
	}
}

// The examples in docs/insight.md are this package's golden outputs: when the output changes, the
// documentation must follow.
func TestDocumentedExamplesAreCurrent(t *testing.T) {
	doc, err := os.ReadFile("../../docs/insight.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, golden := range []string{"week.txt", "postmortem-payments.md"} {
		want, err := os.ReadFile(filepath.Join("testdata", "golden", golden))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(doc), string(want)) {
			t.Errorf("docs/insight.md does not show the current %s: paste testdata/golden/%s into it", golden, golden)
		}
	}
}
