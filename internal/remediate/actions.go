package remediate

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ecs-medic/ecs-medic/internal/config"
	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/runbook"
)

// plan says what an action would change (before → after) and how to do it.
// The monthly cost change of raise-memory and scale-out goes into the plan's words and into
// out.CostUSD.
func (r *Remediator) plan(ctx context.Context, action runbook.Action, inc *incident.Incident, svc *ecstypes.Service, fix runbook.Fix, desired int, out *Outcome) (string, func(context.Context) error, error) {
	var p priced
	defer func() { out.CostUSD = p.usd }()
	switch action {
	case runbook.RaiseMemory:
		return r.planRaiseMemory(ctx, inc, svc, fix, &p)
	case runbook.Rollback:
		return r.planRollback(ctx, inc, svc)
	case runbook.ForceNewDeployment:
		plan := fmt.Sprintf("force a new deployment of %s on %s", inc.Scope.Name(), revision(aws.ToString(svc.TaskDefinition)))
		return plan, func(ctx context.Context) error {
			return r.update(ctx, inc, &ecs.UpdateServiceInput{ForceNewDeployment: true})
		}, nil
	case runbook.ScaleOut:
		return r.planScaleOut(ctx, inc, svc, fix, desired, &p)
	}
	return "", nil, fmt.Errorf("unknown action %q: %w", action, ErrRefused)
}

// planRaiseMemory registers a copy of the service's task definition with more memory.
func (r *Remediator) planRaiseMemory(ctx context.Context, inc *incident.Incident, svc *ecstypes.Service, fix runbook.Fix, p *priced) (string, func(context.Context) error, error) {
	out, err := r.ECS.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: svc.TaskDefinition,
		Include: []ecstypes.TaskDefinitionField{ecstypes.TaskDefinitionFieldTags}}, func(o *ecs.Options) { o.Region = inc.Scope.Region })
	if err != nil {
		return "", nil, fmt.Errorf("describe task definition %s: %w", aws.ToString(svc.TaskDefinition), err)
	}
	td := out.TaskDefinition
	factor, _ := fix.Float("factor")
	limitF, _ := fix.Float("max_memory_mib")
	if factor <= 1 {
		factor = 1.5
	}
	limit := int(limitF)
	if limit <= 0 {
		// max_memory_mib is the bound on what automation and people may raise memory to; only a
		// raise-memory runbook has one (its parser requires it), so a raise-memory asked for on an
		// incident whose runbook fixes something else is refused, not done without a bound.
		return "", nil, fmt.Errorf("no max_memory_mib to bound the raise: memory is raised only under a raise-memory runbook: %w", ErrRefused)
	}
	in := RegisterInput(td, out.Tags)
	before := revision(aws.ToString(td.TaskDefinitionArn))
	fargateTask := slices.Contains(td.RequiresCompatibilities, ecstypes.CompatibilityFargate)
	var what string
	if fargateTask {
		cpu, _ := strconv.Atoi(aws.ToString(td.Cpu))
		mem, _ := strconv.Atoi(aws.ToString(td.Memory))
		if mem >= limit {
			return "", nil, fmt.Errorf("memory is %d MiB, already at the runbook's cap max_memory_mib %d: %w", mem, limit, ErrRefused)
		}
		want := int(math.Ceil(float64(mem) * factor))
		newCPU, newMem, ok := nextFargateSize(cpu, want, limit, fix.Bool("allow_cpu_raise"))
		if !ok {
			return "", nil, fmt.Errorf("no valid Fargate size of at least %d MiB within the cap %d MiB for %d CPU units (allow_cpu_raise: %v): %w", want, limit, cpu, fix.Bool("allow_cpu_raise"), ErrRefused)
		}
		in.Memory = aws.String(strconv.Itoa(newMem))
		what = fmt.Sprintf("memory %d → %d MiB", mem, newMem)
		if newCPU != cpu {
			in.Cpu = aws.String(strconv.Itoa(newCPU))
			what += fmt.Sprintf(", CPU %d → %d (the size needs it)", cpu, newCPU)
		}
		n := int(svc.DesiredCount)
		*p = r.price(svc, td, inc.Scope.Region, size{cpu, mem}, n, size{newCPU, newMem}, n)
	} else {
		// EC2: raise the failing container's hard limit.
		name := ""
		if inc.Diagnosis != nil {
			name = inc.Diagnosis.Container
		}
		i := slices.IndexFunc(in.ContainerDefinitions, func(c ecstypes.ContainerDefinition) bool { return aws.ToString(c.Name) == name })
		if i < 0 || in.ContainerDefinitions[i].Memory == nil {
			return "", nil, fmt.Errorf("container %q has no hard memory limit to raise: %w", name, ErrRefused)
		}
		mem := int(aws.ToInt32(in.ContainerDefinitions[i].Memory))
		if mem >= limit {
			return "", nil, fmt.Errorf("container %s has %d MiB, already at the cap %d MiB: %w", name, mem, limit, ErrRefused)
		}
		newMem := min(int(math.Ceil(float64(mem)*factor/128))*128, limit)
		in.ContainerDefinitions[i].Memory = aws.Int32(int32(newMem))
		what = fmt.Sprintf("container %s memory %d → %d MiB", name, mem, newMem)
		if r.Prices != nil {
			p.text = "cost: no direct cost on EC2 (instances are paid whatever the tasks use; check the cluster has room)"
		}
	}
	plan := fmt.Sprintf("raise memory of %s: register a new revision of %s with %s, and update the service to it", inc.Scope.Name(), before, what)
	if p.text != "" {
		plan += "; " + p.text
	}
	apply := func(ctx context.Context) error {
		reg, err := r.ECS.RegisterTaskDefinition(ctx, in, func(o *ecs.Options) { o.Region = inc.Scope.Region })
		if err != nil {
			return fmt.Errorf("register task definition: %w", err)
		}
		return r.update(ctx, inc, &ecs.UpdateServiceInput{TaskDefinition: reg.TaskDefinition.TaskDefinitionArn})
	}
	return plan, apply, nil
}

