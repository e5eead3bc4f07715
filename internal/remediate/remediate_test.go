package remediate_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"go.uber.org/zap"

	"github.com/ecs-medic/ecs-medic/internal/accounts"
	"github.com/ecs-medic/ecs-medic/internal/boltstore"
	"github.com/ecs-medic/ecs-medic/internal/classify"
	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/incident/incidenttest"
	"github.com/ecs-medic/ecs-medic/internal/remediate"
	"github.com/ecs-medic/ecs-medic/internal/remediate/autoscaling"
	"github.com/ecs-medic/ecs-medic/internal/runbook"
	"github.com/ecs-medic/ecs-medic/internal/severity"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakeecs"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakes"
	"github.com/ecs-medic/ecs-medic/runbooks"
)

const (
	td12 = "arn:aws:ecs:us-east-1:111122223333:task-definition/checkout:12"
	td13 = "arn:aws:ecs:us-east-1:111122223333:task-definition/checkout:13"
)

type rig struct {
	r   *remediate.Remediator
	m   *incident.Manager
	st  *boltstore.Store
	clk *incidenttest.Clock
	ecs *fakeecs.Server
}

// newRig runs the shipped runbooks with the named ones switched to auto.
func newRig(t *testing.T, svc fakeecs.Service, auto ...string) *rig {
	t.Helper()
	fake := fakeecs.New(svc)
	t.Cleanup(fake.Close)
	raw, err := os.ReadFile("testdata/taskdef-rich.json")
	if err != nil {
		t.Fatal(err)
	}
	fake.PutTaskDefinition("checkout:12", raw)
	cfg := fakes.AWSConfig(fake.URL)
	client := ecs.NewFromConfig(cfg)
	scaling := applicationautoscaling.NewFromConfig(cfg)
	clk := &incidenttest.Clock{T: time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)}
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "medic.db"), boltstore.WithClock(clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	set, err := runbook.Load(runbooks.FS)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range auto {
		set.ByID(id).Fix.Mode = runbook.Auto
	}
	m := incident.NewManager(st, incident.WithClock(clk.Now))
	r := &remediate.Remediator{ECS: client, Scaling: autoscaling.New(scaling), Manager: m, Guards: st, Runbooks: set, Cap: runbook.Auto, Log: zap.NewNop()}
	return &rig{r: r, m: m, st: st, clk: clk, ecs: fake}
}

func checkout(running int) fakeecs.Service {
	return fakeecs.Service{Cluster: "prod", Name: "checkout", Desired: 4, Running: running, TaskDefinition: td12,
		Deployments: []fakeecs.Deployment{{ID: "ecs-svc/1", Status: "PRIMARY", TaskDefinition: td12, RolloutState: "COMPLETED", Desired: 4, Running: running}}}
}

// open opens an incident of cause on checkout, its failing tasks on revision taskDef.
func (g *rig) open(t *testing.T, cause classify.Cause, runbookID, taskDef string, n int) *incident.Incident {
	t.Helper()
	sig := incidenttest.Failure(cause, n, severity.P1)
	sig.Runbook = runbookID
	sig.Facts.TaskDefinition = taskDef
	sig.Time = g.clk.Now()
	out, err := g.m.Apply(context.Background(), sig)
	if err != nil {
		t.Fatal(err)
	}
	return out.Incident
}

