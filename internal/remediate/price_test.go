package remediate_test

import (
	"context"
	"math"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ecs-medic/ecs-medic/internal/classify"
	"github.com/ecs-medic/ecs-medic/internal/cost"
	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/incident/incidenttest"
	"github.com/ecs-medic/ecs-medic/internal/remediate"
	"github.com/ecs-medic/ecs-medic/internal/severity"
)

// placedECS answers DescribeServices as if the service ran on the launch type or capacity
// provider strategy given (the fake ECS knows only the FARGATE launch type and FARGATE_SPOT).
type placedECS struct {
	remediate.ECS
	launch   ecstypes.LaunchType
	strategy []ecstypes.CapacityProviderStrategyItem
}

func (p *placedECS) DescribeServices(ctx context.Context, in *ecs.DescribeServicesInput, optFns ...func(*ecs.Options)) (*ecs.DescribeServicesOutput, error) {
	out, err := p.ECS.DescribeServices(ctx, in, optFns...)
	if err != nil {
		return nil, err
	}
	for i := range out.Services {
		out.Services[i].LaunchType, out.Services[i].CapacityProviderStrategy = p.launch, p.strategy
	}
	return out, nil
}

// provider is one capacity provider of a strategy.
func provider(name string, weight int32) ecstypes.CapacityProviderStrategyItem {
	return ecstypes.CapacityProviderStrategyItem{CapacityProvider: aws.String(name), Weight: weight}
}

// pricedOutcome checks a fix's cost, as a figure (nil: none) and in its plan, word for word.
func pricedOutcome(t *testing.T, out remediate.Outcome, usd *float64, plan string) {
	t.Helper()
	mustDo(t, out)
	switch {
	case usd == nil && out.CostUSD != nil:
		t.Errorf("cost %v, want none", *out.CostUSD)
	case usd != nil && out.CostUSD == nil:
		t.Errorf("no cost, want %v", *usd)
	case usd != nil && math.Abs(*out.CostUSD-*usd) > 1e-9:
		t.Errorf("cost %.10f, want %.10f", *out.CostUSD, *usd)
	}
	if out.Plan != plan {
		t.Errorf("plan\n %q\nwant\n %q", out.Plan, plan)
	}
}

// The monthly cost of a raise-memory, from the built-in Fargate list prices (prices.yaml): the
// task's vCPU and GB over 730 hours at its region's price, ARM (Graviton) or x86 by the task
// definition's runtime platform, × 0.3 on Fargate Spot, for every task the service runs; nothing on
// EC2 or in a region the table lacks. Each figure is worked out by hand from those prices.
func TestRaiseMemoryCostExact(t *testing.T) {
	const verb = "raise memory of prod/checkout: register a new revision of checkout:12 with "
	f := func(v float64) *float64 { return &v }
	for _, tc := range []struct {
		name     string
		change   func(map[string]any)
		region   string
		launch   ecstypes.LaunchType
		strategy []ecstypes.CapacityProviderStrategyItem
		usd      *float64
		plan     string
	}{
		{name: "ARM: 4 tasks × 0.5 GB × 0.00356 × 730",
			usd:  f(4 * 0.5 * 0.00356 * 730), // 5.1976
			plan: verb + "memory 512 → 1024 MiB, and update the service to it; cost: +$5.20/month for 4 task(s) on Fargate in us-east-1"},
		{name: "x86: 4 tasks × 0.5 GB × 0.004445 × 730",
			change: func(td map[string]any) {
				td["runtimePlatform"] = map[string]any{"cpuArchitecture": "X86_64", "operatingSystemFamily": "LINUX"}
			},
			usd:  f(4 * 0.5 * 0.004445 * 730), // 6.4897
			plan: verb + "memory 512 → 1024 MiB, and update the service to it; cost: +$6.49/month for 4 task(s) on Fargate in us-east-1"},
		{name: "no runtime platform is x86",
			change: func(td map[string]any) { delete(td, "runtimePlatform") },
			usd:    f(4 * 0.5 * 0.004445 * 730),
			plan:   verb + "memory 512 → 1024 MiB, and update the service to it; cost: +$6.49/month for 4 task(s) on Fargate in us-east-1"},
		{name: "the CPU raised too: 4 tasks × (0.5 vCPU × 0.03238 + 2 GB × 0.00356) × 730",
			change: func(td map[string]any) { fargate("512", "4096")(td) },
			usd:    f(4 * (0.5*0.03238 + 2*0.00356) * 730), // 68.0652
			plan:   verb + "memory 4096 → 6144 MiB, CPU 512 → 1024 (the size needs it), and update the service to it; cost: +$68.07/month for 4 task(s) on Fargate in us-east-1"},
		{name: "eu-west-1's price: 4 tasks × 0.5 GB × 0.00389 × 730", region: "eu-west-1",
			usd:  f(4 * 0.5 * 0.00389 * 730), // 5.6794
			plan: verb + "memory 512 → 1024 MiB, and update the service to it; cost: +$5.68/month for 4 task(s) on Fargate in eu-west-1"},
		{name: "Fargate Spot: × 0.3", strategy: []ecstypes.CapacityProviderStrategyItem{provider("FARGATE_SPOT", 1)},
			usd:  f(4 * 0.5 * 0.00356 * 730 * 0.3), // 1.55928
			plan: verb + "memory 512 → 1024 MiB, and update the service to it; cost: +$1.56/month for 4 task(s) on Fargate Spot in us-east-1 (the Spot discount is an estimate)"},
		{name: "Spot and on demand mixed: priced on demand, an upper bound",
			strategy: []ecstypes.CapacityProviderStrategyItem{provider("FARGATE_SPOT", 3), provider("FARGATE", 1)},
			usd:      f(4 * 0.5 * 0.00356 * 730),
			plan:     verb + "memory 512 → 1024 MiB, and update the service to it; cost: +$5.20/month for 4 task(s) on Fargate in us-east-1 (upper bound: part of the tasks run on Spot)"},
		{name: "a Fargate-compatible task on an EC2 capacity provider: no direct cost",
			strategy: []ecstypes.CapacityProviderStrategyItem{provider("my-asg", 1)},
			plan:     verb + "memory 512 → 1024 MiB, and update the service to it; cost: no direct cost on EC2 (instances are paid whatever the tasks use; check the cluster has room)"},
		{name: "a region the table lacks: no figure, the reason", region: "ap-east-2",
			plan: verb + "memory 512 → 1024 MiB, and update the service to it; cost: no Fargate price for ap-east-2 in the price table (MEDIC_PRICES)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newRig(t, checkout(0), "oom-killed")
			g.r.Prices = cost.Default()
			g.r.Runbooks.ByID("oom-killed").Fix.Params["allow_cpu_raise"] = true
			if tc.change != nil {
				putTaskDef(t, g, tc.change)
			}
			if tc.launch != "" || tc.strategy != nil {
				g.r.ECS = &placedECS{ECS: g.r.ECS, launch: tc.launch, strategy: tc.strategy}
			}
			sig := incidenttest.Failure(classify.OOMKilled, 1, severity.P1)
			sig.Runbook, sig.Facts.TaskDefinition, sig.Time = "oom-killed", td12, g.clk.Now()
			if tc.region != "" {
				sig.Scope.Region = tc.region
			}
			opened, err := g.m.Apply(context.Background(), sig)
			if err != nil {
				t.Fatal(err)
			}
			pricedOutcome(t, g.fix(t, opened.Incident.ID), tc.usd, tc.plan)
		})
	}
}

