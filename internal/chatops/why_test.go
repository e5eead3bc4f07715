package chatops_test

import (
	"context"
	"strings"
	"testing"
	"testing/fstest"

	"go.uber.org/zap"

	"github.com/ecs-medic/ecs-medic/internal/metrics"
	"github.com/ecs-medic/ecs-medic/internal/notify"
	"github.com/ecs-medic/ecs-medic/internal/pipeline"
	"github.com/ecs-medic/ecs-medic/internal/runbook"
	"github.com/ecs-medic/ecs-medic/internal/servicestate"
	"github.com/ecs-medic/ecs-medic/internal/testing/eventgen"
)

// operatorRunbooks is a runbook folder whose classify.yaml reads the Vault agent's denial (which
// the built-in rules call the application's own exit) as a secrets failure, and the OOM kill of
// the nightly batch's memory probe as an expected stop.
func operatorRunbooks(t *testing.T) *runbook.Set {
	t.Helper()
	set, err := runbook.Load(fstest.MapFS{"classify.yaml": {Data: []byte(`rules:
  - id: vault-agent
    match: 'vault agent .* permission denied'
    cause: resource-init
    sub: secrets
  - id: memory-probe
    match: 'killed due to memory usage'
    cause: expected
`)}})
	if err != nil && set == nil {
		t.Fatal(err)
	}
	if len(set.Classifier.OperatorRules()) != 2 {
		t.Fatalf("classify.yaml not read: %v", err)
	}
	return set
}

// /medic why classifies with the operator's rules of the runbook folder, as the pipeline does:
// for an incident the pipeline opened (its diagnosis, and the rule that decided), and for a task
// read from ECS.
func TestWhyUsesTheOperatorsRules(t *testing.T) {
	g := newRig(t)
	set := operatorRunbooks(t)
	g.h.Classifier = set.Classifier
	p := pipeline.New(g.m, servicestate.Unavailable{Reason: "test"}, notify.NewFanout(nil), zap.NewNop(), metrics.New(),
		pipeline.WithRunbooks(set))
	raw := eventgen.TaskStopped(eventgen.Task{Cluster: "prod", Service: "checkout", TaskN: 7, StopCode: "EssentialContainerExited",
		StoppedReason: "Essential container in task exited", Container: "app", ExitCode: eventgen.Exit(1),
		Reason: "vault agent failed: auth/aws/login: permission denied"})
	res, err := p.HandleRaw(context.Background(), raw)
	if err != nil || res.Cause != "resource-init" || res.Incident == "" {
		t.Fatalf("pipeline: %+v %v", res, err)
	}

	t.Run("incident", func(t *testing.T) {
		_, answer := g.command(t, "U0BOB", "why "+eventgen.TaskID(7)[:12])
		for _, want := range []string{"ResourceInitializationError", "Decided by rule `operator:vault-agent`", "vault agent failed: auth/aws/login: permission denied"} {
			if !strings.Contains(answer, want) {
				t.Errorf("answer lacks %q:\n%s", want, answer)
			}
		}
	})
	t.Run("task from ECS", func(t *testing.T) {
		// The rig's ECS has one stopped task, killed for its memory: OOMKilled by the built-in
		// rules, an expected stop by the operator's.
		_, now := g.command(t, "U0BOB", "why prod aaaa1111bbbb2222cccc3333dddd4444")
		if !strings.Contains(now, "Reading task") {
			t.Fatal(now)
		}
		answer := g.deferred(t)
		for _, want := range []string{"— expected stop", "Decided by rule `operator:memory-probe`", "opens no incident"} {
			if !strings.Contains(answer, want) {
				t.Errorf("answer lacks %q:\n%s", want, answer)
			}
		}
		if strings.Contains(answer, "OOM") {
			t.Errorf("the built-in rules decided:\n%s", answer)
		}
	})
	t.Run("status", func(t *testing.T) {
		g.command(t, "U0BOB", "status prod/checkout")
		if answer := g.deferred(t); !strings.Contains(answer, "(`expected`)") {
			t.Errorf("status did not classify with the operator's rules:\n%s", answer)
		}
	})
	t.Run("built-in rules without classify.yaml", func(t *testing.T) {
		g.h.Classifier = nil
		g.command(t, "U0BOB", "why prod aaaa1111bbbb2222cccc3333dddd4444")
		if answer := g.deferred(t); !strings.Contains(answer, "Decided by rule `oom`") {
			t.Errorf("answer:\n%s", answer)
		}
	})
}
