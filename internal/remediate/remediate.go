// Package remediate carries out a runbook's fix on ECS — raise memory, roll back, force a new
// deployment, scale out — behind guardrails that make it safe to leave on at 3 a.m. (SPEC §4):
// the mode cap (MEDIC_AUTOFIX), dry run, opt-out tags, cooldown and a daily cap per service, one
// action at a time per service (a lease in the store), no action on a service that already moved
// on or that ECS's circuit breaker is rolling back, and never a rollback to a revision that
// failed. Every action, and every action considered and skipped, is recorded with its reason.
package remediate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"go.uber.org/zap"

	"github.com/ecs-medic/ecs-medic/internal/accounts"
	"github.com/ecs-medic/ecs-medic/internal/config"
	"github.com/ecs-medic/ecs-medic/internal/cost"
	"github.com/ecs-medic/ecs-medic/internal/deployment"
	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/notify"
	"github.com/ecs-medic/ecs-medic/internal/runbook"
)

// ECS is the part of *ecs.Client remediation calls — the only code that changes ECS.
type ECS interface {
	DescribeServices(ctx context.Context, in *ecs.DescribeServicesInput, optFns ...func(*ecs.Options)) (*ecs.DescribeServicesOutput, error)
	DescribeTaskDefinition(ctx context.Context, in *ecs.DescribeTaskDefinitionInput, optFns ...func(*ecs.Options)) (*ecs.DescribeTaskDefinitionOutput, error)
	RegisterTaskDefinition(ctx context.Context, in *ecs.RegisterTaskDefinitionInput, optFns ...func(*ecs.Options)) (*ecs.RegisterTaskDefinitionOutput, error)
	UpdateService(ctx context.Context, in *ecs.UpdateServiceInput, optFns ...func(*ecs.Options)) (*ecs.UpdateServiceOutput, error)
	ListTagsForResource(ctx context.Context, in *ecs.ListTagsForResourceInput, optFns ...func(*ecs.Options)) (*ecs.ListTagsForResourceOutput, error)
}

// Scaling is the part of *applicationautoscaling.Client scale-out reads.
type Scaling interface {
	DescribeScalableTargets(ctx context.Context, in *applicationautoscaling.DescribeScalableTargetsInput, optFns ...func(*applicationautoscaling.Options)) (*applicationautoscaling.DescribeScalableTargetsOutput, error)
}

// Request asks for a fix.
type Request struct {
	Incident string `json:"incident"`
	// By is "auto" for the pipeline, "slack:<user>" for a human.
	By string `json:"by"`
	// Action overrides the runbook's (a human's `/medic rollback`, `scale`).
	Action runbook.Action `json:"action,omitempty"`
	// Desired is the count for a human's `/medic scale`.
	Desired int `json:"desired,omitempty"`
	// Force lets a human override the cooldown — only the cooldown: never the daily cap, a
	// running action's lease or any other guardrail. It is recorded.
	Force bool `json:"force,omitempty"`
}

func (r Request) human() bool { return r.By != "" && r.By != "auto" }

// Outcome is what a request did.
type Outcome struct {
	// announce: worth a Slack thread reply (an automatic fix a guardrail stopped, or a human's
	// request); a suggest-mode skip stays in the timeline.
	announce bool
	Action   runbook.Action `json:"action"`
	Done     bool           `json:"done"`
	DryRun   bool           `json:"dry_run,omitempty"`
	Plan     string         `json:"plan,omitempty"`
	Skipped  string         `json:"skipped,omitempty"`
	// CostUSD is the fix's monthly cost change, when it could be priced (the plan says it too).
	CostUSD *float64 `json:"cost_usd_month,omitempty"`
}

// Clients hands out the clients of an account and region (accounts.Provider); it fails, saying
// why, for an account whose services may not be changed.
type Clients interface {
	For(ctx context.Context, account, region string) (*accounts.Clients, error)
}

