package remediate

import (
	"context"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ecs-medic/ecs-medic/internal/cost"
)

// priced is a plan's monthly cost change: the words the plan carries, and the figure when known.
type priced struct {
	usd  *float64
	text string
}

// size is a task's CPU units and memory in MiB.
type size struct{ cpu, memory int }

// price estimates the monthly cost of going from count tasks of size from to toCount of size to,
// for a service's task definition. Without a price table it says nothing.
func (r *Remediator) price(svc *ecstypes.Service, td *ecstypes.TaskDefinition, region string, from size, count int, to size, toCount int) priced {
	if r.Prices == nil {
		return priced{}
	}
	capacity, note := capacityOf(svc, td)
	arm := td.RuntimePlatform != nil && td.RuntimePlatform.CpuArchitecture == ecstypes.CPUArchitectureArm64
	task := func(s size) cost.Task {
		return cost.Task{Region: region, Capacity: capacity, ARM: arm, CPU: s.cpu, Memory: s.memory}
	}
	est := r.Prices.Change(task(from), count, task(to), toCount)
	if !est.Known {
		return priced{text: "cost: " + est.Why}
	}
	usd := est.USD
	where := "Fargate"
	if capacity == cost.FargateSpot {
		where, note = "Fargate Spot", " (the Spot discount is an estimate)"
	}
	return priced{usd: &usd, text: fmt.Sprintf("cost: %s for %d task(s) on %s in %s%s", est, toCount, where, region, note)}
}

// capacityOf says where the service's tasks run: its launch type, or its capacity provider
// strategy (a strategy that mixes Fargate and Fargate Spot is priced as on demand, an upper bound).
func capacityOf(svc *ecstypes.Service, td *ecstypes.TaskDefinition) (cost.Capacity, string) {
	switch svc.LaunchType {
	case ecstypes.LaunchTypeFargate:
		return cost.Fargate, ""
	case ecstypes.LaunchTypeEc2, ecstypes.LaunchTypeExternal:
		return cost.EC2, ""
	}
	spot, onDemand, other := false, false, false
	for _, s := range svc.CapacityProviderStrategy {
		if s.Weight == 0 && s.Base == 0 {
			continue
		}
		switch aws.ToString(s.CapacityProvider) {
		case "FARGATE_SPOT":
			spot = true
		case "FARGATE":
			onDemand = true
		default:
			other = true
		}
	}
	switch {
	case other:
		return cost.EC2, ""
	case spot && onDemand:
		return cost.Fargate, " (upper bound: part of the tasks run on Spot)"
	case spot:
		return cost.FargateSpot, ""
	case onDemand:
		return cost.Fargate, ""
	}
	for _, c := range td.RequiresCompatibilities {
		if c == ecstypes.CompatibilityFargate {
			return cost.Fargate, ""
		}
	}
	return cost.EC2, ""
}

// taskSize reads a task definition's task-level size (Fargate), or for EC2 the sum of its
// containers' hard limits, which is what a scale-out adds to the cluster.
func taskSize(td *ecstypes.TaskDefinition) size {
	cpu, _ := strconv.Atoi(aws.ToString(td.Cpu))
	mem, _ := strconv.Atoi(aws.ToString(td.Memory))
	// Each of the two that the task level leaves out is its containers' sum; one given at the
	// task level is not added to again.
	var cpus, mems int
	for _, c := range td.ContainerDefinitions {
		cpus += int(c.Cpu)
		mems += int(aws.ToInt32(c.Memory))
	}
	if cpu == 0 {
		cpu = cpus
	}
	if mem == 0 {
		mem = mems
	}
	return size{cpu: cpu, memory: mem}
}

// taskDefinition reads the service's current task definition, for pricing a scale-out.
func (r *Remediator) taskDefinition(ctx context.Context, region string, svc *ecstypes.Service) (*ecstypes.TaskDefinition, error) {
	out, err := r.ECS.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: svc.TaskDefinition},
		func(o *ecs.Options) { o.Region = region })
	if err != nil {
		return nil, fmt.Errorf("describe task definition %s: %w", aws.ToString(svc.TaskDefinition), err)
	}
	return out.TaskDefinition, nil
}
