package remediate_test

// Each guardrail of the runbook/remediation contract, pinned by a test that fails when the rule is
// weakened or removed: the outcome is asserted (the ECS calls made or not, the refusal and its
// reason, the guard and incident the store holds), on an injected clock.

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecs"

	"github.com/ecs-medic/ecs-medic/internal/accounts"
	"github.com/ecs-medic/ecs-medic/internal/classify"
	"github.com/ecs-medic/ecs-medic/internal/cost"
	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/incident/incidenttest"
	"github.com/ecs-medic/ecs-medic/internal/notify"
	"github.com/ecs-medic/ecs-medic/internal/remediate"
	"github.com/ecs-medic/ecs-medic/internal/runbook"
	"github.com/ecs-medic/ecs-medic/internal/severity"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakeecs"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakes"
)

const td11 = "arn:aws:ecs:us-east-1:111122223333:task-definition/checkout:11"

// handle runs a request; an error fails the test.
func (g *rig) handle(t *testing.T, req remediate.Request) remediate.Outcome {
	t.Helper()
	out, err := g.r.Handle(context.Background(), req)
	if err != nil {
		t.Fatalf("%+v: %v", req, err)
	}
	return out
}

// guard reads the service's remediation guard as the store holds it.
func (g *rig) guard(t *testing.T) incident.Guard {
	t.Helper()
	gd, err := g.st.UpdateGuard(context.Background(), incidenttest.Scope, func(*incident.Guard) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	return gd
}

// setGuard changes the service's guard.
func (g *rig) setGuard(t *testing.T, fn func(*incident.Guard)) {
	t.Helper()
	if _, err := g.st.UpdateGuard(context.Background(), incidenttest.Scope, func(gd *incident.Guard) error { fn(gd); return nil }); err != nil {
		t.Fatal(err)
	}
}

// incident reads an incident.
func (g *rig) incident(t *testing.T, id string) *incident.Incident {
	t.Helper()
	inc, err := g.m.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return inc
}

// tune sets a runbook's mode, cooldown and daily cap.
func (g *rig) tune(id string, mode runbook.Mode, cooldown time.Duration, maxPerDay int) *runbook.Runbook {
	rb := g.r.Runbooks.ByID(id)
	rb.Fix.Mode, rb.Fix.Cooldown.Duration, rb.Fix.MaxPerDay = mode, cooldown, maxPerDay
	return rb
}

// count counts the ECS calls of one operation.
func (g *rig) count(op string) int { return len(g.ecs.Calls(op)) }

// spyECS lets a test act while an action is under way: during runs just before each
// UpdateService reaches ECS.
type spyECS struct {
	remediate.ECS
	during func()
}

func (s *spyECS) UpdateService(ctx context.Context, in *ecs.UpdateServiceInput, optFns ...func(*ecs.Options)) (*ecs.UpdateServiceOutput, error) {
	if f := s.during; f != nil {
		s.during = nil
		f()
	}
	return s.ECS.UpdateService(ctx, in, optFns...)
}

func mustSkip(t *testing.T, out remediate.Outcome, says ...string) {
	t.Helper()
	if out.Done || out.DryRun || out.Skipped == "" {
		t.Fatalf("want a refusal saying %q, got %+v", says, out)
	}
	for _, s := range says {
		if !strings.Contains(out.Skipped, s) {
			t.Fatalf("refusal %q does not say %q", out.Skipped, s)
		}
	}
}

func mustDo(t *testing.T, out remediate.Outcome) {
	t.Helper()
	if !out.Done || out.Skipped != "" {
		t.Fatalf("want the action done, got %+v", out)
	}
}

// max_per_day: the third action in 24 h runs, the fourth is refused (force or not) until the
// first is 24 h old, and then exactly one more may run.
func TestDailyCapAndItsWindow(t *testing.T) {
	g := newRig(t, checkout(0))
	g.tune("host-lost", runbook.Auto, 15*time.Minute, 3)
	inc := g.open(t, classify.HostLost, "host-lost", td12, 1)
	t0 := g.clk.Now()
	for i := range 3 {
		mustDo(t, g.fix(t, inc.ID))
		if i < 2 {
			g.clk.Advance(time.Hour)
		}
	}
	g.clk.Advance(time.Hour) // t0 + 3 h: cooldown long over, three actions in the window
	for _, req := range []remediate.Request{{Incident: inc.ID, By: "auto"}, {Incident: inc.ID, By: "slack:alice", Force: true}} {
		// 24 h after the first action, Nov 27 03:00 → Nov 28 03:00.
		mustSkip(t, g.handle(t, req), "3 actions on this service in the last 24 h", "max_per_day", "after Nov 28 03:00 UTC")
	}
	g.clk.Advance(24*time.Hour - 3*time.Hour - time.Second) // t0 + 24 h − 1 s: still three in the window
	mustSkip(t, g.fix(t, inc.ID), "max_per_day")
	g.clk.Advance(2 * time.Second) // t0 + 24 h + 1 s: the first has left the window
	mustDo(t, g.fix(t, inc.ID))
	// One, not more: the actions of t0 + 1 h and t0 + 2 h are still in the window.
	g.clk.Advance(20 * time.Minute)
	mustSkip(t, g.fix(t, inc.ID), "after Nov 28 04:00 UTC")
	if n := g.count("UpdateService"); n != 4 {
		t.Fatalf("%d UpdateService calls, want 4", n)
	}
	if got := g.guard(t).Actions; len(got) != 3 || !got[0].Equal(t0.Add(time.Hour)) {
		t.Fatalf("guard keeps %v, want the last 24 h's three actions", got)
	}
}

// An action exactly 24 h old no longer counts against max_per_day.
func TestDailyCapWindowBoundary(t *testing.T) {
	g := newRig(t, checkout(0))
	g.tune("host-lost", runbook.Auto, time.Minute, 1)
	inc := g.open(t, classify.HostLost, "host-lost", td12, 1)
	mustDo(t, g.fix(t, inc.ID))
	g.clk.Advance(24*time.Hour - time.Second)
	mustSkip(t, g.fix(t, inc.ID), "max_per_day")
	g.clk.Advance(time.Second)
	mustDo(t, g.fix(t, inc.ID))
}

// A request whose action is not the runbook's (a human's /medic scale on an OOM incident) gets the
// default guardrails: 15 minutes apart, three a day. Exactly at the end of the cooldown it may act.
func TestDefaultCooldownAndCapForAnotherAction(t *testing.T) {
	g := newRig(t, checkout(0))
	g.tune("oom-killed", runbook.Suggest, 2*time.Hour, 1) // the runbook's own, much stricter
	inc := g.open(t, classify.OOMKilled, "oom-killed", td12, 1)
	scale := func(n int, force bool) remediate.Outcome {
		return g.handle(t, remediate.Request{Incident: inc.ID, By: "slack:alice", Action: runbook.ScaleOut, Desired: n, Force: force})
	}
	mustDo(t, scale(5, false))
	g.clk.Advance(15*time.Minute - time.Second)
	mustSkip(t, scale(6, false), "cooldown", "waits 15 min", "wait for it to pass")
	g.clk.Advance(time.Second)
	mustDo(t, scale(6, false))
	g.clk.Advance(15 * time.Minute)
	mustDo(t, scale(7, false))
	g.clk.Advance(15 * time.Minute)
	mustSkip(t, scale(8, false), "3 actions", "max_per_day")
	mustSkip(t, scale(8, true), "max_per_day")
	if svc := g.ecs.Service("prod", "checkout"); svc.Desired != 7 || g.count("UpdateService") != 3 {
		t.Fatalf("desired %d after %d updates, want 7 after 3", svc.Desired, g.count("UpdateService"))
	}
}

// force comes only from a human and skips only the cooldown: not the tags, the lease or the cap.
func TestForceIsHumanAndOnlySkipsTheCooldown(t *testing.T) {
	g := newRig(t, checkout(0))
	g.tune("host-lost", runbook.Auto, time.Hour, 2)
	inc := g.open(t, classify.HostLost, "host-lost", td12, 1)
	mustDo(t, g.fix(t, inc.ID))
	g.clk.Advance(time.Minute)
	mustSkip(t, g.handle(t, remediate.Request{Incident: inc.ID, By: "auto", Force: true}), "cooldown", "the next failure after it may act again")
	mustSkip(t, g.handle(t, remediate.Request{Incident: inc.ID, By: "", Force: true}), "cooldown")
	mustSkip(t, g.handle(t, remediate.Request{Incident: inc.ID, By: "slack:alice"}), "cooldown", "`/medic fix "+inc.ID+" force` overrides the cooldown")
	out := g.handle(t, remediate.Request{Incident: inc.ID, By: "slack:alice", Force: true})
	mustDo(t, out)
	if !strings.HasSuffix(out.Plan, " (cooldown overridden by slack:alice)") {
		t.Fatalf("the override is not recorded: %q", out.Plan)
	}
	// The cap (2) is now reached: force does not pass it.
	g.clk.Advance(time.Minute)
	mustSkip(t, g.handle(t, remediate.Request{Incident: inc.ID, By: "slack:alice", Force: true}), "max_per_day")
	if n := g.count("UpdateService"); n != 2 {
		t.Fatalf("%d updates, want 2", n)
	}

	t.Run("not the opt-out tag", func(t *testing.T) {
		svc := checkout(0)
		svc.Tags = map[string]string{"medic:auto-fix": "off"}
		g := newRig(t, svc)
		inc := g.open(t, classify.HostLost, "host-lost", td12, 1)
		mustSkip(t, g.handle(t, remediate.Request{Incident: inc.ID, By: "slack:alice", Force: true}), "medic:auto-fix=off")
		if len(g.ecs.Mutations()) != 0 {
			t.Fatal("changed a service tagged medic:auto-fix=off")
		}
	})
}

// One action at a time per service: while an action is under way its lease (2 minutes, held in
// the store) refuses every other request, a human's forced one too; the action was counted
// before it started; the lease is let go when the action ends.
func TestLeaseHeldWhileActing(t *testing.T) {
	g := newRig(t, checkout(0))
	g.tune("host-lost", runbook.Auto, 15*time.Minute, 3)
	inc := g.open(t, classify.HostLost, "host-lost", td12, 1)
	now := g.clk.Now()
	var during incident.Guard
	var second remediate.Outcome
	spy := &spyECS{ECS: g.r.ECS}
	spy.during = func() {
		during = g.guard(t)
		second = g.handle(t, remediate.Request{Incident: inc.ID, By: "slack:alice", Force: true})
	}
	g.r.ECS = spy
	mustDo(t, g.fix(t, inc.ID))
	mustSkip(t, second, "another action on this service is under way")
	if !strings.HasPrefix(during.LeaseHolder, inc.ID+"/") || !during.LeaseUntil.Equal(now.Add(2*time.Minute)) {
		t.Fatalf("lease during the action: %q until %v, want %s/… until %v", during.LeaseHolder, during.LeaseUntil, inc.ID, now.Add(2*time.Minute))
	}
	if len(during.Actions) != 1 || !during.Actions[0].Equal(now) {
		t.Fatalf("actions on record while acting: %v, want the running one counted", during.Actions)
	}
	if n := g.count("UpdateService"); n != 1 {
		t.Fatalf("%d updates, want 1", n)
	}
	after := g.guard(t)
	if after.LeaseHolder != "" || !after.LeaseUntil.IsZero() || len(after.Actions) != 1 {
		t.Fatalf("after the action: %+v", after)
	}
	// Released: a human's forced request right after is not held up by a lease.
	mustDo(t, g.handle(t, remediate.Request{Incident: inc.ID, By: "slack:alice", Force: true}))
}

// A lease left by a handler that died holds for its 2 minutes, then the next handler takes it.
func TestStaleLeaseExpires(t *testing.T) {
	g := newRig(t, checkout(0))
	g.tune("host-lost", runbook.Auto, 15*time.Minute, 3)
	inc := g.open(t, classify.HostLost, "host-lost", td12, 1)
	g.setGuard(t, func(gd *incident.Guard) {
		gd.LeaseHolder, gd.LeaseUntil = "dead/handler", g.clk.Now().Add(2*time.Minute)
	})
	g.clk.Advance(2*time.Minute - time.Second)
	mustSkip(t, g.fix(t, inc.ID), "under way")
	g.clk.Advance(time.Second)
	mustDo(t, g.fix(t, inc.ID))
}

// The action is counted before it starts, and taken back only when nothing was changed: planning
// refused, or a dry run. A failed action stays counted.
func TestCountedThenTakenBack(t *testing.T) {
	t.Run("planning refused", func(t *testing.T) {
		g := newRig(t, checkout(0), "oom-killed")
		g.r.Runbooks.ByID("oom-killed").Fix.Params["max_memory_mib"] = 512 // the task has 512: at the cap
		inc := g.open(t, classify.OOMKilled, "oom-killed", td12, 1)
		mustSkip(t, g.fix(t, inc.ID), "already at the runbook's cap max_memory_mib 512")
		if gd := g.guard(t); len(gd.Actions) != 0 || gd.LeaseHolder != "" {
			t.Fatalf("a refused plan left %+v", gd)
		}
		// Nothing happened, so no cooldown: a human may scale at once.
		mustDo(t, g.handle(t, remediate.Request{Incident: inc.ID, By: "slack:alice", Action: runbook.ScaleOut, Desired: 5}))
	})
	t.Run("dry run", func(t *testing.T) {
		g := newRig(t, checkout(0), "oom-killed")
		g.r.DryRun = true
		inc := g.open(t, classify.OOMKilled, "oom-killed", td12, 1)
		out := g.fix(t, inc.ID)
		if !out.DryRun || out.Done || !strings.Contains(out.Plan, "512 → 1024 MiB") || len(g.ecs.Mutations()) != 0 {
			t.Fatalf("%+v, %d mutations", out, len(g.ecs.Mutations()))
		}
		if gd := g.guard(t); len(gd.Actions) != 0 {
			t.Fatalf("a dry run counted %v", gd.Actions)
		}
		g.r.DryRun = false
		mustDo(t, g.fix(t, inc.ID))
	})
	t.Run("failed action", func(t *testing.T) {
		g := newRig(t, checkout(0))
		g.tune("host-lost", runbook.Auto, 15*time.Minute, 3)
		inc := g.open(t, classify.HostLost, "host-lost", td12, 1)
		g.ecs.FailNext(1, fakes.Fault{Op: "UpdateService", Status: 400, Code: "InvalidParameterException"})
		if _, err := g.r.Handle(context.Background(), remediate.Request{Incident: inc.ID, By: "auto"}); err == nil {
			t.Fatal("the failure was hidden")
		}
		if gd := g.guard(t); len(gd.Actions) != 1 || gd.LeaseHolder != "" {
			t.Fatalf("after a failed action: %+v", gd)
		}
	})
}

// After a relapse (the cause back after a fix) or a failed action, automation is stopped for the
// incident: automatic requests are refused, a human may still act.
func TestStoppedAutomationRefusesAutoButNotHumans(t *testing.T) {
	t.Run("relapse", func(t *testing.T) {
		g := newRig(t, checkout(0))
		g.tune("host-lost", runbook.Auto, 15*time.Minute, 3)
		inc := g.open(t, classify.HostLost, "host-lost", td12, 1)
		mustDo(t, g.fix(t, inc.ID))
		g.clk.Advance(2 * time.Minute)
		if again := g.open(t, classify.HostLost, "host-lost", td12, 2); again.ID != inc.ID || again.AutomationStopped == "" {
			t.Fatalf("the failure after the fix did not stop automation: %+v", again)
		}
		g.clk.Advance(time.Hour)
		mustSkip(t, g.fix(t, inc.ID), "automation is stopped for this incident", "the cause recurred after the fix")
		if n := g.count("UpdateService"); n != 1 {
			t.Fatalf("%d updates, want 1", n)
		}
		mustDo(t, g.handle(t, remediate.Request{Incident: inc.ID, By: "slack:alice"}))
	})
	t.Run("failed action", func(t *testing.T) {
		g := newRig(t, checkout(0))
		g.tune("host-lost", runbook.Auto, 15*time.Minute, 3)
		inc := g.open(t, classify.HostLost, "host-lost", td12, 1)
		g.ecs.FailNext(1, fakes.Fault{Op: "UpdateService", Status: 400, Code: "InvalidParameterException"})
		out, err := g.r.Handle(context.Background(), remediate.Request{Incident: inc.ID, By: "auto"})
		if err == nil || out.Done {
			t.Fatalf("a failed action reported %+v %v", out, err)
		}
		got := g.incident(t, inc.ID)
		if !strings.Contains(got.AutomationStopped, "force-new-deployment failed") || got.Timeline[len(got.Timeline)-1].Kind != "action-failed" {
			t.Fatalf("stopped %q, last entry %+v", got.AutomationStopped, got.Timeline[len(got.Timeline)-1])
		}
		g.clk.Advance(time.Hour)
		mustSkip(t, g.fix(t, inc.ID), "automation is stopped")
		mustDo(t, g.handle(t, remediate.Request{Incident: inc.ID, By: "slack:alice"}))
		if n := g.count("UpdateService"); n != 2 {
			t.Fatalf("%d update attempts, want 2 (the failed one, the human's)", n)
		}
	})
}

// A rollback is never to a revision that failed, also when it failed in an earlier incident: the
// revision rolled back from is remembered for the service.
func TestRollbackAcrossIncidentsNeverReturnsToAFailedRevision(t *testing.T) {
	g := newRig(t, badDeploy(), "essential-exit")
	first := g.open(t, classify.EssentialExit, "essential-exit", td13, 1)
	mustDo(t, g.fix(t, first.ID))
	if muts := g.ecs.Mutations(); len(muts) != 1 || muts[0].Body["taskDefinition"] != td12 || muts[0].Body["forceNewDeployment"] != true {
		t.Fatalf("rollback: %+v", muts)
	}
	if got := g.guard(t).FailedTaskDefinitions; len(got) != 1 || got[0] != td13 {
		t.Fatalf("failed revisions on record: %v", got)
	}
	if _, _, err := g.m.Resolve(context.Background(), first.ID, "ecs-medic", "recovered"); err != nil {
		t.Fatal(err)
	}
	// Now revision 12 fails too. The service runs 12, revision 13 is still an ACTIVE deployment,
	// and this second incident knows only revision 12: the memory of the first must refuse 13.
	g.clk.Advance(time.Hour)
	second := g.open(t, classify.EssentialExit, "essential-exit", td12, 2)
	if len(second.Occurrences.TaskDefinitions) != 1 || second.Occurrences.TaskDefinitions[0] != td12 {
		t.Fatalf("the second incident knows %v", second.Occurrences.TaskDefinitions)
	}
	mustSkip(t, g.fix(t, second.ID), "no earlier revision that ran stably and has not failed")
	if n := len(g.ecs.Mutations()); n != 1 {
		t.Fatalf("rolled back again: %d mutations", n)
	}
	// With a stable revision on record, that is where it goes (and never to 13).
	g.setGuard(t, func(gd *incident.Guard) { gd.StableTaskDefinition = td11 })
	mustDo(t, g.fix(t, second.ID))
	if muts := g.ecs.Mutations(); len(muts) != 2 || muts[1].Body["taskDefinition"] != td11 {
		t.Fatalf("second rollback: %+v", muts)
	}
	if got := g.guard(t).FailedTaskDefinitions; len(got) != 2 || got[1] != td12 {
		t.Fatalf("failed revisions on record: %v", got)
	}
}

// rollbackRig is a service deploying revision 13 over an ACTIVE 12.
func rollbackRig(t *testing.T) *rig {
	svc := checkout(1)
	svc.TaskDefinition = td13
	svc.Deployments = []fakeecs.Deployment{
		{ID: "ecs-svc/2", Status: "PRIMARY", TaskDefinition: td13, RolloutState: "IN_PROGRESS", Desired: 4},
		{ID: "ecs-svc/1", Status: "ACTIVE", TaskDefinition: td12, RolloutState: "COMPLETED", Desired: 4, Running: 1},
	}
	return newRig(t, svc, "essential-exit")
}

func TestRollbackRules(t *testing.T) {
	t.Run("a failed rollback is an error, not done", func(t *testing.T) {
		g := rollbackRig(t)
		inc := g.open(t, classify.EssentialExit, "essential-exit", td13, 1)
		g.ecs.FailNext(1, fakes.Fault{Op: "UpdateService", Status: 400, Code: "InvalidParameterException"})
		out, err := g.r.Handle(context.Background(), remediate.Request{Incident: inc.ID, By: "auto"})
		if err == nil || out.Done || !strings.Contains(err.Error(), "update service prod/checkout") {
			t.Fatalf("%+v %v", out, err)
		}
		if got := g.incident(t, inc.ID); got.AutomationStopped == "" || got.VerifyBy != nil {
			t.Fatalf("after a failed rollback: stopped %q, verify by %v", got.AutomationStopped, got.VerifyBy)
		}
	})
	t.Run("the failing revision must be the one deployed", func(t *testing.T) {
		g := rollbackRig(t)
		inc := g.open(t, classify.EssentialExit, "essential-exit", td11, 1)
		mustSkip(t, g.fix(t, inc.ID), "the failing revision checkout:11 is not the one deployed (checkout:13)")
		if len(g.ecs.Mutations()) != 0 {
			t.Fatal("rolled back a revision that is not deployed")
		}
	})
	t.Run("never to a revision that failed in this incident", func(t *testing.T) {
		g := rollbackRig(t)
		inc := g.open(t, classify.EssentialExit, "essential-exit", td13, 1)
		// Tasks of the ACTIVE revision 12 fail in the same incident too.
		sig := incidenttest.Failure(classify.EssentialExit, 2, severity.P1)
		sig.Runbook, sig.Facts.TaskDefinition, sig.Time = "essential-exit", td12, g.clk.Now()
		if _, err := g.m.Apply(context.Background(), sig); err != nil {
			t.Fatal(err)
		}
		mustSkip(t, g.fix(t, inc.ID), "no earlier revision that ran stably and has not failed")
		if len(g.ecs.Mutations()) != 0 {
			t.Fatal("rolled back to a failed revision")
		}
	})
	t.Run("never to an inactive deployment", func(t *testing.T) {
		svc := checkout(1)
		svc.TaskDefinition = td13
		svc.Deployments = []fakeecs.Deployment{
			{ID: "ecs-svc/2", Status: "PRIMARY", TaskDefinition: td13, RolloutState: "IN_PROGRESS", Desired: 4},
			{ID: "ecs-svc/1", Status: "INACTIVE", TaskDefinition: td12, RolloutState: "COMPLETED"},
		}
		g := newRig(t, svc, "essential-exit")
		mustSkip(t, g.fix(t, g.open(t, classify.EssentialExit, "essential-exit", td13, 1).ID), "no earlier revision")
	})
	for _, tc := range []struct {
		name, stable string
		failed       []string
		failing      string // the incident's revision ("" for an incident that names none)
		want         string // "" refused
	}{
		{"to the stable revision", td11, nil, td13, td11},
		{"not to a stable revision that failed", td11, []string{td11}, td13, ""},
		{"not to the revision deployed", td13, nil, td13, ""},
		{"not to the revision deployed, the incident naming none", td13, nil, "", ""},
		{"to the stable revision, the incident naming none", td11, nil, "", td11},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc := checkout(1)
			svc.TaskDefinition = td13
			svc.Deployments = svc.Deployments[:1]
			svc.Deployments[0].TaskDefinition = td13
			g := newRig(t, svc, "essential-exit")
			g.setGuard(t, func(gd *incident.Guard) { gd.StableTaskDefinition, gd.FailedTaskDefinitions = tc.stable, tc.failed })
			out := g.fix(t, g.open(t, classify.EssentialExit, "essential-exit", tc.failing, 1).ID)
			muts := g.ecs.Mutations()
			if tc.want == "" {
				mustSkip(t, out, "no earlier revision")
				if len(muts) != 0 {
					t.Fatalf("%+v", muts)
				}
				return
			}
			mustDo(t, out)
			if len(muts) != 1 || muts[0].Body["taskDefinition"] != tc.want {
				t.Fatalf("%+v", muts)
			}
		})
	}
	// The memory of failed revisions is bounded (20, oldest out) and never loses the newest.
	for _, seeded := range []int{19, 20} {
		t.Run("bounded memory of failures", func(t *testing.T) {
			g := rollbackRig(t)
			var old []string
			for i := range seeded {
				old = append(old, "arn:aws:ecs:us-east-1:111122223333:task-definition/checkout:"+string(rune('a'+i)))
			}
			g.setGuard(t, func(gd *incident.Guard) { gd.FailedTaskDefinitions = old })
			mustDo(t, g.fix(t, g.open(t, classify.EssentialExit, "essential-exit", td13, 1).ID))
			got := g.guard(t).FailedTaskDefinitions
			if len(got) != 20 || got[19] != td13 || got[0] != old[seeded-19] {
				t.Fatalf("seeded %d: %d kept, first %s, last %s", seeded, len(got), got[0], got[len(got)-1])
			}
		})
	}
}