// RegisterInput copies every field of a task definition that RegisterTaskDefinition accepts, so
// a new revision loses nothing (secrets, log configuration, volumes, tags, runtime platform, ...).
func RegisterInput(td *ecstypes.TaskDefinition, tags []ecstypes.Tag) *ecs.RegisterTaskDefinitionInput {
	return &ecs.RegisterTaskDefinitionInput{
		Family:                  td.Family,
		ContainerDefinitions:    td.ContainerDefinitions,
		Cpu:                     td.Cpu,
		Memory:                  td.Memory,
		ExecutionRoleArn:        td.ExecutionRoleArn,
		TaskRoleArn:             td.TaskRoleArn,
		NetworkMode:             td.NetworkMode,
		Volumes:                 td.Volumes,
		PlacementConstraints:    td.PlacementConstraints,
		RequiresCompatibilities: td.RequiresCompatibilities,
		RuntimePlatform:         td.RuntimePlatform,
		ProxyConfiguration:      td.ProxyConfiguration,
		IpcMode:                 td.IpcMode,
		PidMode:                 td.PidMode,
		EphemeralStorage:        td.EphemeralStorage,
		EnableFaultInjection:    td.EnableFaultInjection,
		Tags:                    tags,
	}
}

// planRollback picks the revision to return to: an earlier deployment still active in the
// service, else the last revision the service ran stably; never one that failed.
func (r *Remediator) planRollback(ctx context.Context, inc *incident.Incident, svc *ecstypes.Service) (string, func(context.Context) error, error) {
	current := aws.ToString(svc.TaskDefinition)
	guard, err := r.Guards.Guard(ctx, inc.Scope)
	if err != nil {
		return "", nil, err
	}
	// Every revision known to have failed: on record for the service, and in this incident.
	failed := append(slices.Clone(guard.FailedTaskDefinitions), inc.Occurrences.TaskDefinitions...)
	if inc.Facts.TaskDefinition != "" {
		failed = append(failed, inc.Facts.TaskDefinition)
	}
	if inc.Facts.TaskDefinition != "" && inc.Facts.TaskDefinition != current {
		return "", nil, fmt.Errorf("the failing revision %s is not the one deployed (%s): nothing to roll back: %w", revision(inc.Facts.TaskDefinition), revision(current), ErrRefused)
	}
	target := ""
	for _, d := range svc.Deployments {
		td := aws.ToString(d.TaskDefinition)
		if aws.ToString(d.Status) == "ACTIVE" && td != current && !slices.Contains(failed, td) {
			target = td
			break
		}
	}
	if target == "" && guard.StableTaskDefinition != "" && guard.StableTaskDefinition != current && !slices.Contains(failed, guard.StableTaskDefinition) {
		target = guard.StableTaskDefinition
	}
	if target == "" {
		return "", nil, fmt.Errorf("no earlier revision that ran stably and has not failed: %w", ErrRefused)
	}
	plan := fmt.Sprintf("roll back %s from %s to %s (SOP-001)", inc.Scope.Name(), revision(current), revision(target))
	return plan, func(ctx context.Context) error {
		if err := r.update(ctx, inc, &ecs.UpdateServiceInput{TaskDefinition: aws.String(target), ForceNewDeployment: true}); err != nil {
			return err
		}
		// The revision rolled back from failed: never return to it.
		_, err := r.Guards.UpdateGuard(ctx, inc.Scope, func(g *incident.Guard) error {
			if !slices.Contains(g.FailedTaskDefinitions, current) {
				g.FailedTaskDefinitions = append(g.FailedTaskDefinitions, current)
				if len(g.FailedTaskDefinitions) > 20 {
					g.FailedTaskDefinitions = g.FailedTaskDefinitions[1:]
				}
			}
			return nil
		})
		return err
	}, nil
}

