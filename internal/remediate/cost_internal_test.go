package remediate

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ecs-medic/ecs-medic/internal/cost"
)

// Where a service's tasks run decides their price: the launch type, else the capacity providers
// that carry weight or a base, else the task definition's compatibility.
func TestCapacityOf(t *testing.T) {
	strategy := func(items ...ecstypes.CapacityProviderStrategyItem) *ecstypes.Service {
		return &ecstypes.Service{CapacityProviderStrategy: items}
	}
	item := func(name string, weight, base int32) ecstypes.CapacityProviderStrategyItem {
		return ecstypes.CapacityProviderStrategyItem{CapacityProvider: aws.String(name), Weight: weight, Base: base}
	}
	fargateTD := &ecstypes.TaskDefinition{RequiresCompatibilities: []ecstypes.Compatibility{ecstypes.CompatibilityFargate}}
	ec2TD := &ecstypes.TaskDefinition{RequiresCompatibilities: []ecstypes.Compatibility{ecstypes.CompatibilityEc2}}
	for _, tc := range []struct {
		name string
		svc  *ecstypes.Service
		td   *ecstypes.TaskDefinition
		want cost.Capacity
		note string
	}{
		{"launch type Fargate", &ecstypes.Service{LaunchType: ecstypes.LaunchTypeFargate}, ec2TD, cost.Fargate, ""},
		{"launch type EC2", &ecstypes.Service{LaunchType: ecstypes.LaunchTypeEc2}, fargateTD, cost.EC2, ""},
		{"launch type external", &ecstypes.Service{LaunchType: ecstypes.LaunchTypeExternal}, fargateTD, cost.EC2, ""},
		{"Spot", strategy(item("FARGATE_SPOT", 1, 0)), ec2TD, cost.FargateSpot, ""},
		{"Spot by its base alone", strategy(item("FARGATE_SPOT", 0, 2), item("FARGATE", 0, 0)), ec2TD, cost.FargateSpot, ""},
		{"a provider of no weight and no base does not count", strategy(item("FARGATE_SPOT", 0, 0), item("FARGATE", 3, 0)), ec2TD, cost.Fargate, ""},
		{"mixed", strategy(item("FARGATE_SPOT", 1, 0), item("FARGATE", 1, 0)), ec2TD, cost.Fargate, " (upper bound: part of the tasks run on Spot)"},
		{"an EC2 capacity provider", strategy(item("my-asg", 1, 0), item("FARGATE", 1, 0)), fargateTD, cost.EC2, ""},
		{"nothing said, a Fargate task", strategy(), fargateTD, cost.Fargate, ""},
		{"nothing said, an EC2 task", strategy(), ec2TD, cost.EC2, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, note := capacityOf(tc.svc, tc.td)
			if got != tc.want || note != tc.note {
				t.Fatalf("%s %q, want %s %q", got, note, tc.want, tc.note)
			}
		})
	}
}

// A task's size is its task-level CPU and memory; what the task definition leaves out comes from
// its containers (EC2).
func TestTaskSize(t *testing.T) {
	cs := []ecstypes.ContainerDefinition{{Cpu: 128, Memory: aws.Int32(256)}, {Cpu: 64, Memory: aws.Int32(128)}, {Cpu: 0}}
	for _, tc := range []struct {
		name     string
		cpu, mem *string
		want     size
	}{
		{"task level", aws.String("1024"), aws.String("2048"), size{1024, 2048}},
		{"containers", nil, nil, size{192, 384}},
		{"task CPU, container memory", aws.String("1024"), nil, size{1024, 384}},
		{"container CPU, task memory", nil, aws.String("2048"), size{192, 2048}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := taskSize(&ecstypes.TaskDefinition{Cpu: tc.cpu, Memory: tc.mem, ContainerDefinitions: cs}); got != tc.want {
				t.Fatalf("%+v, want %+v", got, tc.want)
			}
		})
	}
}