// putTaskDef stores revision 12 of checkout as the rich definition with fields changed.
func putTaskDef(t *testing.T, g *rig, change func(map[string]any)) {
	t.Helper()
	raw, err := os.ReadFile("testdata/taskdef-rich.json")
	if err != nil {
		t.Fatal(err)
	}
	var td map[string]any
	if err := json.Unmarshal(raw, &td); err != nil {
		t.Fatal(err)
	}
	change(td)
	out, _ := json.Marshal(td)
	g.ecs.PutTaskDefinition("checkout:12", out)
}

// ec2 makes revision 12 an EC2 task definition whose containers have the given hard limits
// (0: none, only a reservation).
func ec2(api, envoy int) func(map[string]any) {
	return func(td map[string]any) {
		td["requiresCompatibilities"] = []any{"EC2"}
		td["networkMode"] = "bridge"
		delete(td, "cpu")
		delete(td, "memory")
		cs := td["containerDefinitions"].([]any)
		for i, limit := range []int{api, envoy} {
			c := cs[i].(map[string]any)
			if limit > 0 {
				c["memory"] = limit
			}
		}
	}
}

// openOOM opens an OOM incident whose diagnosis names the container.
func (g *rig) openOOM(t *testing.T, container string) *incident.Incident {
	t.Helper()
	sig := incidenttest.Failure(classify.OOMKilled, 1, severity.P1)
	sig.Runbook, sig.Facts.TaskDefinition, sig.Time = "oom-killed", td12, g.clk.Now()
	sig.Diagnosis = &classify.Diagnosis{Cause: classify.OOMKilled, Container: container, Rule: "test"}
	out, err := g.m.Apply(context.Background(), sig)
	if err != nil {
		t.Fatal(err)
	}
	return out.Incident
}

