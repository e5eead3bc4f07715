package chatops_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ecs-medic/ecs-medic/internal/classify"
	"github.com/ecs-medic/ecs-medic/internal/incident/incidenttest"
	"github.com/ecs-medic/ecs-medic/internal/severity"
)

func TestReportAndPostmortemCommands(t *testing.T) {
	g := newRig(t)
	inc := g.open(t, classify.OOMKilled)
	g.clk.Advance(10 * time.Minute)
	if _, _, err := g.m.Acknowledge(context.Background(), inc.ID, "slack:U0ALICE"); err != nil {
		t.Fatal(err)
	}
	// An unknown text that tries to ping everyone: the answer must not.
	sig := incidenttest.Failure(classify.Unknown, 2, severity.P3)
	sig.Evidence = "<!channel> wake up <https://evil.example|runbook>"
	if _, err := g.m.Apply(context.Background(), sig); err != nil {
		t.Fatal(err)
	}

	// Read-only: anyone may ask, not only allowed users.
	_, ack := g.command(t, "U0MALLORY", "report")
	if !strings.Contains(ack, "Writing the report") {
		t.Fatalf("ack %q", ack)
	}
	rep := g.deferred(t)
	for _, want := range []string{"```", "2 incident(s) in 1 service(s)", "prod/checkout", "MTTA 10 min", "&lt;!channel&gt;"} {
		if !strings.Contains(rep, want) {
			t.Errorf("report lacks %q:\n%s", want, rep)
		}
	}
	if strings.Contains(rep, "<!channel>") || strings.Contains(rep, "<https://evil") {
		t.Errorf("report carries live Slack markup from event text:\n%s", rep)
	}

	_, ack = g.command(t, "U0MALLORY", "postmortem "+inc.ID)
	if !strings.Contains(ack, "Writing the postmortem") {
		t.Fatalf("ack %q", ack)
	}
	pm := g.deferred(t)
	for _, want := range []string{"Postmortem draft of `" + inc.ID + "`", "# Postmortem draft: checkout", "## Timeline (UTC)", "acknowledged by slack:U0ALICE"} {
		if !strings.Contains(pm, want) {
			t.Errorf("postmortem lacks %q:\n%s", want, pm)
		}
	}

	_, ack = g.command(t, "U0MALLORY", "postmortem inc-nope")
	if !strings.Contains(ack, "Writing") {
		t.Fatalf("ack %q", ack)
	}
	if got := g.deferred(t); !strings.Contains(got, "No incident `inc-nope`") {
		t.Errorf("missing incident: %q", got)
	}
	for text, want := range map[string]string{"report forever": "write it as 24h, 7d or 2w", "report 1d 2d": "Usage", "postmortem": "Usage"} {
		if _, got := g.command(t, "U0MALLORY", text); !strings.Contains(got, want) {
			t.Errorf("%q answered %q, want %q", text, got, want)
		}
	}
}

func TestReportCountsOnlyThePeriod(t *testing.T) {
	g := newRig(t)
	old := g.open(t, classify.OOMKilled)
	if _, _, err := g.m.Resolve(context.Background(), old.ID, "ecs-medic", "recovered"); err != nil {
		t.Fatal(err)
	}
	g.clk.Advance(3 * 24 * time.Hour)
	if _, err := g.m.Apply(context.Background(), incidenttest.Failure(classify.ImagePull, 9, severity.P2)); err != nil {
		t.Fatal(err)
	}
	g.command(t, "U0BOB", "report 24h")
	rep := g.deferred(t)
	if !strings.Contains(rep, "1 incident(s)") || strings.Contains(rep, "oom-killed") {
		t.Errorf("24h report should hold only the image-pull incident:\n%s", rep)
	}
}