func (g *rig) fix(t *testing.T, id string) remediate.Outcome {
	t.Helper()
	out, err := g.r.Handle(context.Background(), remediate.Request{Incident: id, By: "auto"})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func registered(t *testing.T, c fakeecs.Call) map[string]any { return c.Body }

func TestOOMLoopRaisesMemoryOnceUnderConcurrency(t *testing.T) {
	g := newRig(t, checkout(0), "oom-killed")
	inc := g.open(t, classify.OOMKilled, "oom-killed", td12, 1)
	var wg sync.WaitGroup
	done := 0
	var mu sync.Mutex
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := g.r.Handle(context.Background(), remediate.Request{Incident: inc.ID, By: "auto"})
			if err != nil {
				t.Error(err)
			}
			if out.Done {
				mu.Lock()
				done++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	muts := g.ecs.Mutations()
	if done != 1 || len(muts) != 2 || muts[0].Operation != "RegisterTaskDefinition" || muts[1].Operation != "UpdateService" {
		t.Fatalf("done %d, mutations %v", done, muts)
	}
	if got := muts[0].Body["memory"]; got != "1024" {
		t.Fatalf("memory %v, want 1024 (512 × 1.5 → next Fargate size for 256 CPU)", got)
	}
	if muts[1].Body["taskDefinition"] != td13 {
		t.Fatalf("service updated to %v", muts[1].Body["taskDefinition"])
	}
	got, _ := g.m.Get(context.Background(), inc.ID)
	var action, skipped int
	for _, e := range got.Timeline {
		switch e.Kind {
		case "action":
			action++
			if !strings.Contains(e.Message, "512 → 1024") {
				t.Errorf("action entry lacks before → after: %s", e.Message)
			}
		case "action-skipped":
			skipped++
		}
	}
	if action != 1 || skipped != 15 || got.VerifyBy == nil {
		t.Fatalf("timeline: %d actions, %d skips recorded, verify by %v", action, skipped, got.VerifyBy)
	}
}

func TestSecondOOMAfterCooldownThenTheCap(t *testing.T) {
	g := newRig(t, checkout(0), "oom-killed")
	first := g.open(t, classify.OOMKilled, "oom-killed", td12, 1)
	if out := g.fix(t, first.ID); !out.Done {
		t.Fatalf("%+v", out)
	}
	// The service recovered and the incident resolved; later, a new OOM incident on revision 13.
	if _, _, err := g.m.Resolve(context.Background(), first.ID, "ecs-medic", "recovered"); err != nil {
		t.Fatal(err)
	}
	g.clk.Advance(5 * time.Minute)
	second := g.open(t, classify.OOMKilled, "oom-killed", td13, 2)
	if out := g.fix(t, second.ID); out.Done || !strings.Contains(out.Skipped, "cooldown") {
		t.Fatalf("inside the cooldown: %+v", out)
	}
	g.clk.Advance(15 * time.Minute)
	out := g.fix(t, second.ID)
	muts := g.ecs.Mutations()
	if !out.Done || muts[len(muts)-2].Body["memory"] != "2048" {
		t.Fatalf("after the cooldown: %+v %v", out, muts[len(muts)-2].Body["memory"])
	}
	// A third time: 2048 × 1.5 = 3072 needs 512 CPU, which the runbook does not allow.
	_, _, _ = g.m.Resolve(context.Background(), second.ID, "ecs-medic", "recovered")
	g.clk.Advance(20 * time.Minute)
	third := g.open(t, classify.OOMKilled, "oom-killed", "arn:aws:ecs:us-east-1:111122223333:task-definition/checkout:14", 3)
	before := len(g.ecs.Mutations())
	out = g.fix(t, third.ID)
	if out.Done || !strings.Contains(out.Skipped, "no valid Fargate size") || len(g.ecs.Mutations()) != before {
		t.Fatalf("at the limit: %+v", out)
	}
	got, _ := g.m.Get(context.Background(), third.ID)
	if !strings.Contains(got.Timeline[len(got.Timeline)-1].Message, "no valid Fargate size") {
		t.Fatal("the reason is not in the timeline")
	}
}

// badDeploy is checkout mid-deployment: revision 13 failing (5 tasks failed), revision 12 the
// completed one before it.
func badDeploy() fakeecs.Service {
	svc := checkout(1)
	svc.TaskDefinition = td13
	svc.Deployments = []fakeecs.Deployment{
		{ID: "ecs-svc/2", Status: "PRIMARY", TaskDefinition: td13, RolloutState: "IN_PROGRESS", Desired: 4, Failed: 5},
		{ID: "ecs-svc/1", Status: "ACTIVE", TaskDefinition: td12, RolloutState: "COMPLETED", Desired: 4, Running: 1},
	}
	return svc
}

func TestBadDeployRollsBackButNeverLoops(t *testing.T) {
	g := newRig(t, badDeploy(), "essential-exit")
	inc := g.open(t, classify.EssentialExit, "essential-exit", td13, 1)
	out := g.fix(t, inc.ID)
	muts := g.ecs.Mutations()
	if !out.Done || len(muts) != 1 || muts[0].Body["taskDefinition"] != td12 {
		t.Fatalf("%+v %v", out, muts)
	}
	// Now revision 12 fails too: no rollback to anything that failed, no loop.
	_, _, _ = g.m.Resolve(context.Background(), inc.ID, "ecs-medic", "")
	g.clk.Advance(time.Hour)
	// The second incident knows only revision 12: that 13 failed is the first incident's
	// knowledge, kept for the service.
	again := g.open(t, classify.EssentialExit, "essential-exit", td12, 2)
	out = g.fix(t, again.ID)
	if out.Done || !strings.Contains(out.Skipped, "no earlier revision") || len(g.ecs.Mutations()) != 1 {
		t.Fatalf("rolled back again: %+v", out)
	}
}

func TestGuardrailsMeanNoMutation(t *testing.T) {
	cases := map[string]func(*rig, *fakeecs.Service){
		"MEDIC_AUTOFIX=off":  func(g *rig, _ *fakeecs.Service) { g.r.Cap = runbook.Off },
		"dry run":            func(g *rig, _ *fakeecs.Service) { g.r.DryRun = true },
		"medic:auto-fix=off": func(_ *rig, s *fakeecs.Service) { s.Tags = map[string]string{"medic:auto-fix": "off"} },
		"suggest only":       func(g *rig, _ *fakeecs.Service) { g.r.Runbooks.ByID("oom-killed").Fix.Mode = runbook.Suggest },
		"circuit breaker": func(_ *rig, s *fakeecs.Service) {
			s.Deployments[0].RolloutState, s.Deployments[0].Reason = "IN_PROGRESS", "ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/0."
		},
		"already recovered": func(_ *rig, s *fakeecs.Service) { s.Running = 4 },
	}
	for name, setup := range cases {
		t.Run(name, func(t *testing.T) {
			svc := checkout(0)
			g := newRig(t, svc, "oom-killed")
			setup(g, &svc)
			g.ecs.Put(svc)
			inc := g.open(t, classify.OOMKilled, "oom-killed", td12, 1)
			out := g.fix(t, inc.ID)
			if out.Done || len(g.ecs.Mutations()) != 0 {
				t.Fatalf("%+v, %d mutating calls", out, len(g.ecs.Mutations()))
			}
			if out.Skipped == "" && !out.DryRun {
				t.Fatal("no reason given")
			}
		})
	}
	t.Run("medic:rollback=off", func(t *testing.T) {
		svc := checkout(1)
		svc.Tags = map[string]string{"medic:rollback": "off"}
		g := newRig(t, svc, "essential-exit")
		out := g.fix(t, g.open(t, classify.EssentialExit, "essential-exit", td12, 1).ID)
		if out.Done || !strings.Contains(out.Skipped, "medic:rollback=off") {
			t.Fatalf("%+v", out)
		}
	})
}

func TestScaleOutBoundedByAutoScaling(t *testing.T) {
	svc := checkout(4)
	svc.MaxCapacity = 5
	g := newRig(t, svc, "cpu-high")
	sig := incident.Signal{Kind: incident.Failure, EventID: "a1", Scope: incident.Scope{Account: "111122223333", Region: "us-east-1", Cluster: "prod", Service: "checkout"},
		Cause: classify.Alarm, Runbook: "cpu-high", Marks: []string{"evt#a1"}, Time: g.clk.Now()}
	out, _ := g.m.Apply(context.Background(), sig)
	res := g.fix(t, out.Incident.ID)
	muts := g.ecs.Mutations()
	if !res.Done || len(muts) != 1 || muts[0].Body["desiredCount"] != float64(5) {
		t.Fatalf("%+v %v", res, muts)
	}
}

// Through accounts' clients, scale-out reads the service's auto-scaling maximum with the
// incident's own account's credentials; an entry point that cannot read it (one that never
// scales, so does not link that client) refuses rather than scale past a bound it cannot see.
func TestScaleOutThroughAccountsReadsItsBound(t *testing.T) {
	for _, reader := range []bool{false, true} {
		svc := checkout(4)
		svc.MaxCapacity = 5
		g := newRig(t, svc, "cpu-high")
		member := fakeecs.New(svc)
		t.Cleanup(member.Close)
		cfg := fakes.AWSConfigAs("MEMBER", member.URL)
		g.r.Clients = clientsOf{cs: &accounts.Clients{Account: "111122223333", Region: "us-east-1", ECS: ecs.NewFromConfig(cfg), Config: cfg}}
		if reader {
			g.r.ScalingFor = autoscaling.ForAccount
		}
		sig := incident.Signal{Kind: incident.Failure, EventID: "a1", Scope: incident.Scope{Account: "111122223333", Region: "us-east-1", Cluster: "prod", Service: "checkout"},
			Cause: classify.Alarm, Runbook: "cpu-high", Marks: []string{"evt#a1"}, Time: g.clk.Now()}
		opened, _ := g.m.Apply(context.Background(), sig)
		res := g.fix(t, opened.Incident.ID)
		if !reader {
			mustSkip(t, res, "the service's auto-scaling maximum cannot be read")
			if len(member.Mutations()) != 0 || len(g.ecs.Calls("")) != 0 {
				t.Fatalf("changed ECS: member %v, default %v", member.Mutations(), g.ecs.Calls(""))
			}
			continue
		}
		muts, reads := member.Mutations(), member.Calls("ScalingDescribeScalableTargets")
		if !res.Done || len(muts) != 1 || muts[0].Body["desiredCount"] != float64(5) || len(reads) != 1 || reads[0].AccessKey != "MEMBER" {
			t.Fatalf("%+v, mutations %v, scaling reads %+v", res, muts, reads)
		}
	}
}

// The task definition round trip: a rich definition survives raise-memory with only the memory
// changed.
func TestTaskDefinitionRoundTrip(t *testing.T) {
	g := newRig(t, checkout(0), "oom-killed")
	g.fix(t, g.open(t, classify.OOMKilled, "oom-killed", td12, 1).ID)
	muts := g.ecs.Mutations()
	if len(muts) == 0 {
		t.Fatal("nothing registered")
	}
	got := registered(t, muts[0])
	var orig map[string]any
	raw, _ := os.ReadFile("testdata/taskdef-rich.json")
	_ = json.Unmarshal(raw, &orig)
	// Fields DescribeTaskDefinition returns but RegisterTaskDefinition does not take.
	for _, k := range []string{"taskDefinitionArn", "revision", "status", "compatibilities", "requiresAttributes", "registeredAt", "registeredBy"} {
		delete(orig, k)
	}
	orig["memory"] = "1024"
	// A container's "cpu": 0 means "no reservation"; the SDK leaves a zero out, which ECS reads the same.
	for _, c := range orig["containerDefinitions"].([]any) {
		if m := c.(map[string]any); m["cpu"] == float64(0) {
			delete(m, "cpu")
		}
	}
	for k, v := range orig {
		a, _ := json.Marshal(v)
		b, _ := json.Marshal(got[k])
		if string(a) != string(b) {
			t.Errorf("%s changed:\n was %s\n now %s", k, a, b)
		}
	}
	for k := range got {
		if _, ok := orig[k]; !ok && k != "tags" {
			t.Errorf("%s added", k)
		}
	}
}

// Random interleavings of events, redeliveries, clicks (some forced) and fix requests never
// exceed one action per cooldown (unless a human forced it) nor max_per_day per service in any
// 24 h. Each seed runs past 24 h and takes more than max_per_day actions, so both bounds are
// reached, not just stated.
func TestPropertyLimitsHold(t *testing.T) {
	const cooldown, perDay = 15 * time.Minute, 3
	for seed := range 5 {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			g := newRig(t, checkout(0))
			rb := g.r.Runbooks.ByID("host-lost")
			rb.Fix.Mode, rb.Fix.Cooldown.Duration, rb.Fix.MaxPerDay = runbook.Auto, cooldown, perDay
			rng := rand.New(rand.NewPCG(uint64(seed), 1))
			type action struct {
				at     time.Time
				forced bool
			}
			var acts []action
			var mu sync.Mutex
			capped, cooled := 0, 0
			start := g.clk.Now()
			var ids []string
			for step := range 160 {
				switch rng.IntN(5) {
				case 0: // a new incident (the previous one resolved)
					if len(ids) > 0 {
						_, _, _ = g.m.Resolve(context.Background(), ids[len(ids)-1], "ecs-medic", "")
					}
					ids = append(ids, g.open(t, classify.HostLost, "host-lost", td12, step).ID)
				case 1, 2: // fix requests, automatic or clicked, some forced, some at once
					if len(ids) == 0 {
						continue
					}
					var wg sync.WaitGroup
					for range 1 + rng.IntN(4) {
						wg.Add(1)
						req := remediate.Request{Incident: ids[len(ids)-1], By: "auto"}
						switch rng.IntN(4) {
						case 0:
							req.By = "slack:alice"
						case 1:
							req.By, req.Force = "slack:bob", true
						}
						go func() {
							defer wg.Done()
							out, _ := g.r.Handle(context.Background(), req)
							mu.Lock()
							defer mu.Unlock()
							if out.Done {
								acts = append(acts, action{g.clk.Now(), req.Force})
							}
							switch {
							case strings.Contains(out.Skipped, "max_per_day"):
								capped++
							case strings.Contains(out.Skipped, "cooldown"):
								cooled++
							}
						}()
					}
					wg.Wait()
				case 3: // minutes pass
					g.clk.Advance(time.Duration(rng.IntN(20)) * time.Minute)
				case 4: // hours pass
					g.clk.Advance(time.Duration(1+rng.IntN(36)) * 5 * time.Minute)
				}
			}
			t.Logf("%d actions, %d refusals at max_per_day, %d in the cooldown, %s of clock", len(acts), capped, cooled, g.clk.Now().Sub(start))
			if len(acts) <= perDay || capped == 0 || cooled == 0 || g.clk.Now().Sub(start) <= 24*time.Hour {
				t.Fatal("the bounds were not reached")
			}
			if n := len(g.ecs.Calls("UpdateService")); n != len(acts) {
				t.Fatalf("%d updates for %d actions done", n, len(acts))
			}
			for i := 1; i < len(acts); i++ {
				if d := acts[i].at.Sub(acts[i-1].at); d < cooldown && !acts[i].forced {
					t.Fatalf("two actions %s apart, the second not forced", d)
				}
			}
			for i := range acts {
				n := 0
				for _, u := range acts {
					if !u.at.Before(acts[i].at) && u.at.Sub(acts[i].at) < 24*time.Hour {
						n++
					}
				}
				if n > perDay {
					t.Fatalf("%d actions within 24 h", n)
				}
			}
		})
	}
}