// Remediator carries out fixes.
type Remediator struct {
	// Clients, when set, gives each incident's own account's clients, and ECS and Scaling are
	// ignored: a service is only ever changed with its own account's credentials.
	Clients Clients
	// ECS and Scaling serve every service when Clients is nil (one account: tests).
	ECS      ECS
	Scaling  Scaling // nil: scale-out is bounded by the runbook's max_tasks alone
	Manager  *incident.Manager
	Runbooks *runbook.Set
	Sender   notify.Sender
	Cap      config.AutoFix
	DryRun   bool
	// MaxTasks is the absolute cap on desired count (MEDIC_MAX_TASKS); 0 means
	// config.DefaultMaxTasks.
	MaxTasks int
	// Prices estimates what raise-memory and scale-out cost; nil: no estimate.
	Prices *cost.Table
	Log    *zap.Logger
}

// ErrRefused wraps every guardrail refusal, for callers that branch on it.
var ErrRefused = errors.New("refused by a guardrail")

// Handle considers a request and, if every guardrail agrees, acts.
func (r *Remediator) Handle(ctx context.Context, req Request) (Outcome, error) {
	inc, err := r.Manager.Store().Get(ctx, req.Incident)
	if err != nil {
		return Outcome{}, err
	}
	log := r.Log.With(zap.String("incident", inc.ID), zap.String("cluster", inc.Scope.Cluster), zap.String("service", inc.Scope.Service))
	out, err := r.handle(ctx, req, inc)
	switch {
	case err != nil:
		r.record(ctx, inc, req, "action-failed", fmt.Sprintf("%s failed: %s; automation stopped for this incident: do it by hand, or fix the cause and run it again", out.Action, reason(err)), nil)
		log.Error("remediation failed", zap.String("action", string(out.Action)), zap.Error(err))
	case out.Skipped != "":
		log.Info("remediation skipped", zap.String("action", string(out.Action)), zap.String("reason", out.Skipped))
		kind := "action-skipped"
		if !out.announce {
			kind = "action-considered" // recorded, not announced
		}
		var costUSD *float64
		if out.Plan != "" {
			costUSD = out.CostUSD // a suggestion: what Run fix would do, and what it would cost
		}
		r.record(ctx, inc, req, kind, fmt.Sprintf("%s not done: %s", out.Action, out.Skipped), costUSD)
	case out.DryRun:
		r.record(ctx, inc, req, "action-planned", "dry run, nothing changed: would "+out.Plan, out.CostUSD)
	case out.Done:
		log.Info("remediation done", zap.String("action", string(out.Action)), zap.String("plan", out.Plan))
		r.record(ctx, inc, req, "action", out.Plan, out.CostUSD)
	}
	return out, err
}

func (r *Remediator) record(ctx context.Context, inc *incident.Incident, req Request, kind, msg string, costUSD *float64) {
	actor := "ecs-medic"
	if req.human() {
		actor = req.By
	}
	updated, err := r.Manager.Record(ctx, inc.ID, incident.Entry{Actor: actor, Kind: kind, Message: msg, CostUSD: costUSD})
	if err != nil {
		r.Log.Warn("record remediation", zap.Error(err))
		return
	}
	announce := kind == "action" || kind == "action-failed" || kind == "action-planned" || kind == "action-skipped"
	switch {
	case r.Sender == nil:
	case announce:
		notify.Announce(ctx, r.Sender, r.Manager, r.Log, notify.Action, updated)
	case kind == "action-considered" && strings.Contains(msg, ": would "):
		// A suggestion: the incident's message shows the plan and its cost beside Run fix.
		notify.Announce(ctx, r.Sender, r.Manager, r.Log, notify.Suggested, updated)
	}
}

