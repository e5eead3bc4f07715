// Package remediate carries out a runbook's fix on ECS — raise memory, roll back, force a new
// deployment, scale out — behind guardrails that make it safe to leave on at 3 a.m. (SPEC §4):
// the mode cap (MEDIC_AUTOFIX), dry run, opt-out tags, cooldown and a daily cap per service, one
// action at a time per service (a lease in the store), no action on a service that already moved
// on or that ECS's circuit breaker is rolling back, and never a rollback to a revision that
// failed. Every action, and every action considered and skipped, is recorded with its reason.
package remediate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"go.uber.org/zap"

	"github.com/ecs-medic/ecs-medic/internal/accounts"
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

// Scaling reads a service's Application Auto Scaling maximum, a bound scale-out never passes
// (package autoscaling). It names no SDK type, so that the functions that never scale do not link
// the Application Auto Scaling client, whose initialisation their every cold start would pay.
type Scaling interface {
	// MaxTasks is the least maximum of the service's scalable targets for its desired count; ok is
	// false when the service has none.
	MaxTasks(ctx context.Context, cluster, service string) (maxTasks int, ok bool, err error)
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

// Guards reads and changes the remediation guards (incident.Guards, the store).
type Guards interface {
	Guard(ctx context.Context, scope incident.Scope) (incident.Guard, error)
	UpdateGuard(ctx context.Context, scope incident.Scope, fn func(g *incident.Guard) error) (incident.Guard, error)
}

// Remediator carries out fixes.
type Remediator struct {
	// Clients, when set, gives each incident's own account's clients, and ECS and Scaling are
	// ignored: a service is only ever changed with its own account's credentials.
	Clients Clients
	// ECS and Scaling serve every service when Clients is nil (one account: tests).
	ECS     ECS
	Scaling Scaling // nil: scale-out is bounded by the runbook's max_tasks alone
	// ScalingFor gives an account's Scaling when Clients is set (autoscaling.ForAccount); nil:
	// scale-out is refused, as its bound cannot be read.
	ScalingFor func(*accounts.Clients) Scaling
	Manager    *incident.Manager
	// Guards keeps each scope's remediation guard (the store): the lease, the fix history the
	// rate limit counts, the revision a rollback returns to.
	Guards   Guards
	Runbooks *runbook.Set
	Sender   notify.Sender
	Cap      runbook.Mode
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
	if r.Guards == nil || r.Manager == nil {
		// Without the guard store no rate limit, lease or rollback memory can be checked: refuse
		// rather than act unguarded (or panic halfway through).
		return Outcome{}, fmt.Errorf("remediator not wired: no guard store or incident manager: %w", ErrRefused)
	}
	inc, err := r.Manager.Get(ctx, req.Incident)
	if err != nil {
		return Outcome{}, err
	}
	log := r.Log.With(zap.String("incident", inc.ID), zap.String("cluster", inc.Scope.Cluster), zap.String("service", inc.Scope.Service))
	out, err := r.handle(ctx, req, inc)
	switch {
	case err != nil:
		r.record(ctx, inc, req, incident.KindActionFailed, fmt.Sprintf("%s failed: %s; automation stopped for this incident: do it by hand, or fix the cause and run it again", out.Action, reason(err)), nil)
		log.Error("remediation failed", zap.String("action", string(out.Action)), zap.Error(err))
	case out.Skipped != "":
		log.Info("remediation skipped", zap.String("action", string(out.Action)), zap.String("reason", out.Skipped))
		kind := incident.KindActionSkipped
		if !out.announce {
			kind = incident.KindActionConsidered // recorded, not announced
		}
		var costUSD *float64
		if out.Plan != "" {
			costUSD = out.CostUSD // a suggestion: what Run fix would do, and what it would cost
		}
		r.record(ctx, inc, req, kind, fmt.Sprintf("%s not done: %s", out.Action, out.Skipped), costUSD)
	case out.DryRun:
		r.record(ctx, inc, req, incident.KindActionPlanned, "dry run, nothing changed: would "+out.Plan, out.CostUSD)
	case out.Done:
		log.Info("remediation done", zap.String("action", string(out.Action)), zap.String("plan", out.Plan))
		r.record(ctx, inc, req, incident.KindAction, out.Plan, out.CostUSD)
	}
	return out, err
}

func (r *Remediator) record(ctx context.Context, inc *incident.Incident, req Request, kind incident.EntryKind, msg string, costUSD *float64) {
	actor := "ecs-medic"
	if req.human() {
		actor = req.By
	}
	updated, err := r.Manager.Record(ctx, inc.ID, incident.Entry{Actor: actor, Kind: kind, Message: msg, CostUSD: costUSD})
	if err != nil {
		r.Log.Warn("record remediation", zap.Error(err))
		return
	}
	switch {
	case r.Sender == nil:
	case kind.Announced():
		notify.Announce(ctx, r.Sender, r.Manager, r.Log, notify.Action, updated)
	case kind == incident.KindActionConsidered && strings.Contains(msg, ": would "):
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
	if capMode := r.Cap; capMode.Rank() < mode.Rank() {
		mode = capMode
	}
	if mode == runbook.Off {
		return skip("automatic fixes are off (runbook mode %s, MEDIC_AUTOFIX=%s)", modeOf(rb), r.Cap)
	}
	suggestOnly := mode == runbook.Suggest && !req.human()
	out.announce = !suggestOnly
	if inc.AutomationStopped != "" && !req.human() {
		return skip("automation is stopped for this incident: %s", inc.AutomationStopped)
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
	cp.ECS, cp.Scaling = cs.ECS, nil
	if r.ScalingFor != nil {
		cp.Scaling = r.ScalingFor(cs)
	}
	return &cp, nil
}

func modeOf(rb *runbook.Runbook) runbook.Mode {
	if rb == nil {
		return runbook.Off
	}
	return rb.Fix.Mode
}

var errSkip = errors.New("skip")

// reason says why a call failed in words a responder can use: the AWS error code and message,
// without the SDK's operation, request id and HTTP status wrapping (those go to the log).
func reason(err error) string { return notify.Reason(err) }