// Suggest mode shows the plan a human would approve, and changes nothing.
func TestSuggestShowsThePlan(t *testing.T) {
	g := newRig(t, checkout(0))
	inc := g.open(t, classify.OOMKilled, "oom-killed", td12, 1)
	out := g.fix(t, inc.ID)
	if out.Done || !strings.Contains(out.Skipped, "would raise memory of prod/checkout") || !strings.Contains(out.Skipped, "512 → 1024 MiB") {
		t.Fatalf("%+v", out)
	}
	if len(g.ecs.Mutations()) != 0 {
		t.Fatal("a suggestion changed ECS")
	}
	// The human's click carries it out.
	res, err := g.r.Handle(context.Background(), remediate.Request{Incident: inc.ID, By: "slack:alice"})
	if err != nil || !res.Done {
		t.Fatalf("%+v %v", res, err)
	}
}

// A handler killed mid-action (the new revision registered, the service not yet updated) and
// restarted never acts a second time: the action was counted before it started.
func TestKilledMidActionNoSecondAction(t *testing.T) {
	g := newRig(t, checkout(0), "oom-killed")
	inc := g.open(t, classify.OOMKilled, "oom-killed", td12, 1)
	g.r.ECS = ecs.NewFromConfig(fakes.AWSConfig(g.ecs.URL))
	g.ecs.FailNext(1, fakes.Fault{Op: "UpdateService", Status: 500})
	if _, err := g.r.Handle(context.Background(), remediate.Request{Incident: inc.ID, By: "auto"}); err == nil {
		t.Fatal("the failed update was hidden")
	}
	registered := 0
	for _, c := range g.ecs.Calls("RegisterTaskDefinition") {
		_ = c
		registered++
	}
	// Restarted: the automation retries, and a human clicks without force.
	for _, by := range []string{"auto", "slack:alice"} {
		out, err := g.r.Handle(context.Background(), remediate.Request{Incident: inc.ID, By: by})
		if err != nil || out.Done {
			t.Fatalf("%s: %+v %v", by, out, err)
		}
	}
	if n := len(g.ecs.Calls("RegisterTaskDefinition")); n != registered || registered != 1 {
		t.Fatalf("%d registrations after the restart, want 1", n)
	}
	got, _ := g.m.Get(context.Background(), inc.ID)
	if got.AutomationStopped == "" {
		t.Fatal("automation not stopped after the failed action")
	}
}

// A remediator wired without its guard store refuses (no ECS call) instead of acting with no
// rate limit, lease or rollback memory, or panicking halfway.
func TestUnwiredGuardsRefuse(t *testing.T) {
	g := newRig(t, checkout(0), "oom-killed")
	inc := g.open(t, classify.OOMKilled, "oom-killed", td12, 1)
	g.r.Guards = nil
	_, err := g.r.Handle(context.Background(), remediate.Request{Incident: inc.ID, By: "auto"})
	if !errors.Is(err, remediate.ErrRefused) {
		t.Fatalf("err = %v, want a refusal", err)
	}
	if n := len(g.ecs.Mutations()); n != 0 {
		t.Fatalf("%d ECS writes without a guard store", n)
	}
}
