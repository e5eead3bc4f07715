package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	slackapi "github.com/slack-go/slack"
	"go.uber.org/zap"

	"github.com/ecs-medic/ecs-medic/internal/boltstore"
	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/notify/notifytest"
	"github.com/ecs-medic/ecs-medic/internal/notify/slack"
	"github.com/ecs-medic/ecs-medic/internal/remediate"
	"github.com/ecs-medic/ecs-medic/internal/runbook"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakeecs"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakepagerduty"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakes"
	"github.com/ecs-medic/ecs-medic/runbooks"
)

// replayScenario replays testdata/scenarios/<name>.json into a store file and returns the file
// and the incidents it holds, oldest first.
func replayScenario(t *testing.T, name string, getenv func(string) string, args ...string) (string, []*incident.Incident) {
	t.Helper()
	db := filepath.Join(t.TempDir(), "medic.db")
	var out, errOut bytes.Buffer
	argv := append(append([]string{"replay", "--db", db}, args...), "../../testdata/scenarios/"+name+".json")
	if code := run(context.Background(), argv, nil, &out, &errOut, getenv); code != 0 {
		t.Fatalf("replay %s: exit %d: %s\n%s", name, code, errOut.String(), out.String())
	}
	st, err := boltstore.OpenReadOnly(db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	incs, err := st.List(context.Background(), incident.Filter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(incs, func(a, b *incident.Incident) int { return a.OpenedAt.Compare(b.OpenedAt) })
	return db, incs
}

// slackText is everything an incident's Slack message says, and its buttons' action ids.
func slackText(t *testing.T, inc *incident.Incident) (string, []string) {
	t.Helper()
	raw, err := json.Marshal(slack.Blocks(inc))
	if err != nil {
		t.Fatal(err)
	}
	var buttons []string
	for _, b := range slack.Blocks(inc) {
		if a, ok := b.(*slackapi.ActionBlock); ok {
			for _, e := range a.Elements.ElementSet {
				if btn, ok := e.(*slackapi.ButtonBlockElement); ok {
					buttons = append(buttons, btn.ActionID)
				}
			}
		}
	}
	return string(raw), buttons
}

var incidentIDs = regexp.MustCompile(`inc-[0-9a-z]{13}`)

// stable replaces what changes from run to run (incident ids) for a golden file.
func stable(s string) string { return incidentIDs.ReplaceAllString(s, "inc-XXXXXXXXXXXXX") }

// A deployment followed by a crash loop: one incident, linked to the deployment with what it
// changed, "likely bad deploy" in its page and message, and the rollback offered.
func TestScenarioBadDeployThenCrashLoop(t *testing.T) {
	db, incs := replayScenario(t, "bad-deploy", noEnv)
	if len(incs) != 1 {
		t.Fatalf("%d incidents, want 1", len(incs))
	}
	inc := incs[0]
	d := inc.Deployment
	if d == nil {
		t.Fatalf("not linked to the deployment: %+v", inc.Timeline)
	}
	const td = "arn:aws:ecs:us-east-1:111122223333:task-definition/"
	if d.From != td+"orders:7" || d.To != td+"orders:8" || d.After != 3*time.Minute || !d.Rollback || d.DeploymentID != "ecs-svc/8800000000000000008" {
		t.Errorf("link %+v", d)
	}
	if want := []string{"orders image v41 → v42", "orders environment added FEATURE_LEDGER"}; !slices.Equal(d.Changes, want) {
		t.Errorf("changes %q, want %q", d.Changes, want)
	}
	if !strings.HasPrefix(d.Summary(), "likely bad deploy: orders:7 → orders:8") {
		t.Errorf("summary %q", d.Summary())
	}
	text, buttons := slackText(t, inc)
	if !strings.Contains(text, "Likely bad deploy") || !strings.Contains(text, "Rollback returns the service to orders:7") || !slices.Contains(buttons, slack.ActionRollback) {
		t.Errorf("message offers no rollback: buttons %v\n%s", buttons, text)
	}
	if strings.Contains(text, "orders-db.internal") {
		t.Error("an environment value reached the message")
	}

	var out, errOut bytes.Buffer
	if code := postmortemCmd(context.Background(), []string{"--db", db, inc.ID}, &out, &errOut, noEnv, time.Date(2026, 11, 24, 15, 0, 0, 0, time.UTC)); code != 0 {
		t.Fatalf("postmortem exit %d: %s", code, errOut.String())
	}
	notifytest.Golden(t, "postmortem-bad-deploy.md", []byte(stable(out.String())))
}

// A blue/green service on CodeDeploy: the incident is linked to the deployment, but ecs-medic
// never offers or makes a rollback through UpdateService, and says what to do instead.
func TestScenarioBlueGreenIsNeverRolledBackThroughECS(t *testing.T) {
	db, incs := replayScenario(t, "blue-green", noEnv)
	if len(incs) != 1 {
		t.Fatalf("%d incidents, want 1", len(incs))
	}
	inc := incs[0]
	if d := inc.Deployment; d == nil || d.Rollback || !strings.Contains(d.RollbackHelp, "Roll back in CodeDeploy") {
		t.Fatalf("link %+v", inc.Deployment)
	}
	text, buttons := slackText(t, inc)
	if slices.Contains(buttons, slack.ActionRollback) || !strings.Contains(text, "aws deploy stop-deployment") {
		t.Errorf("message: buttons %v\n%s", buttons, text)
	}

	// A human presses for a rollback anyway (/medic rollback, or fix): ECS says the service is
	// CodeDeploy's, and nothing is changed.
	fe := fakeecs.New(fakeecs.Service{Cluster: "prod", Name: "web", Desired: 3, Running: 3, Controller: "CODE_DEPLOY",
		TaskDefinition: "arn:aws:ecs:us-east-1:111122223333:task-definition/web:14"})
	t.Cleanup(fe.Close)
	client := ecs.NewFromConfig(fakes.AWSConfig(""),
		func(o *ecs.Options) { o.BaseEndpoint = aws.String(fe.URL) })
	st, err := boltstore.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	set, err := runbook.Load(runbooks.FS)
	if err != nil {
		t.Fatal(err)
	}
	rem := &remediate.Remediator{ECS: client, Manager: incident.NewManager(st), Guards: st, Runbooks: set, Cap: runbook.Auto, Log: zap.NewNop()}
	for _, req := range []remediate.Request{
		{Incident: inc.ID, By: "slack:U0ALICE", Action: runbook.Rollback},
		{Incident: inc.ID, By: "slack:U0ALICE"},
		{Incident: inc.ID, By: "auto"},
	} {
		out, err := rem.Handle(context.Background(), req)
		if err != nil || out.Done || !strings.Contains(out.Skipped, "CodeDeploy") {
			t.Errorf("%+v: outcome %+v, %v", req, out, err)
		}
	}
	if m := fe.Mutations(); len(m) != 0 {
		t.Errorf("ECS was changed: %+v", m)
	}
}

// A service that keeps breaking and recovering: one incident that counts the relapses and says
// it is flapping, one page, resolved only after the flap window at the desired count.
func TestScenarioFlappingServiceIsOneIncidentAndOnePage(t *testing.T) {
	const key = "R0FLAPPING0000000000000000000000"
	pd := fakepagerduty.New(key)
	t.Cleanup(pd.Close)
	env := map[string]string{"MEDIC_PAGERDUTY_ROUTING_KEY": key, "MEDIC_PAGERDUTY_EVENTS_URL": pd.URL}
	db, incs := replayScenario(t, "flapping", func(k string) string { return env[k] }, "--notify")
	if len(incs) != 1 {
		t.Fatalf("%d incidents, want 1", len(incs))
	}
	inc := incs[0]
	if inc.Flaps != 3 || inc.Occurrences.Count != 8 || inc.State != incident.Resolved {
		t.Errorf("flaps %d, occurrences %d, state %s", inc.Flaps, inc.Occurrences.Count, inc.State)
	}
	if want := time.Date(2026, 11, 25, 9, 52, 0, 0, time.UTC); inc.ResolvedAt == nil || !inc.ResolvedAt.Equal(want) {
		t.Errorf("resolved at %v, want %v (30 minutes at the desired count after the last relapse)", inc.ResolvedAt, want)
	}
	flapping := 0
	for _, e := range inc.Timeline {
		if e.Kind == "flapping" {
			flapping++
			if !strings.Contains(e.Message, "flapping: 3 relapses since 09:00 UTC") {
				t.Errorf("flapping entry %q", e.Message)
			}
		}
	}
	if flapping != 1 {
		t.Errorf("%d flapping entries, want 1", flapping)
	}
	if n := len(pd.Events("trigger")); n != 1 {
		t.Errorf("%d pages, want 1", n)
	}
	if n := len(pd.Events("resolve")); n != 1 {
		t.Errorf("%d resolves, want 1", n)
	}

	var out, errOut bytes.Buffer
	if code := reportCmd(context.Background(), []string{"--db", db, "--since", "1d", "--json"}, &out, &errOut, noEnv, time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)); code != 0 {
		t.Fatalf("report exit %d: %s", code, errOut.String())
	}
	var rep struct {
		Totals struct{ Incidents, Flaps int }
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil || rep.Totals.Incidents != 1 || rep.Totals.Flaps != 3 {
		t.Errorf("report totals %+v (%v)", rep.Totals, err)
	}
}

// A week of incidents with known response times: the report's figures, to the second.
func TestScenarioWeekReport(t *testing.T) {
	db, incs := replayScenario(t, "week", noEnv)
	if len(incs) != 4 {
		t.Fatalf("%d incidents, want 4", len(incs))
	}
	monday := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	var out, errOut bytes.Buffer
	if code := reportCmd(context.Background(), []string{"--db", db, "--since", "7d", "--json"}, &out, &errOut, noEnv, monday); code != 0 {
		t.Fatalf("report exit %d: %s", code, errOut.String())
	}
	type stats struct {
		Service      string
		Incidents    int
		MTTA         *float64 `json:"mtta_seconds"`
		MTTR         *float64 `json:"mttr_seconds"`
		Acknowledged int
		Resolved     int
		SLAMet       int            `json:"sla_met"`
		SLAMissed    int            `json:"sla_missed"`
		BySeverity   map[string]int `json:"by_severity"`
	}
	var rep struct {
		Services []stats
		Totals   stats
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	secs := func(f *float64) float64 {
		if f == nil {
			return -1
		}
		return *f
	}
	// api: acknowledged after 5 and 20 minutes, resolved after 45 and 60; worker: 10 and 36
	// (back at 03:30, resolved after 5 quiet minutes read at 03:31 and 03:36); web: never
	// acknowledged, resolved after 30.
	for _, tc := range []struct {
		got              stats
		name             string
		n                int
		mtta, mttr       float64
		met, missed, ack int
	}{
		{rep.Totals, "totals", 4, 11*60 + 40, 42*60 + 45, 3, 1, 3},
		{find(rep.Services, func(s stats) bool { return s.Service == "api" }), "api", 2, 12*60 + 30, 52*60 + 30, 1, 1, 2},
		{find(rep.Services, func(s stats) bool { return s.Service == "worker" }), "worker", 1, 10 * 60, 36 * 60, 1, 0, 1},
		{find(rep.Services, func(s stats) bool { return s.Service == "web" }), "web", 1, -1, 30 * 60, 1, 0, 0},
	} {
		g := tc.got
		if g.Incidents != tc.n || secs(g.MTTA) != tc.mtta || secs(g.MTTR) != tc.mttr || g.SLAMet != tc.met || g.SLAMissed != tc.missed || g.Acknowledged != tc.ack || g.Resolved != tc.n {
			t.Errorf("%s: %d incidents, MTTA %v s, MTTR %v s, SLA met %d missed %d, acknowledged %d, resolved %d; want %d, %v, %v, %d, %d, %d, %d",
				tc.name, g.Incidents, secs(g.MTTA), secs(g.MTTR), g.SLAMet, g.SLAMissed, g.Acknowledged, g.Resolved, tc.n, tc.mtta, tc.mttr, tc.met, tc.missed, tc.ack, tc.n)
		}
	}
	if s := rep.Totals.BySeverity; s["P1"] != 2 || s["P2"] != 1 || s["P3"] != 1 {
		t.Errorf("by severity %v", s)
	}

	out.Reset()
	if code := reportCmd(context.Background(), []string{"--db", db, "--since", "7d"}, &out, &errOut, noEnv, monday); code != 0 {
		t.Fatalf("report exit %d: %s", code, errOut.String())
	}
	notifytest.Golden(t, "report-week.txt", []byte(stable(out.String())))
}

func find[T any](s []T, f func(T) bool) T {
	var zero T
	if i := slices.IndexFunc(s, f); i >= 0 {
		return s[i]
	}
	return zero
}

// A script that cannot be played says which step and why.
func TestScenarioScriptMistakes(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ name, script, want string }{
		{"unknown service", `[{"time": "2026-11-24T14:00:00Z", "state": {"cluster": "prod", "service": "nope", "running": 1}}]`,
			"script step at 2026-11-24T14:00:00Z: state of prod/nope, which is not among the scenario's services"},
		{"two things at once", `[{"time": "2026-11-24T14:00:00Z", "ack": "prod/orders", "resolve": "prod/orders"}]`, "give one of state, ack, resolve"},
		{"no time", `[{"ack": "prod/orders"}]`, "no time"},
		{"not a service", `[{"time": "2026-11-24T14:00:00Z", "ack": "orders"}]`, "ack and resolve name a service"},
		{"nothing to acknowledge", `[{"time": "2026-11-24T13:00:00Z", "ack": "prod/orders"}]`, "script step at 2026-11-24T13:00:00Z: no active incident on prod/orders"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".json")
			sc := `{"services": [{"cluster": "prod", "service": "orders", "desired": 2, "running": 0}], "events": [], "script": ` + tc.script + `}`
			if err := os.WriteFile(file, []byte(sc), 0o600); err != nil {
				t.Fatal(err)
			}
			var out, errOut bytes.Buffer
			if code := run(context.Background(), []string{"replay", file}, nil, &out, &errOut, noEnv); code != 1 || !strings.Contains(errOut.String(), tc.want) {
				t.Errorf("exit %d, %q; want %q", code, errOut.String(), tc.want)
			}
		})
	}
}