// The monthly cost of a scale-out (cpu-high: 2 more tasks, 4 → 6): each added task's vCPU and GB
// at its region's price over 730 hours; the task's size is the task definition's, or on EC2 the
// sum of its containers' (which is still no direct cost: the instances are paid already).
func TestScaleOutCostExact(t *testing.T) {
	const verb = "scale prod/checkout from 4 to 6 tasks (maximum 10); "
	f := func(v float64) *float64 { return &v }
	for _, tc := range []struct {
		name     string
		change   func(map[string]any)
		launch   ecstypes.LaunchType
		strategy []ecstypes.CapacityProviderStrategyItem
		usd      *float64
		plan     string
	}{
		{name: "ARM 256/512: 2 × (0.25 × 0.03238 + 0.5 × 0.00356) × 730",
			usd:  f(2 * (0.25*0.03238 + 0.5*0.00356) * 730), // 14.4175
			plan: verb + "cost: +$14.42/month for 6 task(s) on Fargate in us-east-1"},
		{name: "x86 1024/2048: 2 × (1 × 0.04048 + 2 × 0.004445) × 730",
			change: func(td map[string]any) {
				delete(td, "runtimePlatform")
				fargate("1024", "2048")(td)
			},
			usd:  f(2 * (0.04048 + 2*0.004445) * 730), // 72.0802
			plan: verb + "cost: +$72.08/month for 6 task(s) on Fargate in us-east-1"},
		{name: "Fargate Spot ARM 256/512: × 0.3", strategy: []ecstypes.CapacityProviderStrategyItem{provider("FARGATE_SPOT", 1)},
			usd:  f(2 * (0.25*0.03238 + 0.5*0.00356) * 730 * 0.3), // 4.32525
			plan: verb + "cost: +$4.33/month for 6 task(s) on Fargate Spot in us-east-1 (the Spot discount is an estimate)"},
		{name: "EC2 launch type", change: ec2(1000, 300), launch: ecstypes.LaunchTypeEc2,
			plan: verb + "cost: no direct cost on EC2 (instances are paid whatever the tasks use; check the cluster has room)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc := checkout(4)
			g := newRig(t, svc, "cpu-high")
			g.r.Prices = cost.Default()
			if tc.change != nil {
				putTaskDef(t, g, tc.change)
			}
			if tc.launch != "" || tc.strategy != nil {
				g.r.ECS = &placedECS{ECS: g.r.ECS, launch: tc.launch, strategy: tc.strategy}
			}
			sig := incident.Signal{Kind: incident.Failure, EventID: "a1", Scope: incidenttest.Scope,
				Cause: classify.Alarm, Runbook: "cpu-high", Marks: []string{"evt#a1"}, Time: g.clk.Now()}
			opened, err := g.m.Apply(context.Background(), sig)
			if err != nil {
				t.Fatal(err)
			}
			pricedOutcome(t, g.fix(t, opened.Incident.ID), tc.usd, tc.plan)
			if up := g.ecs.Calls("UpdateService"); len(up) != 1 || up[0].Body["desiredCount"] != float64(6) {
				t.Fatalf("%+v", up)
			}
		})
	}
}