// containerMemory is the hard limits of the registered definition's containers, by name.
func containerMemory(t *testing.T, reg fakeecs.Call) map[string]any {
	t.Helper()
	out := map[string]any{}
	for _, c := range reg.Body["containerDefinitions"].([]any) {
		m := c.(map[string]any)
		out[m["name"].(string)] = m["memory"]
	}
	return out
}

// EC2: the failing container's hard limit rises by the factor, rounded up to 128 MiB, clamped to
// max_memory_mib, refused at the cap; the other containers keep theirs.
func TestRaiseMemoryOnEC2(t *testing.T) {
	for _, tc := range []struct {
		name      string
		api       int
		factor    any
		cap       int
		container string
		want      float64 // the api container's new limit; 0: refused
		says      string
	}{
		{"by the factor, rounded up to 128 MiB", 1000, 1.5, 8192, "api", 1536, ""},
		{"an exact multiple stays", 1024, 1.5, 8192, "api", 1536, ""},
		{"clamped to the cap", 1000, 1.5, 1400, "api", 1400, ""},
		{"a factor of 1 means the default 1.5", 1000, 1, 8192, "api", 1536, ""},
		{"a factor of 2", 1000, 2, 8192, "api", 2048, ""},
		{"refused at the cap", 1400, 1.5, 1400, "api", 0, "container api has 1400 MiB, already at the cap 1400 MiB"},
		{"refused above the cap", 2000, 1.5, 1400, "api", 0, "already at the cap"},
		{"a container with only a reservation", 1000, 1.5, 8192, "envoy", 0, `container "envoy" has no hard memory limit to raise`},
		{"a container the task does not have", 1000, 1.5, 8192, "log", 0, `container "log" has no hard memory limit`},
		{"no container named", 1000, 1.5, 8192, "", 0, "no hard memory limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newRig(t, checkout(0), "oom-killed")
			g.r.Prices = cost.Default()
			rb := g.r.Runbooks.ByID("oom-killed")
			rb.Fix.Params = map[string]any{"factor": tc.factor, "max_memory_mib": tc.cap}
			envoy := 300
			if tc.container == "envoy" {
				envoy = 0
			}
			putTaskDef(t, g, ec2(tc.api, envoy))
			inc := g.openOOM(t, tc.container)
			out := g.fix(t, inc.ID)
			if tc.want == 0 {
				mustSkip(t, out, tc.says)
				if len(g.ecs.Mutations()) != 0 {
					t.Fatalf("%+v", g.ecs.Mutations())
				}
				return
			}
			mustDo(t, out)
			muts := g.ecs.Mutations()
			if len(muts) != 2 || muts[1].Body["taskDefinition"] != td13 {
				t.Fatalf("%+v", muts)
			}
			mem := containerMemory(t, muts[0])
			if mem["api"] != tc.want || mem["envoy"] != float64(300) || muts[0].Body["memory"] != nil {
				t.Fatalf("registered limits %v, task memory %v; want api %v, envoy 300", mem, muts[0].Body["memory"], tc.want)
			}
			if !strings.Contains(out.Plan, "container api memory") || !strings.Contains(out.Plan, "no direct cost on EC2") {
				t.Fatalf("plan %q", out.Plan)
			}
		})
	}
}