func (r *Remediator) handle(ctx context.Context, req Request, inc *incident.Incident) (Outcome, error) {
	rb := r.Runbooks.ByID(inc.Runbook)
	action := req.Action
	if action == "" && rb != nil {
		action = rb.Fix.Action
	}
	out := Outcome{Action: action}
	skip := func(format string, args ...any) (Outcome, error) {
		out.Skipped = fmt.Sprintf(format, args...)
		return out, nil
	}
	if action == "" || action == runbook.None {
		return skip("the runbook has no fix for this cause: `/medic rollback` or `/medic scale` act on the service directly")
	}
	if !inc.Scope.IsService() {
		return skip("only ECS services can be fixed, not %s", inc.Scope.Name())
	}
	if !inc.State.Active() {
		return skip("the incident is %s", inc.State)
	}
	// Mode: the runbook's, capped by MEDIC_AUTOFIX. A human may act on suggest; only auto acts alone.
	mode := runbook.Off
	if rb != nil {
		mode = rb.Fix.Mode
	}
	if req.human() && req.Action != "" {
		mode = runbook.Suggest // an explicit /medic rollback or scale is a human's decision
	}
	if capMode := runbook.Mode(r.Cap); capMode.Rank() < mode.Rank() {
		mode = capMode
	}
	if mode == runbook.Off {
		return skip("automatic fixes are off (runbook mode %s, MEDIC_AUTOFIX=%s)", modeOf(rb), r.Cap)
	}
	suggestOnly := mode == runbook.Suggest && !req.human()
	out.announce = !suggestOnly
	if inc.Stopped != "" && !req.human() {
		return skip("automation is stopped for this incident: %s", inc.Stopped)
	}

	r, err := r.forScope(ctx, inc.Scope)
	if err != nil {
		return skip("%v; nothing of account %s is read or changed", err, inc.Scope.Account)
	}
	svc, err := r.service(ctx, inc)
	if err != nil {
		return out, err
	}
	tags, err := r.tags(ctx, aws.ToString(svc.ServiceArn))
	if err != nil {
		return out, err
	}
	if tags["medic:auto-fix"] == "off" {
		return skip("the service is tagged medic:auto-fix=off")
	}
	if action == runbook.Rollback && tags["medic:rollback"] == "off" {
		return skip("the service is tagged medic:rollback=off")
	}
	if action != runbook.ScaleOut && svc.DeploymentController != nil {
		// Only ECS-controlled services take a new task definition or a forced deployment through
		// UpdateService; CodeDeploy and external controllers refuse it, so never try.
		if ok, help := deployment.CanRollBack(string(svc.DeploymentController.Type)); !ok {
			return skip("%s", help)
		}
	}
	for _, d := range svc.Deployments {
		if d.RolloutState == ecstypes.DeploymentRolloutStateInProgress && strings.Contains(strings.ToLower(aws.ToString(d.RolloutStateReason)), "circuit breaker") {
			return skip("ECS's deployment circuit breaker is already rolling back; ecs-medic reports only")
		}
	}
	if action != runbook.ScaleOut && svc.RunningCount >= svc.DesiredCount && svc.DesiredCount > 0 && !req.human() {
		return skip("the service already moved on: %d/%d running", svc.RunningCount, svc.DesiredCount)
	}

	fix := runbook.Fix{Cooldown: runbook.Duration{Duration: 15 * time.Minute}, MaxPerDay: 3}
	if rb != nil && rb.Fix.Action == action {
		fix = rb.Fix
	}
	if suggestOnly {
		// Suggest mode: say exactly what the fix would do; a human presses Run fix.
		plan, _, err := r.plan(ctx, action, inc, svc, fix, req.Desired, &out)
		if errors.Is(err, ErrRefused) {
			return skip("%s", strings.TrimSuffix(err.Error(), ": "+ErrRefused.Error()))
		}
		if err != nil {
			return out, err
		}
		out.Plan = plan
		return skip("suggested, waiting for a human (Run fix in Slack, or /medic fix %s): would %s", inc.ID, plan)
	}
	holder := inc.ID + "/" + nonce()
	hint := "the next failure after it may act again"
	switch {
	case req.human() && req.Action == "":
		hint = fmt.Sprintf("`/medic fix %s force` overrides the cooldown", inc.ID)
	case req.human():
		hint = "wait for it to pass, or change the service by hand with `aws ecs update-service`"
	}
	if reason, err := r.lease(ctx, inc, holder, fix, req.Force && req.human(), hint); err != nil || reason != "" {
		if err != nil {
			return out, err
		}
		return skip("%s", reason)
	}
	defer r.release(ctx, inc, holder)

	var apply func(context.Context) error
	out.Plan, apply, err = r.plan(ctx, action, inc, svc, fix, req.Desired, &out)
	if errors.Is(err, ErrRefused) {
		r.unclaim(ctx, inc)
		return skip("%s", strings.TrimSuffix(err.Error(), ": "+ErrRefused.Error()))
	}
	if err != nil {
		r.unclaim(ctx, inc)
		return out, err
	}
	if req.Force && req.human() {
		out.Plan += " (cooldown overridden by " + req.By + ")"
	}
	if r.DryRun {
		r.unclaim(ctx, inc)
		out.DryRun = true
		return out, nil
	}
	if err := apply(ctx); err != nil {
		_, _ = r.Manager.StopAutomation(ctx, inc.ID, fmt.Sprintf("%s failed: %s", action, reason(err)))
		return out, err
	}
	if _, err := r.Manager.ActionTaken(ctx, inc.ID, fix.Verify.Duration); err != nil {
		r.Log.Warn("record verification window", zap.Error(err))
	}
	out.Done = true
	return out, nil
}

