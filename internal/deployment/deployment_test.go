package deployment_test

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ecs-medic/ecs-medic/internal/deployment"
	"github.com/ecs-medic/ecs-medic/internal/servicestate"
)

const (
	rev12 = "arn:aws:ecs:us-east-1:111122223333:task-definition/checkout:12"
	rev13 = "arn:aws:ecs:us-east-1:111122223333:task-definition/checkout:13"
)

var deployedAt = time.Date(2026, 11, 27, 2, 58, 0, 0, time.UTC)

func snapshot(controller, rollout string, deps ...servicestate.Deployment) *servicestate.Snapshot {
	if deps == nil {
		deps = []servicestate.Deployment{
			{ID: "ecs-svc/2", Status: "PRIMARY", TaskDefinition: rev13, RolloutState: rollout, CreatedAt: deployedAt},
			{ID: "ecs-svc/1", Status: "ACTIVE", TaskDefinition: rev12, RolloutState: "COMPLETED", CreatedAt: deployedAt.Add(-48 * time.Hour)},
		}
	}
	return &servicestate.Snapshot{Cluster: "prod", Service: "checkout", TaskDefinition: rev13, Controller: controller, Deployments: deps}
}

func TestSuspect(t *testing.T) {
	for _, tc := range []struct {
		name      string
		snap      *servicestate.Snapshot
		failing   string
		at        time.Time
		stable    string
		wantFrom  string
		wantBlame bool
	}{
		{"two minutes after the deploy, on its revision", snapshot("ECS", "IN_PROGRESS"), rev13, deployedAt.Add(2 * time.Minute), "", rev12, true},
		{"at the window's edge", snapshot("ECS", "COMPLETED"), rev13, deployedAt.Add(deployment.Window), "", rev12, true},
		{"past the window, deployment done", snapshot("ECS", "COMPLETED"), rev13, deployedAt.Add(deployment.Window + time.Second), "", "", false},
		{"past the window, still rolling out", snapshot("ECS", "IN_PROGRESS"), rev13, deployedAt.Add(time.Hour), "", rev12, true},
		{"the old revision failing is not the deploy's fault", snapshot("ECS", "IN_PROGRESS"), rev12, deployedAt.Add(2 * time.Minute), "", "", false},
		{"a failure before the deployment", snapshot("ECS", "IN_PROGRESS"), rev13, deployedAt.Add(-time.Minute), "", "", false},
		{"old deployment gone: the stable revision is the from", snapshot("ECS", "COMPLETED",
			servicestate.Deployment{ID: "ecs-svc/2", Status: "PRIMARY", TaskDefinition: rev13, CreatedAt: deployedAt}), rev13, deployedAt.Add(3 * time.Minute), rev12, rev12, true},
		{"old deployment gone, nothing known before", snapshot("ECS", "COMPLETED",
			servicestate.Deployment{ID: "ecs-svc/2", Status: "PRIMARY", TaskDefinition: rev13, CreatedAt: deployedAt}), rev13, deployedAt.Add(3 * time.Minute), "", "", true},
		{"no state", nil, rev13, deployedAt, "", "", false},
		{"no failing revision", snapshot("ECS", "IN_PROGRESS"), "", deployedAt, "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := deployment.Suspect(tc.snap, tc.failing, tc.at, tc.stable)
			if (l != nil) != tc.wantBlame {
				t.Fatalf("link %+v, want blame %v", l, tc.wantBlame)
			}
			if l != nil && (l.From != tc.wantFrom || l.To != tc.failing || l.DeploymentID != "ecs-svc/2" || !l.Rollback) {
				t.Errorf("link %+v, want from %s", l, tc.wantFrom)
			}
		})
	}
}