// fargate makes revision 12 a Fargate task of that size.
func fargate(cpu, mem string) func(map[string]any) {
	return func(td map[string]any) { td["cpu"], td["memory"] = cpu, mem }
}

// Fargate: the next valid size for the task's CPU at or above memory × factor, within
// max_memory_mib; the CPU is raised only with allow_cpu_raise, to the smallest that fits.
func TestRaiseMemoryOnFargateSizes(t *testing.T) {
	for _, tc := range []struct {
		name         string
		cpu, mem     string
		factor       float64
		cap          int
		allowCPU     bool
		wantCPU      string // "": refused
		wantMem      string
		says         string // the refusal, or a word of the plan
		wantCPUInput bool
	}{
		{"256 CPU, the largest of its sizes", "256", "1024", 2, 8192, false, "256", "2048", "memory 1024 → 2048 MiB", false},
		{"1024 CPU keeps its CPU", "1024", "2048", 1.5, 8192, false, "1024", "3072", "memory 2048 → 3072 MiB", false},
		{"2048 CPU, rounded up to its step", "2048", "4096", 1.2, 8192, false, "2048", "5120", "4096 → 5120", false},
		{"4096 CPU up to its largest size", "4096", "20480", 1.5, 122880, false, "4096", "30720", "20480 → 30720", false},
		{"8192 CPU in steps of 4 GiB", "8192", "16384", 1.1, 122880, false, "8192", "20480", "16384 → 20480", false},
		{"16384 CPU in steps of 8 GiB", "16384", "32768", 1.1, 122880, false, "16384", "40960", "32768 → 40960", false},
		{"512 CPU at its largest: no CPU raise", "512", "4096", 1.5, 8192, false, "", "", "no valid Fargate size of at least 6144 MiB within the cap 8192 MiB for 512 CPU units (allow_cpu_raise: false)", false},
		{"512 CPU at its largest: CPU raised", "512", "4096", 1.5, 8192, true, "1024", "6144", "CPU 512 → 1024 (the size needs it)", true},
		{"256 CPU raised to the smallest CPU that fits", "256", "2048", 1.5, 8192, true, "512", "3072", "CPU 256 → 512", true},
		{"allow_cpu_raise keeps a CPU that fits", "1024", "2048", 1.5, 8192, true, "1024", "3072", "2048 → 3072", false},
		{"the size above the cap is refused", "1024", "6144", 1.5, 8192, false, "", "", "no valid Fargate size of at least 9216 MiB within the cap 8192 MiB", false},
		{"exactly the cap is allowed", "1024", "4096", 2, 8192, false, "1024", "8192", "4096 → 8192", false},
		{"at the cap is refused", "2048", "8192", 1.5, 8192, true, "", "", "memory is 8192 MiB, already at the runbook's cap max_memory_mib 8192", false},
		{"above the cap is refused", "2048", "9216", 1.5, 8192, true, "", "", "already at the runbook's cap", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newRig(t, checkout(0), "oom-killed")
			rb := g.r.Runbooks.ByID("oom-killed")
			rb.Fix.Params = map[string]any{"factor": tc.factor, "max_memory_mib": tc.cap, "allow_cpu_raise": tc.allowCPU}
			putTaskDef(t, g, fargate(tc.cpu, tc.mem))
			inc := g.open(t, classify.OOMKilled, "oom-killed", td12, 1)
			out := g.fix(t, inc.ID)
			muts := g.ecs.Mutations()
			if tc.wantCPU == "" {
				mustSkip(t, out, tc.says)
				if len(muts) != 0 {
					t.Fatalf("%+v", muts)
				}
				return
			}
			mustDo(t, out)
			if len(muts) != 2 || muts[0].Body["memory"] != tc.wantMem || muts[0].Body["cpu"] != tc.wantCPU || !strings.Contains(out.Plan, tc.says) {
				t.Fatalf("registered cpu %v memory %v, plan %q; want %s/%s", muts[0].Body["cpu"], muts[0].Body["memory"], out.Plan, tc.wantCPU, tc.wantMem)
			}
			if strings.Contains(out.Plan, "CPU ") != tc.wantCPUInput {
				t.Fatalf("plan %q", out.Plan)
			}
		})
	}
}