// forScope returns the remediator acting with the clients of the scope's account and region.
func (r *Remediator) forScope(ctx context.Context, scope incident.Scope) (*Remediator, error) {
	if r.Clients == nil {
		return r, nil
	}
	cs, err := r.Clients.For(ctx, scope.Account, scope.Region)
	if err != nil {
		return nil, err
	}
	cp := *r
	cp.ECS, cp.Scaling = cs.ECS, cs.Scaling
	return &cp, nil
}

// nonce names one handler's hold on a lease: distinct even for handlers started at one instant.
func nonce() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

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

func modeOf(rb *runbook.Runbook) runbook.Mode {
	if rb == nil {
		return runbook.Off
	}
	return rb.Fix.Mode
}

// lease takes the service's action lease and checks cooldown and the daily cap, atomically.
// hint says what to do about a cooldown.
func (r *Remediator) lease(ctx context.Context, inc *incident.Incident, holder string, fix runbook.Fix, force bool, hint string) (string, error) {
	now := r.Manager.Now()
	reason := ""
	_, err := r.Manager.Store().UpdateGuard(ctx, inc.Scope, func(g *incident.Guard) error {
		reason = ""
		var recent []time.Time
		for _, t := range g.Actions {
			if now.Sub(t) < 24*time.Hour {
				recent = append(recent, t)
			}
		}
		g.Actions = recent
		switch {
		case g.LeaseUntil.After(now) && g.LeaseHolder != holder:
			reason = "another action on this service is under way: wait a minute or two for its outcome in the thread"
		case len(recent) > 0 && now.Sub(recent[len(recent)-1]) < fix.Cooldown.Duration && !force:
			reason = fmt.Sprintf("cooldown: the last action on this service was %s ago and the runbook waits %s between actions; %s",
				notify.HumanDuration(now.Sub(recent[len(recent)-1])), notify.HumanDuration(fix.Cooldown.Duration), hint)
		case len(recent) >= fix.MaxPerDay:
			// Not even force passes this: it is the bound on what automation and people together
			// may do to a service in a day.
			reason = fmt.Sprintf("%d actions on this service in the last 24 h, the most its runbook allows (max_per_day); the next is possible after %s UTC, or do it by hand in the ECS console",
				len(recent), recent[len(recent)-fix.MaxPerDay].Add(24*time.Hour).UTC().Format("Jan 2 15:04"))
		}
		if reason != "" {
			return errSkip
		}
		g.LeaseHolder, g.LeaseUntil = holder, now.Add(2*time.Minute)
		// The action is counted when it is about to start, not when it ends: a handler killed
		// mid-action leaves the cooldown in force, so a retry cannot act a second time.
		g.Actions = append(g.Actions, now)
		return nil
	})
	if errors.Is(err, errSkip) {
		return reason, nil
	}
	return "", err
}

var errSkip = errors.New("skip")

// reason says why a call failed in words a responder can use: the AWS error code and message,
// without the SDK's operation, request id and HTTP status wrapping (those go to the log).
func reason(err error) string { return notify.Reason(err) }

// unclaim takes back the action counted at the lease when nothing was changed after all
// (planning refused, dry run).
func (r *Remediator) unclaim(ctx context.Context, inc *incident.Incident) {
	_, _ = r.Manager.Store().UpdateGuard(ctx, inc.Scope, func(g *incident.Guard) error {
		if len(g.Actions) > 0 {
			g.Actions = g.Actions[:len(g.Actions)-1]
		}
		return nil
	})
}

func (r *Remediator) release(ctx context.Context, inc *incident.Incident, holder string) {
	_, _ = r.Manager.Store().UpdateGuard(ctx, inc.Scope, func(g *incident.Guard) error {
		if g.LeaseHolder == holder {
			g.LeaseHolder, g.LeaseUntil = "", time.Time{}
		}
		return nil
	})
}

