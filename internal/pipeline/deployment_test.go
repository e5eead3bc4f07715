package pipeline_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"go.uber.org/zap"

	"github.com/ecs-medic/ecs-medic/internal/boltstore"
	"github.com/ecs-medic/ecs-medic/internal/deployment"
	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/metrics/prom"
	"github.com/ecs-medic/ecs-medic/internal/notify"
	"github.com/ecs-medic/ecs-medic/internal/pipeline"
	"github.com/ecs-medic/ecs-medic/internal/servicestate"
	"github.com/ecs-medic/ecs-medic/internal/testing/eventgen"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakeecs"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakes"
)

const (
	payments30 = "arn:aws:ecs:us-east-1:111122223333:task-definition/payments:30"
	payments31 = "arn:aws:ecs:us-east-1:111122223333:task-definition/payments:31"
)

// deployRig is a payments service two minutes into a deployment of revision 31 (revision 30 still
// active), under the given deployment controller.
func deployRig(t *testing.T, controller string) (*pipeline.Pipeline, *boltstore.Store, *fakeecs.Server) {
	t.Helper()
	at := time.Date(2026, 11, 27, 2, 58, 0, 0, time.UTC)
	fake := fakeecs.New(fakeecs.Service{Cluster: "prod", Name: "payments", Desired: 4, Running: 1, TaskDefinition: payments31, Controller: controller,
		Deployments: []fakeecs.Deployment{
			{ID: "ecs-svc/31", Status: "PRIMARY", TaskDefinition: payments31, RolloutState: "IN_PROGRESS", Desired: 4, Failed: 3, CreatedAt: at},
			{ID: "ecs-svc/30", Status: "ACTIVE", TaskDefinition: payments30, RolloutState: "COMPLETED", Desired: 4, Running: 1, CreatedAt: at.Add(-72 * time.Hour)}}})
	t.Cleanup(fake.Close)
	fake.PutTaskDefinition("payments:30", json.RawMessage(`{"family":"payments","revision":30,"cpu":"512","memory":"1024",
		"taskDefinitionArn":"`+payments30+`","containerDefinitions":[{"name":"api","image":"111122223333.dkr.ecr.us-east-1.amazonaws.com/payments:v30",
		"essential":true,"environment":[{"name":"STRIPE_KEY","value":"sk_live_old"}]}]}`))
	fake.PutTaskDefinition("payments:31", json.RawMessage(`{"family":"payments","revision":31,"cpu":"512","memory":"1024",
		"taskDefinitionArn":"`+payments31+`","containerDefinitions":[{"name":"api","image":"111122223333.dkr.ecr.us-east-1.amazonaws.com/payments:v31",
		"essential":true,"environment":[{"name":"STRIPE_KEY","value":"sk_live_new"},{"name":"FEATURE_X","value":"on"}]}]}`))
	client := ecs.NewFromConfig(fakes.AWSConfig(fake.URL))
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "medic.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	p := pipeline.New(incident.NewManager(st), servicestate.New(client), notify.NewFanout(nil), zap.NewNop(), prom.New(),
		pipeline.WithDeployments(func(context.Context, string, string) (deployment.ECS, error) { return client, nil }))
	return p, st, fake
}

func TestCrashLoopAfterADeployIsLinkedToIt(t *testing.T) {
	p, st, fake := deployRig(t, "")
	res, err := p.HandleRaw(context.Background(), eventgen.Crash("prod", "payments", 1, 31))
	if err != nil || res.Outcome != pipeline.OutcomeOpened {
		t.Fatalf("%+v %v", res, err)
	}
	for i := 2; i <= 5; i++ {
		if _, err := p.HandleRaw(context.Background(), eventgen.Crash("prod", "payments", i, 31)); err != nil {
			t.Fatal(err)
		}
	}
	inc, err := st.Get(context.Background(), res.Incident)
	if err != nil {
		t.Fatal(err)
	}
	d := inc.Deployment
	if d == nil {
		t.Fatalf("no deployment linked: %+v", inc)
	}
	if d.From != payments30 || d.To != payments31 || d.DeploymentID != "ecs-svc/31" || d.After != 2*time.Minute || !d.Rollback {
		t.Errorf("link %+v", d)
	}
	changes := strings.Join(d.Changes, "\n")
	if !strings.Contains(changes, "api image v30 → v31") || !strings.Contains(changes, "api environment added FEATURE_X; changed STRIPE_KEY") {
		t.Errorf("changes:\n%s", changes)
	}
	if strings.Contains(changes, "sk_live") {
		t.Errorf("an environment value reached the incident:\n%s", changes)
	}
	linked := 0
	for _, e := range inc.Timeline {
		if e.Kind == "deployment" && strings.Contains(e.Message, "likely bad deploy: payments:30 → payments:31") {
			linked++
		}
	}
	if linked != 1 {
		t.Errorf("%d timeline entries link the deployment, want 1: %+v", linked, inc.Timeline)
	}
	// Two task definitions read once, for the one incident, not once per event.
	if n := len(fake.Calls("DescribeTaskDefinition")); n != 2 {
		t.Errorf("%d DescribeTaskDefinition calls, want 2", n)
	}
}

func TestBlueGreenServiceIsLinkedButNotRolledBack(t *testing.T) {
	p, st, _ := deployRig(t, "CODE_DEPLOY")
	res, err := p.HandleRaw(context.Background(), eventgen.Crash("prod", "payments", 1, 31))
	if err != nil {
		t.Fatal(err)
	}
	inc, _ := st.Get(context.Background(), res.Incident)
	if d := inc.Deployment; d == nil || d.Rollback || !strings.Contains(d.RollbackHelp, "CodeDeploy") {
		t.Fatalf("link %+v", inc.Deployment)
	}
}

func TestAnOldRevisionFailingIsNotBlamedOnTheDeploy(t *testing.T) {
	p, st, _ := deployRig(t, "")
	res, err := p.HandleRaw(context.Background(), eventgen.Crash("prod", "payments", 1, 30))
	if err != nil {
		t.Fatal(err)
	}
	inc, _ := st.Get(context.Background(), res.Incident)
	if inc.Deployment != nil {
		t.Fatalf("revision 30 failing linked to the deploy of 31: %+v", inc.Deployment)
	}
}