// A human's /medic rollback on an incident whose runbook says raise-memory rolls back (nothing
// registered), even with the runbook's fix off, under the default guardrails, not the runbook's.
// MEDIC_AUTOFIX=off still refuses it.
func TestHumanRollbackOnARaiseMemoryIncident(t *testing.T) {
	setup := func(t *testing.T) (*rig, *incident.Incident) {
		g := rollbackRig(t)
		g.tune("oom-killed", runbook.Off, 2*time.Hour, 1)
		return g, g.open(t, classify.OOMKilled, "oom-killed", td13, 1)
	}
	g, inc := setup(t)
	rollback := remediate.Request{Incident: inc.ID, By: "slack:alice", Action: runbook.Rollback}
	out := g.handle(t, rollback)
	mustDo(t, out)
	if out.Action != runbook.Rollback || g.count("RegisterTaskDefinition") != 0 || g.count("UpdateService") != 1 ||
		g.ecs.Calls("UpdateService")[0].Body["taskDefinition"] != td12 || !strings.Contains(out.Plan, "roll back prod/checkout from checkout:13 to checkout:12") {
		t.Fatalf("%+v %+v", out, g.ecs.Mutations())
	}
	// The default cooldown (15 min), not the runbook's 2 h, holds for the next human action.
	g.clk.Advance(15 * time.Minute)
	mustDo(t, g.handle(t, remediate.Request{Incident: inc.ID, By: "slack:alice", Action: runbook.ScaleOut, Desired: 5}))
	// The runbook's own fix stays off for a human's plain request.
	g.clk.Advance(time.Hour)
	mustSkip(t, g.handle(t, remediate.Request{Incident: inc.ID, By: "slack:alice"}), "automatic fixes are off")

	t.Run("MEDIC_AUTOFIX=off", func(t *testing.T) {
		g, inc := setup(t)
		g.r.Cap = runbook.Off
		mustSkip(t, g.handle(t, remediate.Request{Incident: inc.ID, By: "slack:alice", Action: runbook.Rollback}), "automatic fixes are off", "MEDIC_AUTOFIX=off")
		if len(g.ecs.Mutations()) != 0 {
			t.Fatal("acted under MEDIC_AUTOFIX=off")
		}
	})
}

