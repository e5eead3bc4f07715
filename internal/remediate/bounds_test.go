package remediate_test

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/ecs-medic/ecs-medic/internal/classify"
	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/incident/incidenttest"
	"github.com/ecs-medic/ecs-medic/internal/remediate"
	"github.com/ecs-medic/ecs-medic/internal/runbook"
	"github.com/ecs-medic/ecs-medic/internal/severity"
)

// A human's /medic scale on an incident no runbook matched is held to MEDIC_MAX_TASKS: there is
// no runbook max_tasks to consult.
func TestHumanScaleWithoutARunbook(t *testing.T) {
	g := newRig(t, checkout(3))
	g.r.MaxTasks = 6
	sig := incidenttest.Failure(classify.Unknown, 1, severity.P2)
	sig.Time = g.clk.Now()
	opened, err := g.m.Apply(context.Background(), sig)
	if err != nil {
		t.Fatal(err)
	}
	id := opened.Incident.ID
	if opened.Incident.Runbook != "" {
		t.Fatalf("the incident has runbook %q", opened.Incident.Runbook)
	}
	scale := func(n int) remediate.Outcome {
		return g.handle(t, remediate.Request{Incident: id, By: "slack:alice", Action: runbook.ScaleOut, Desired: n})
	}
	mustSkip(t, scale(7), "7 tasks is above 6, the most ecs-medic may set (MEDIC_MAX_TASKS)")
	mustDo(t, scale(6))
	if up := g.ecs.Calls("UpdateService"); len(up) != 1 || up[0].Body["desiredCount"] != float64(6) {
		t.Fatalf("%+v", up)
	}
}

// When two bounds of a scale-out are equal, the refusal names the one checked first: the absolute
// cap (MEDIC_MAX_TASKS), then the runbook's max_tasks, then the auto-scaling maximum.
func TestScaleOutRefusalNamesTheFirstOfEqualBounds(t *testing.T) {
	for _, tc := range []struct {
		name              string
		maxTasks, runbook int
		maxCap            int
		says              string
	}{
		{"MEDIC_MAX_TASKS and max_tasks", 8, 8, 0, "above 8, the most ecs-medic may set (MEDIC_MAX_TASKS)"},
		{"max_tasks and the auto-scaling maximum", 0, 8, 8, "above 8, the runbook's max_tasks"},
		{"MEDIC_MAX_TASKS and the auto-scaling maximum", 8, 10, 8, "above 8, the most ecs-medic may set (MEDIC_MAX_TASKS)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc := checkout(4)
			svc.MaxCapacity = tc.maxCap
			g := newRig(t, svc, "cpu-high")
			g.r.MaxTasks = tc.maxTasks
			g.r.Runbooks.ByID("cpu-high").Fix.Params = map[string]any{"step": 2, "max_tasks": tc.runbook}
			sig := incident.Signal{Kind: incident.Failure, EventID: "a1", Scope: incidenttest.Scope,
				Cause: classify.Alarm, Runbook: "cpu-high", Marks: []string{"evt#a1"}, Time: g.clk.Now()}
			opened, err := g.m.Apply(context.Background(), sig)
			if err != nil {
				t.Fatal(err)
			}
			mustSkip(t, g.handle(t, remediate.Request{Incident: opened.Incident.ID, By: "slack:alice", Action: runbook.ScaleOut, Desired: 9}), tc.says)
			if len(g.ecs.Mutations()) != 0 {
				t.Fatalf("%+v", g.ecs.Mutations())
			}
		})
	}
}

// A fix that went well logs no warning or error: the warnings are for the record that could not be
// written, which operators are told to look into.
func TestAFixThatWentWellWarnsOfNothing(t *testing.T) {
	g := newRig(t, checkout(0), "oom-killed")
	core, logs := observer.New(zapcore.WarnLevel)
	g.r.Log = zap.New(core)
	inc := g.open(t, classify.OOMKilled, "oom-killed", td12, 1)
	mustDo(t, g.fix(t, inc.ID))
	if got := g.incident(t, inc.ID); got.VerifyBy == nil {
		t.Fatal("no verification window")
	}
	for _, e := range logs.All() {
		t.Errorf("logged %s %q %v", e.Level, e.Message, e.ContextMap())
	}
}

// Memory is raised only under a raise-memory runbook's max_memory_mib: a raise-memory asked for
// on an incident whose runbook fixes something else (a request sent straight to the remediation
// function) has no cap, and is refused on EC2 and on Fargate alike, nothing registered, nothing
// counted.
func TestRaiseMemoryWithoutACapIsRefused(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(map[string]any)
	}{
		{"EC2", ec2(1000, 300)},
		{"Fargate", fargate("256", "512")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newRig(t, checkout(0))
			g.tune("host-lost", runbook.Auto, 15*time.Minute, 3)
			putTaskDef(t, g, tc.change)
			sig := incidenttest.Failure(classify.HostLost, 2, severity.P1)
			sig.Runbook, sig.Facts.TaskDefinition, sig.Time = "host-lost", td12, g.clk.Now()
			sig.Diagnosis = &classify.Diagnosis{Cause: classify.HostLost, Container: "api", Rule: "test"}
			opened, err := g.m.Apply(context.Background(), sig)
			if err != nil {
				t.Fatal(err)
			}
			out := g.handle(t, remediate.Request{Incident: opened.Incident.ID, By: "slack:alice", Action: runbook.RaiseMemory})
			mustSkip(t, out, "no max_memory_mib to bound the raise")
			if len(g.ecs.Mutations()) != 0 || len(g.guard(t).Actions) != 0 {
				t.Fatalf("mutations %+v, actions %v", g.ecs.Mutations(), g.guard(t).Actions)
			}
		})
	}
}
