package remediate_test

import (
	"context"
	"strings"
	"testing"

	"github.com/ecs-medic/ecs-medic/internal/classify"
	"github.com/ecs-medic/ecs-medic/internal/remediate"
	"github.com/ecs-medic/ecs-medic/internal/runbook"
)

// A service CodeDeploy or an external tool deploys cannot take a task definition through
// UpdateService: medic never tries, says what to do instead, and still may scale it.
func TestBlueGreenServicesAreNeverRolledBackThroughECS(t *testing.T) {
	for _, controller := range []string{"CODE_DEPLOY", "EXTERNAL"} {
		t.Run(controller, func(t *testing.T) {
			svc := checkout(0)
			svc.Controller = controller
			g := newRig(t, svc, "oom-killed")
			inc := g.open(t, classify.OOMKilled, "oom-killed", td12, 1)

			auto := g.fix(t, inc.ID)
			if auto.Done || !strings.Contains(auto.Skipped, "UpdateService cannot") && !strings.Contains(auto.Skipped, "external controller") {
				t.Errorf("automatic raise-memory: %+v", auto)
			}
			for _, action := range []runbook.Action{runbook.Rollback, runbook.ForceNewDeployment} {
				out, err := g.r.Handle(context.Background(), remediate.Request{Incident: inc.ID, By: "slack:U0ALICE", Action: action, Force: true})
				if err != nil || out.Done || out.Skipped == "" {
					t.Errorf("human %s: %+v %v", action, out, err)
				}
			}
			if m := g.ecs.Mutations(); len(m) != 0 {
				t.Fatalf("%d mutating calls on a %s service: %+v", len(m), controller, m)
			}
			out, err := g.r.Handle(context.Background(), remediate.Request{Incident: inc.ID, By: "slack:U0ALICE", Action: runbook.ScaleOut, Desired: 5})
			if err != nil || !out.Done {
				t.Errorf("scaling a %s service: %+v %v", controller, out, err)
			}
		})
	}
}