// The service already back at its desired count: automatic fixes stand down, a human may act;
// a service scaled to zero is not "back".
func TestAlreadyHealthyOnlyStopsAutomaticFixes(t *testing.T) {
	g := newRig(t, checkout(4))
	g.tune("host-lost", runbook.Auto, 15*time.Minute, 3)
	inc := g.open(t, classify.HostLost, "host-lost", td12, 1)
	mustSkip(t, g.fix(t, inc.ID), "the service already moved on: 4/4 running")
	svc := checkout(5) // more running than desired (a deployment in flight) is moved on too
	g.ecs.Put(svc)
	mustSkip(t, g.fix(t, inc.ID), "already moved on: 5/4")
	if len(g.ecs.Mutations()) != 0 {
		t.Fatal("acted on a healthy service")
	}
	mustDo(t, g.handle(t, remediate.Request{Incident: inc.ID, By: "slack:alice"}))

	t.Run("desired zero", func(t *testing.T) {
		svc := checkout(0)
		svc.Desired = 0
		g := newRig(t, svc)
		g.tune("host-lost", runbook.Auto, 15*time.Minute, 3)
		mustDo(t, g.fix(t, g.open(t, classify.HostLost, "host-lost", td12, 1).ID))
	})
	t.Run("one short of desired", func(t *testing.T) {
		g := newRig(t, checkout(3))
		g.tune("host-lost", runbook.Auto, 15*time.Minute, 3)
		mustDo(t, g.fix(t, g.open(t, classify.HostLost, "host-lost", td12, 1).ID))
	})
}

// The runbook's verification window goes with the action: the service must be back by then.
func TestVerifyWindowPassedOn(t *testing.T) {
	g := newRig(t, checkout(0), "oom-killed")
	g.r.Runbooks.ByID("oom-killed").Fix.Verify.Duration = 25 * time.Minute
	inc := g.open(t, classify.OOMKilled, "oom-killed", td12, 1)
	now := g.clk.Now()
	mustDo(t, g.fix(t, inc.ID))
	got := g.incident(t, inc.ID)
	if got.ActionAt == nil || !got.ActionAt.Equal(now) || got.VerifyBy == nil || !got.VerifyBy.Equal(now.Add(25*time.Minute)) {
		t.Fatalf("action at %v, verify by %v; want %v and 25 min later", got.ActionAt, got.VerifyBy, now)
	}
}

// MEDIC_AUTOFIX caps the runbook's mode: under suggest an auto runbook only suggests; a human may
// act on it. A runbook in suggest mode never acts alone.
func TestModeCap(t *testing.T) {
	g := newRig(t, checkout(0), "oom-killed")
	g.r.Cap = runbook.Suggest
	inc := g.open(t, classify.OOMKilled, "oom-killed", td12, 1)
	out := g.fix(t, inc.ID)
	mustSkip(t, out, "suggested, waiting for a human", "/medic fix "+inc.ID, "would raise memory")
	if len(g.ecs.Mutations()) != 0 || len(g.guard(t).Actions) != 0 {
		t.Fatal("a suggestion acted or counted")
	}
	got := g.incident(t, inc.ID)
	if e := got.Timeline[len(got.Timeline)-1]; e.Kind != "action-considered" || e.Actor != "ecs-medic" {
		t.Fatalf("a suggestion is recorded, not announced: %+v", e)
	}
	mustDo(t, g.handle(t, remediate.Request{Incident: inc.ID, By: "slack:alice"}))
	got = g.incident(t, inc.ID)
	if e := got.Timeline[len(got.Timeline)-1]; e.Kind != "action" || e.Actor != "slack:alice" {
		t.Fatalf("a human's action is recorded as theirs: %+v", e)
	}

	t.Run("the refusal names the runbook's mode and the cap", func(t *testing.T) {
		g := newRig(t, checkout(0)) // oom-killed ships in suggest mode
		g.r.Cap = runbook.Off
		inc := g.open(t, classify.OOMKilled, "oom-killed", td12, 1)
		mustSkip(t, g.fix(t, inc.ID), "automatic fixes are off (runbook mode suggest, MEDIC_AUTOFIX=off)")
		orphan := g.open(t, classify.HostLost, "no-such-runbook", td12, 2)
		mustSkip(t, g.handle(t, remediate.Request{Incident: orphan.ID, By: "slack:alice", Action: runbook.Rollback}), "automatic fixes are off (runbook mode off, MEDIC_AUTOFIX=off)")
	})
	t.Run("suggest runbook under auto cap, at the cap of its plan", func(t *testing.T) {
		g := newRig(t, checkout(0))
		g.r.Runbooks.ByID("oom-killed").Fix.Params["max_memory_mib"] = 512
		inc := g.open(t, classify.OOMKilled, "oom-killed", td12, 1)
		out := g.fix(t, inc.ID)
		mustSkip(t, out, "already at the runbook's cap")
		if strings.Contains(out.Skipped, "refused by a guardrail") || len(g.ecs.Mutations()) != 0 {
			t.Fatalf("%+v", out)
		}
	})
}