func TestRollbackNeedsTheECSController(t *testing.T) {
	for controller, want := range map[string]bool{"": true, "ECS": true, "CODE_DEPLOY": false, "EXTERNAL": false} {
		ok, help := deployment.CanRollBack(controller)
		if ok != want || (!ok && help == "") {
			t.Errorf("%q: %v %q", controller, ok, help)
		}
		if l := deployment.Suspect(snapshot(controller, "IN_PROGRESS"), rev13, deployedAt.Add(time.Minute), ""); l.Rollback != want {
			t.Errorf("%q: link says rollback %v", controller, l.Rollback)
		}
	}
	_, help := deployment.CanRollBack("CODE_DEPLOY")
	if !strings.Contains(help, "CodeDeploy") {
		t.Errorf("CodeDeploy help: %q", help)
	}
}

func container(name, image string, mem int32, env map[string]string, cmd ...string) ecstypes.ContainerDefinition {
	c := ecstypes.ContainerDefinition{Name: aws.String(name), Image: aws.String(image), Memory: aws.Int32(mem), Command: cmd, Essential: aws.Bool(true)}
	for k, v := range env {
		c.Environment = append(c.Environment, ecstypes.KeyValuePair{Name: aws.String(k), Value: aws.String(v)})
	}
	return c
}

func TestDiffNamesChangesNeverValues(t *testing.T) {
	from := &ecstypes.TaskDefinition{Cpu: aws.String("256"), Memory: aws.String("512"), ContainerDefinitions: []ecstypes.ContainerDefinition{
		container("api", "111122223333.dkr.ecr.us-east-1.amazonaws.com/checkout:v12", 512,
			map[string]string{"DB_PASSWORD": "hunter2", "MODE": "fast", "OLD_FLAG": "1"}, "serve"),
		container("sidecar", "public.ecr.aws/aws-observability/aws-otel-collector:v0.40.0", 64, nil),
	}}
	to := &ecstypes.TaskDefinition{Cpu: aws.String("256"), Memory: aws.String("1024"), ContainerDefinitions: []ecstypes.ContainerDefinition{
		container("api", "111122223333.dkr.ecr.us-east-1.amazonaws.com/checkout:v13", 512,
			map[string]string{"DB_PASSWORD": "correct-horse", "MODE": "fast", "NEW_FLAG": "s3cr3t"}, "serve", "--migrate"),
		container("worker", "111122223333.dkr.ecr.us-east-1.amazonaws.com/checkout:v13", 256, nil),
	}}
	got := strings.Join(deployment.Diff(from, to), "\n")
	for _, want := range []string{
		"task memory 512 → 1024 MiB",
		"api image v12 → v13",
		"api environment added NEW_FLAG; removed OLD_FLAG; changed DB_PASSWORD",
		`api command "serve" → "serve --migrate"`,
		"container worker added",
		"container sidecar removed",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("diff lacks %q:\n%s", want, got)
		}
	}
	for _, secret := range []string{"hunter2", "correct-horse", "s3cr3t"} {
		if strings.Contains(got, secret) {
			t.Errorf("diff shows an environment value %q:\n%s", secret, got)
		}
	}
	if strings.Contains(got, "MODE") {
		t.Errorf("an unchanged key is listed:\n%s", got)
	}
	same := deployment.Diff(from, from)
	if len(same) != 1 || !strings.Contains(same[0], "no change") {
		t.Errorf("identical definitions: %v", same)
	}
}

func TestDiffShowsTheWholeImageWhenTheRepositoryChanged(t *testing.T) {
	from := &ecstypes.TaskDefinition{ContainerDefinitions: []ecstypes.ContainerDefinition{container("api", "repo-a/app:1", 0, nil)}}
	to := &ecstypes.TaskDefinition{ContainerDefinitions: []ecstypes.ContainerDefinition{container("api", "repo-b/app@sha256:abc", 0, nil)}}
	if got := strings.Join(deployment.Diff(from, to), "\n"); !strings.Contains(got, "api image repo-a/app:1 → repo-b/app@sha256:abc") {
		t.Errorf("%s", got)
	}
}