func (r *Remediator) service(ctx context.Context, inc *incident.Incident) (*ecstypes.Service, error) {
	out, err := r.ECS.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(inc.Scope.Cluster), Services: []string{inc.Scope.Service}},
		func(o *ecs.Options) { o.Region = inc.Scope.Region })
	if err != nil {
		return nil, fmt.Errorf("describe service %s: %w", inc.Scope.Name(), err)
	}
	if len(out.Services) == 0 {
		return nil, fmt.Errorf("service %s not found", inc.Scope.Name())
	}
	return &out.Services[0], nil
}

func (r *Remediator) tags(ctx context.Context, arn string) (map[string]string, error) {
	out, err := r.ECS.ListTagsForResource(ctx, &ecs.ListTagsForResourceInput{ResourceArn: aws.String(arn)})
	if err != nil {
		return nil, fmt.Errorf("list tags of %s: %w", arn, err)
	}
	m := map[string]string{}
	for _, t := range out.Tags {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m, nil
}

func (r *Remediator) update(ctx context.Context, inc *incident.Incident, in *ecs.UpdateServiceInput) error {
	in.Cluster, in.Service = aws.String(inc.Scope.Cluster), aws.String(inc.Scope.Service)
	if _, err := r.ECS.UpdateService(ctx, in, func(o *ecs.Options) { o.Region = inc.Scope.Region }); err != nil {
		return fmt.Errorf("update service %s: %w", inc.Scope.Name(), err)
	}
	return nil
}

func revision(taskDef string) string {
	if i := strings.LastIndexByte(taskDef, '/'); i >= 0 {
		return taskDef[i+1:]
	}
	return taskDef
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
	in := RegisterInput(td, out.Tags)
	before := revision(aws.ToString(td.TaskDefinitionArn))
	fargateTask := slices.Contains(td.RequiresCompatibilities, ecstypes.CompatibilityFargate)
	var what string
	if fargateTask {
		cpu, _ := strconv.Atoi(aws.ToString(td.Cpu))
		mem, _ := strconv.Atoi(aws.ToString(td.Memory))
		if limit > 0 && mem >= limit {
			return "", nil, fmt.Errorf("memory is %d MiB, already at the runbook's cap max_memory_mib %d: %w", mem, limit, ErrRefused)
		}
		want := int(math.Ceil(float64(mem) * factor))
		newCPU, newMem, ok := nextFargateSize(cpu, want, max(limit, 1), fix.Bool("allow_cpu_raise"))
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
		if limit > 0 && mem >= limit {
			return "", nil, fmt.Errorf("container %s has %d MiB, already at the cap %d MiB: %w", name, mem, limit, ErrRefused)
		}
		newMem := int(math.Ceil(float64(mem)*factor/128)) * 128
		if limit > 0 && newMem > limit {
			newMem = limit
		}
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
	guard, err := r.Manager.Store().UpdateGuard(ctx, inc.Scope, func(*incident.Guard) error { return nil })
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
		_, err := r.Manager.Store().UpdateGuard(ctx, inc.Scope, func(g *incident.Guard) error {
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
	if v, ok := fix.Float("step"); ok && v >= 1 {
		step = int(v)
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
	if r.Scaling != nil {
		out, err := r.Scaling.DescribeScalableTargets(ctx, &applicationautoscaling.DescribeScalableTargetsInput{
			ServiceNamespace: astypes.ServiceNamespaceEcs, ResourceIds: []string{"service/" + inc.Scope.Cluster + "/" + inc.Scope.Service}})
		if err != nil {
			return "", nil, fmt.Errorf("describe scalable targets: %w", err)
		}
		for _, t := range out.ScalableTargets {
			if t.ScalableDimension == astypes.ScalableDimensionECSServiceDesiredCount && int(aws.ToInt32(t.MaxCapacity)) < limit {
				limit, why = int(aws.ToInt32(t.MaxCapacity)), "the service's auto-scaling maximum"
			}
		}
	}
	from := int(svc.DesiredCount)
	to := from + step
	if desired > 0 {
		if desired > limit {
			return "", nil, fmt.Errorf("%d tasks is above %d, %s: ask for at most %d, or raise that bound first: %w", desired, limit, why, limit, ErrRefused)
		}
		to = desired
	}
	if to > limit {
		to = limit
	}
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