// What cannot be fixed is refused, with the reason, and nothing changes.
func TestNothingToFix(t *testing.T) {
	g := newRig(t, checkout(0))
	for _, id := range []string{"host-lost", "health-check"} {
		g.r.Runbooks.ByID(id).Fix.Mode = runbook.Auto
	}
	none := g.open(t, classify.HealthCheck, "health-check", td12, 1)
	mustSkip(t, g.fix(t, none.ID), "the runbook has no fix for this cause")
	mustSkip(t, g.handle(t, remediate.Request{Incident: none.ID, By: "slack:alice"}), "no fix for this cause")

	resolved := g.open(t, classify.HostLost, "host-lost", td12, 2)
	if _, _, err := g.m.Resolve(context.Background(), resolved.ID, "ecs-medic", ""); err != nil {
		t.Fatal(err)
	}
	mustSkip(t, g.fix(t, resolved.ID), "the incident is resolved")

	sig := incident.Signal{Kind: incident.Failure, EventID: "a1", Scope: incident.Scope{Account: "111122223333", Region: "us-east-1", Alarm: "checkout-cpu-high"},
		Cause: classify.Alarm, Runbook: "cpu-high", Marks: []string{"evt#a1"}, Time: g.clk.Now()}
	g.r.Runbooks.ByID("cpu-high").Fix.Mode = runbook.Auto
	alarm, err := g.m.Apply(context.Background(), sig)
	if err != nil {
		t.Fatal(err)
	}
	mustSkip(t, g.fix(t, alarm.Incident.ID), "only ECS services can be fixed, not alarm checkout-cpu-high")
	if len(g.ecs.Calls("")) != 0 {
		t.Fatalf("ECS called: %+v", g.ecs.Calls(""))
	}
	if _, err := g.r.Handle(context.Background(), remediate.Request{Incident: "no-such", By: "auto"}); err == nil {
		t.Fatal("an unknown incident was not an error")
	}
}

// The circuit breaker rule holds only while ECS is rolling back.
func TestCircuitBreakerOnlyWhileRollingBack(t *testing.T) {
	svc := checkout(0)
	svc.Deployments[0].Reason = "ECS deployment circuit breaker: rolled back earlier."
	g := newRig(t, svc)
	g.tune("host-lost", runbook.Auto, 15*time.Minute, 3)
	inc := g.open(t, classify.HostLost, "host-lost", td12, 1)
	mustDo(t, g.fix(t, inc.ID)) // COMPLETED: ECS is done
	svc.Deployments[0].RolloutState = "IN_PROGRESS"
	g.ecs.Put(svc)
	g.clk.Advance(time.Hour)
	mustSkip(t, g.handle(t, remediate.Request{Incident: inc.ID, By: "slack:alice", Force: true}), "circuit breaker is already rolling back")
}

// Scale-out stays within the least of MEDIC_MAX_TASKS, the runbook's max_tasks and the service's
// auto-scaling maximum; a human's count is held to the same bound and only ever scales out.
func TestScaleOutBounds(t *testing.T) {
	for _, tc := range []struct {
		name      string
		desired   int // the service's, running one less
		maxCap    int // auto-scaling maximum (0: none)
		maxTasks  int // MEDIC_MAX_TASKS (0: default)
		step      any
		human     int // a human's /medic scale count (0: the runbook's step)
		want      float64
		says      string
		runbookMx any // the runbook's max_tasks
	}{
		{name: "by the runbook's step", desired: 4, step: 2, want: 6, runbookMx: 10},
		{name: "from zero tasks", desired: 0, step: 2, want: 2, runbookMx: 10},
		{name: "a step below 1 means 1", desired: 4, step: 0, want: 5, runbookMx: 10},
		{name: "clamped to max_tasks", desired: 9, step: 2, want: 10, runbookMx: 10},
		{name: "at max_tasks", desired: 10, step: 2, says: "desired count 10 is already at the maximum 10 (the runbook's max_tasks)", runbookMx: 10},
		{name: "clamped to MEDIC_MAX_TASKS", desired: 4, step: 2, maxTasks: 5, want: 5, runbookMx: 10},
		{name: "at MEDIC_MAX_TASKS", desired: 5, step: 2, maxTasks: 5, says: "(the most ecs-medic may set (MEDIC_MAX_TASKS))", runbookMx: 10},
		{name: "at the auto-scaling maximum", desired: 5, step: 2, maxCap: 5, says: "the service's auto-scaling maximum", runbookMx: 10},
		{name: "the default MEDIC_MAX_TASKS", desired: 99, step: 2, want: 100, runbookMx: 5000},
		{name: "a human within the bound", desired: 4, step: 2, human: 10, want: 10, runbookMx: 10},
		{name: "a human above the bound", desired: 4, step: 2, human: 11, says: "11 tasks is above 10, the runbook's max_tasks: ask for at most 10", runbookMx: 10},
		{name: "a human asking for what is", desired: 4, step: 2, human: 4, says: "already has 4 tasks desired", runbookMx: 10},
		{name: "a human asking for fewer", desired: 4, step: 2, human: 3, says: "ecs-medic only scales out", runbookMx: 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc := checkout(max(tc.desired-1, 0))
			svc.Desired, svc.MaxCapacity = tc.desired, tc.maxCap
			svc.Deployments[0].Desired = tc.desired
			g := newRig(t, svc, "cpu-high")
			g.r.MaxTasks = tc.maxTasks
			g.r.Runbooks.ByID("cpu-high").Fix.Params = map[string]any{"step": tc.step, "max_tasks": tc.runbookMx}
			sig := incident.Signal{Kind: incident.Failure, EventID: "a1", Scope: incidenttest.Scope,
				Cause: classify.Alarm, Runbook: "cpu-high", Marks: []string{"evt#a1"}, Time: g.clk.Now()}
			opened, err := g.m.Apply(context.Background(), sig)
			if err != nil {
				t.Fatal(err)
			}
			req := remediate.Request{Incident: opened.Incident.ID, By: "auto"}
			if tc.human > 0 {
				req = remediate.Request{Incident: opened.Incident.ID, By: "slack:alice", Action: runbook.ScaleOut, Desired: tc.human}
			}
			out := g.handle(t, req)
			muts := g.ecs.Mutations()
			if tc.says != "" {
				mustSkip(t, out, tc.says)
				if len(muts) != 0 {
					t.Fatalf("%+v", muts)
				}
				return
			}
			mustDo(t, out)
			if len(muts) != 1 || muts[0].Body["desiredCount"] != tc.want {
				t.Fatalf("%+v, want desired %v", muts, tc.want)
			}
		})
	}
}