// planScaleOut raises desired count by the runbook's step (or to a human's count), never past
// the service's auto-scaling maximum or the runbook's max_tasks.
func (r *Remediator) planScaleOut(ctx context.Context, inc *incident.Incident, svc *ecstypes.Service, fix runbook.Fix, desired int, p *priced) (string, func(context.Context) error, error) {
	step := 1
	if v, ok := fix.Float("step"); ok {
		step = max(int(v), 1) // a step below 1 is 1
	}
	// The bound is the least of: the absolute cap (MEDIC_MAX_TASKS), the runbook's max_tasks and
	// the service's Application Auto Scaling maximum. A human's count is held to the same bound.
	limit, why := r.MaxTasks, "the most ecs-medic may set (MEDIC_MAX_TASKS)"
	if limit <= 0 {
		limit = config.DefaultMaxTasks
	}
	maxTasks, ok := fix.Float("max_tasks")
	if rb := r.Runbooks.ByID(inc.Runbook); !ok && rb != nil && rb.Fix.Action == runbook.ScaleOut {
		maxTasks, ok = rb.Fix.Float("max_tasks")
	}
	if ok && int(maxTasks) < limit {
		limit, why = int(maxTasks), "the runbook's max_tasks"
	}
	switch {
	case r.Scaling != nil:
		n, ok, err := r.Scaling.MaxTasks(ctx, inc.Scope.Cluster, inc.Scope.Service)
		if err != nil {
			return "", nil, err
		}
		if ok && n < limit {
			limit, why = n, "the service's auto-scaling maximum"
		}
	case r.Clients != nil:
		// An entry point that gives accounts' clients but no way to read their scaling bound
		// (one that was never meant to scale) must not scale past a bound it cannot see.
		return "", nil, fmt.Errorf("scale-out is not carried out here: the service's auto-scaling maximum cannot be read: %w", ErrRefused)
	}
	from := int(svc.DesiredCount)
	to := from + step
	if desired > 0 {
		if desired > limit {
			return "", nil, fmt.Errorf("%d tasks is above %d, %s: ask for at most %d, or raise that bound first: %w", desired, limit, why, limit, ErrRefused)
		}
		to = desired
	}
	to = min(to, limit)
	if desired > 0 && desired == from {
		return "", nil, fmt.Errorf("the service already has %d tasks desired: nothing to change: %w", from, ErrRefused)
	}
	if desired > 0 && desired < from {
		return "", nil, fmt.Errorf("%d tasks is fewer than the %d running: ecs-medic only scales out; scale in with `aws ecs update-service --desired-count`: %w", desired, from, ErrRefused)
	}
	if to <= from {
		return "", nil, fmt.Errorf("desired count %d is already at the maximum %d (%s): %w", from, limit, why, ErrRefused)
	}
	plan := fmt.Sprintf("scale %s from %d to %d tasks (maximum %d)", inc.Scope.Name(), from, to, limit)
	if r.Prices != nil {
		if td, err := r.taskDefinition(ctx, inc.Scope.Region, svc); err == nil {
			sz := taskSize(td)
			*p = r.price(svc, td, inc.Scope.Region, sz, from, sz, to)
		} else {
			p.text = "cost: not estimated (" + err.Error() + ")"
		}
		plan += "; " + p.text
	}
	return plan, func(ctx context.Context) error {
		return r.update(ctx, inc, &ecs.UpdateServiceInput{DesiredCount: aws.Int32(int32(to))})
	}, nil
}
