package functions_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/ecs-medic/ecs-medic/internal/classify"
	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/incident/incidenttest"
	"github.com/ecs-medic/ecs-medic/internal/remediate"
	"github.com/ecs-medic/ecs-medic/internal/severity"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakeecs"
)

func TestRemediateFunction(t *testing.T) { observe("remediate", scenarioRemediate(t)) }

func scenarioRemediate(t *testing.T) *world {
	td := "arn:aws:ecs:us-east-1:111122223333:task-definition/checkout:1"
	w := newWorld(t, fakeecs.Service{Cluster: "prod", Name: "checkout", Desired: 4, Running: 0, TaskDefinition: td,
		Deployments: []fakeecs.Deployment{{ID: "ecs-svc/1", Status: "PRIMARY", TaskDefinition: td, RolloutState: "COMPLETED", Desired: 4}}})
	w.ecs.PutTaskDefinition("checkout:1", json.RawMessage(`{"family":"checkout","revision":1,"taskDefinitionArn":"`+td+`",
		"requiresCompatibilities":["FARGATE"],"networkMode":"awsvpc","cpu":"256","memory":"512",
		"containerDefinitions":[{"name":"app","image":"checkout:v1","essential":true}]}`))
	sig := incidenttest.Failure(classify.OOMKilled, 1, severity.P1)
	sig.Runbook, sig.Fix, sig.Facts.TaskDefinition = "oom-killed", "raise-memory", td
	out, err := incident.NewManager(w.store).Apply(context.Background(), sig)
	if err != nil {
		t.Fatal(err)
	}
	f := startFn(t, build(t, "github.com/ecs-medic/ecs-medic/functions/remediate", "lambda.norpc"), w.env)

	// Automation alone waits: the shipped runbook only suggests.
	var auto remediate.Outcome
	payload, _ := json.Marshal(remediate.Request{Incident: out.Incident.ID, By: "auto"})
	f.invoke(t, payload, &auto)
	if auto.Done || len(w.ecs.Mutations()) != 0 {
		t.Fatalf("acted without a human on a suggest runbook: %+v", auto)
	}
	// A human's Run fix goes through.
	var human remediate.Outcome
	payload, _ = json.Marshal(remediate.Request{Incident: out.Incident.ID, By: "slack:alice"})
	f.invoke(t, payload, &human)
	muts := w.ecs.Mutations()
	if !human.Done || len(muts) != 2 || muts[0].Body["memory"] != "1024" {
		t.Fatalf("%+v %v\n%s", human, muts, f.logs())
	}
	inc, _ := w.store.Get(context.Background(), out.Incident.ID)
	if inc.ActionAt == nil {
		t.Fatal("the action is not on the incident")
	}
	return w
}