// sent records what would have gone to Slack.
type sent struct {
	mu    sync.Mutex
	kinds []notify.Kind
}

func (s *sent) Send(_ context.Context, n notify.Notification, _ ...string) []notify.Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kinds = append(s.kinds, n.Kind)
	return []notify.Result{{Notifier: "slack"}}
}

func (s *sent) Names() []string { return []string{"slack"} }

func (s *sent) take() []notify.Kind {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.kinds
	s.kinds = nil
	return k
}

// Every action, and every action a guardrail stopped, goes to the incident's thread; a
// suggestion updates the incident's message with its plan; a suggest-mode skip stays in the
// timeline only.
func TestWhatIsAnnounced(t *testing.T) {
	one := func(k notify.Kind) []notify.Kind { return []notify.Kind{k} }
	for _, tc := range []struct {
		name  string
		setup func(*rig)
		want  []notify.Kind
		kind  string // the timeline entry
	}{
		{"an action", func(*rig) {}, one(notify.Action), "action"},
		{"a dry run", func(g *rig) { g.r.DryRun = true }, one(notify.Action), "action-planned"},
		{"a guardrail stop", func(g *rig) { g.r.Runbooks.ByID("oom-killed").Fix.Params["max_memory_mib"] = 512 }, one(notify.Action), "action-skipped"},
		{"a failure", func(g *rig) {
			g.ecs.FailNext(1, fakes.Fault{Op: "UpdateService", Status: 400, Code: "InvalidParameterException"})
		}, one(notify.Action), "action-failed"},
		{"a suggestion", func(g *rig) { g.r.Cap = runbook.Suggest }, one(notify.Suggested), "action-considered"},
		{"a suggest-mode skip", func(g *rig) {
			g.r.Cap = runbook.Suggest
			g.r.Runbooks.ByID("oom-killed").Fix.Params["max_memory_mib"] = 512
		}, nil, "action-considered"},
		{"fixes off", func(g *rig) { g.r.Cap = runbook.Off }, nil, "action-considered"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newRig(t, checkout(0), "oom-killed")
			s := &sent{}
			g.r.Sender = s
			tc.setup(g)
			inc := g.open(t, classify.OOMKilled, "oom-killed", td12, 1)
			_, _ = g.r.Handle(context.Background(), remediate.Request{Incident: inc.ID, By: "auto"})
			if got := s.take(); !slices.Equal(got, tc.want) {
				t.Fatalf("announced %v, want %v", got, tc.want)
			}
			got := g.incident(t, inc.ID)
			kinds := []string{}
			for _, e := range got.Timeline {
				kinds = append(kinds, string(e.Kind))
			}
			if !slices.Contains(kinds, tc.kind) {
				t.Fatalf("timeline %v lacks %s", kinds, tc.kind)
			}
		})
	}
}

// A scale-out whose cost cannot be read still acts, and says so in its plan.
func TestScaleOutCostUnknown(t *testing.T) {
	svc := checkout(4)
	svc.TaskDefinition = td11 // not registered in the fake
	g := newRig(t, svc, "cpu-high")
	g.r.Prices = cost.Default()
	sig := incident.Signal{Kind: incident.Failure, EventID: "a1", Scope: incidenttest.Scope,
		Cause: classify.Alarm, Runbook: "cpu-high", Marks: []string{"evt#a1"}, Time: g.clk.Now()}
	opened, err := g.m.Apply(context.Background(), sig)
	if err != nil {
		t.Fatal(err)
	}
	out := g.fix(t, opened.Incident.ID)
	mustDo(t, out)
	if !strings.Contains(out.Plan, "; cost: not estimated (describe task definition") || out.CostUSD != nil {
		t.Fatalf("%+v", out)
	}
}

// clientsOf hands out one account's clients, or refuses.
type clientsOf struct {
	cs  *accounts.Clients
	err error
}

func (c clientsOf) For(context.Context, string, string) (*accounts.Clients, error) {
	return c.cs, c.err
}

// A service is only changed with its own account's clients; an account that may not be changed
// is neither read nor changed.
func TestOnlyTheIncidentsAccountActs(t *testing.T) {
	g := newRig(t, checkout(0))
	g.tune("host-lost", runbook.Auto, 15*time.Minute, 3)
	inc := g.open(t, classify.HostLost, "host-lost", td12, 1)
	g.r.Clients = clientsOf{err: errors.New("account 111122223333 is not in MEDIC_ACCOUNTS")}
	mustSkip(t, g.fix(t, inc.ID), "account 111122223333 is not in MEDIC_ACCOUNTS; nothing of account 111122223333 is read or changed")
	if len(g.ecs.Calls("")) != 0 {
		t.Fatalf("the default clients were used: %+v", g.ecs.Calls(""))
	}
	member := fakeecs.New(checkout(0))
	t.Cleanup(member.Close)
	cfg := aws.Config{Region: "us-east-1", RetryMaxAttempts: 1, Credentials: credentials.NewStaticCredentialsProvider("MEMBER", "S", "")}
	g.r.Clients = clientsOf{cs: &accounts.Clients{Account: "111122223333", Region: "us-east-1",
		ECS: ecs.NewFromConfig(cfg, func(o *ecs.Options) { o.BaseEndpoint = aws.String(member.URL) })}}
	mustDo(t, g.fix(t, inc.ID))
	if len(g.ecs.Calls("")) != 0 || len(member.Calls("UpdateService")) != 1 || member.Calls("UpdateService")[0].AccessKey != "MEMBER" {
		t.Fatalf("acted through the wrong clients: default %d calls, member %+v", len(g.ecs.Calls("")), member.Calls("UpdateService"))
	}
}
