package awslogs_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/ecs"

	"github.com/ecs-medic/ecs-medic/internal/tasklogs/awslogs"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakeecs"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakelogs"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakes"
)

// TaskDef is a task definition as DescribeTaskDefinition returns it.
const taskDef = `{"family":"checkout","revision":12,"taskDefinitionArn":"arn:aws:ecs:us-east-1:111122223333:task-definition/checkout:12",
 "containerDefinitions":[
  {"name":"envoy","image":"envoy","essential":true},
  {"name":"api","image":"api","essential":true,"logConfiguration":{"logDriver":"awslogs","options":{"awslogs-group":"/ecs/checkout","awslogs-region":"us-east-1","awslogs-stream-prefix":"ecs"}}},
  {"name":"fluent","image":"fluent","logConfiguration":{"logDriver":"awsfirelens","options":{}}},
  {"name":"legacy","image":"legacy","logConfiguration":{"logDriver":"awslogs","options":{"awslogs-group":"/ecs/legacy"}}}]}`

func setup(t *testing.T) (*awslogs.Reader, *fakeecs.Server, *fakelogs.Server) {
	fe, fl := fakeecs.New(), fakelogs.New()
	t.Cleanup(fe.Close)
	t.Cleanup(fl.Close)
	fe.PutTaskDefinition("checkout:12", json.RawMessage(taskDef))
	e := ecs.NewFromConfig(fakes.AWSConfig(fe.URL))
	l := cloudwatchlogs.NewFromConfig(fakes.AWSConfig(fl.URL))
	return awslogs.New(e, l, 20), fe, fl
}

func TestLastLines(t *testing.T) {
	r, fe, fl := setup(t)
	var lines []string
	for i := range 30 {
		lines = append(lines, fmt.Sprintf("line %d\n", i))
	}
	fl.Put("/ecs/checkout", "ecs/api/abc123", lines...)
	task := awslogs.Task{Region: "us-east-1", TaskDefinition: "arn:aws:ecs:us-east-1:111122223333:task-definition/checkout:12", TaskID: "abc123", Container: "api"}
	tail, err := r.Last(context.Background(), task)
	if err != nil {
		t.Fatal(err)
	}
	if tail.Group != "/ecs/checkout" || tail.Stream != "ecs/api/abc123" || len(tail.Lines) != 20 || tail.Lines[19] != "line 29" {
		t.Fatalf("%+v", tail)
	}
	// The task definition is read once.
	if _, err := r.Last(context.Background(), task); err != nil {
		t.Fatal(err)
	}
	if n := len(fe.Calls("DescribeTaskDefinition")); n != 1 {
		t.Fatalf("%d DescribeTaskDefinition calls", n)
	}
}

func TestWhyLogsCannotBeRead(t *testing.T) {
	r, _, _ := setup(t)
	def := "arn:aws:ecs:us-east-1:111122223333:task-definition/checkout:12"
	for _, tc := range []struct {
		task awslogs.Task
		says string
	}{
		{awslogs.Task{TaskDefinition: def, TaskID: "t1", Container: "envoy"}, "no log configuration"},
		{awslogs.Task{TaskDefinition: def, TaskID: "t1", Container: "fluent"}, "logs with awsfirelens, not awslogs"},
		{awslogs.Task{TaskDefinition: def, TaskID: "t1", Container: "legacy"}, "do not name the stream"},
		{awslogs.Task{TaskDefinition: def, TaskID: "t1", Container: "api"}, "does not exist"},
		{awslogs.Task{TaskDefinition: def, TaskID: "t1", Container: "nope"}, "not in task definition"},
		{awslogs.Task{TaskDefinition: "arn:aws:ecs:us-east-1:111122223333:task-definition/gone:1", TaskID: "t1"}, "describe task definition"},
	} {
		_, err := r.Last(context.Background(), tc.task)
		if err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%+v: %v, want it to say %q", tc.task, err, tc.says)
		}
	}
}
