// Package pipeline is the path of one event through ecs-medic: decode → interpret (classify) →
// assess severity from the service's real state → apply to incidents → notify. The Lambda
// handlers and `medic serve` both call it, so they behave the same.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/ecs-medic/ecs-medic/internal/accounts"
	"github.com/ecs-medic/ecs-medic/internal/classify"
	"github.com/ecs-medic/ecs-medic/internal/deployment"
	"github.com/ecs-medic/ecs-medic/internal/event"
	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/metrics"
	"github.com/ecs-medic/ecs-medic/internal/notify"
	"github.com/ecs-medic/ecs-medic/internal/runbook"
	"github.com/ecs-medic/ecs-medic/internal/servicestate"
	"github.com/ecs-medic/ecs-medic/internal/severity"
	"github.com/ecs-medic/ecs-medic/internal/smoke"
	"github.com/ecs-medic/ecs-medic/internal/tasklogs"
)

// StateReader reads a service's live state (servicestate.Source, or servicestate.Unavailable).
type StateReader interface {
	Get(ctx context.Context, ref servicestate.Ref) (*servicestate.Snapshot, error)
}

// Sender delivers a notification to every configured receiver (notify.Fanout).
type Sender = notify.Sender

// Result is what happened to one event; POST /events answers with one per event.
type Result struct {
	ID         string   `json:"id,omitempty"`
	DetailType string   `json:"detail_type,omitempty"`
	Account    string   `json:"account,omitempty"`
	Region     string   `json:"region,omitempty"`
	Cluster    string   `json:"cluster,omitempty"`
	Service    string   `json:"service,omitempty"`
	TaskArn    string   `json:"task_arn,omitempty"`
	Cause      string   `json:"cause,omitempty"`
	Sub        string   `json:"sub,omitempty"`
	Confidence string   `json:"confidence,omitempty"`
	Evidence   string   `json:"evidence,omitempty"`
	Severity   string   `json:"severity,omitempty"`
	Incident   string   `json:"incident,omitempty"`
	Outcome    Outcome  `json:"outcome"`
	Actions    []string `json:"actions"`
	// Why says why an event opened nothing when that is not obvious (a scaling alarm).
	Why   string `json:"why,omitempty"`
	Error string `json:"error,omitempty"`
}

// Outcome names what an event did.
type Outcome string

// Event outcomes.
const (
	OutcomeOpened     Outcome = "opened"
	OutcomeOccurrence Outcome = "occurrence"
	OutcomeAttached   Outcome = "attached"
	OutcomeResolved   Outcome = "resolved"
	OutcomeDuplicate  Outcome = "duplicate"
	OutcomeExpected   Outcome = "expected"
	OutcomeIgnored    Outcome = "ignored"
	// OutcomeRefused: the event's account is not in MEDIC_ACCOUNTS; nothing was done.
	OutcomeRefused Outcome = "refused"
	OutcomeError   Outcome = "error"
	// OutcomeSmoke: a smoke test (internal/smoke) told the receivers; nothing was stored.
	OutcomeSmoke Outcome = "smoke"
)

// LogTailer reads the last lines of a stopped task's container (tasklogs.Reader).
type LogTailer interface {
	Last(ctx context.Context, t tasklogs.Task) (tasklogs.Tail, error)
}

// Pipeline handles events. Safe for concurrent use.
type Pipeline struct {
	incidents *incident.Manager
	states    StateReader
	sender    Sender
	logs      LogTailer
	deploys   DeploymentReader
	runbooks  *runbook.Set
	remedy    func(ctx context.Context, incidentID string)
	allowed   accounts.Allowed
	log       *zap.Logger
	metrics   *metrics.Metrics
}

// Option configures a Pipeline.
type Option func(*Pipeline)

// WithLogs reads the failed container's last log lines when an incident opens, so the page, the
// message and the incident carry them.
func WithLogs(l LogTailer) Option { return func(p *Pipeline) { p.logs = l } }

// DeploymentReader gives the ECS client of an account and region for reading task definitions.
type DeploymentReader func(ctx context.Context, account, region string) (deployment.ECS, error)

// WithDeployments links a new incident of a service to the deployment its failures most likely
// come from, comparing the two task definitions it reads with the service's own account's client.
func WithDeployments(r DeploymentReader) Option { return func(p *Pipeline) { p.deploys = r } }

// WithRunbooks applies the runbooks: their severity floor and paging choice.
func WithRunbooks(s *runbook.Set) Option { return func(p *Pipeline) { p.runbooks = s } }

// WithRemedy asks for the runbook's fix when an incident opens or worsens; the remediator
// decides, under its guardrails, whether anything happens.
func WithRemedy(f func(ctx context.Context, incidentID string)) Option {
	return func(p *Pipeline) { p.remedy = f }
}

// WithAccounts accepts only the events of these accounts (MEDIC_ACCOUNTS); others are refused,
// counted and logged. Empty: every account.
func WithAccounts(allowed []string) Option { return func(p *Pipeline) { p.allowed = allowed } }

// New wires a pipeline.
func New(incidents *incident.Manager, states StateReader, sender Sender, log *zap.Logger, m *metrics.Metrics, opts ...Option) *Pipeline {
	p := &Pipeline{incidents: incidents, states: states, sender: sender, log: log, metrics: m}
	for _, o := range opts {
		o(p)
	}
	return p
}

// HandleRaw decodes and handles one event. A malformed or unsupported event is answered with a
// Result carrying the error and no Go error: retrying cannot fix it. The error is returned only
// when a retry may help (the store failed).
func (p *Pipeline) HandleRaw(ctx context.Context, raw []byte) (Result, error) {
	return p.HandleRawLogged(ctx, raw, true)
}

// HandleRawLogged is HandleRaw, with the log line of a rejected event only when logReject is set:
// a batch of many bad events logs a few and a summary, not one line per event.
func (p *Pipeline) HandleRawLogged(ctx context.Context, raw []byte, logReject bool) (Result, error) {
	if t, ok, err := smoke.Parse(raw); ok {
		return p.smokeTest(ctx, t, err), nil
	}
	ev, err := event.Decode(raw)
	if err != nil {
		reason := "malformed"
		switch {
		case errors.Is(err, event.ErrUnsupported):
			reason = "unsupported"
		case errors.Is(err, event.ErrTooLarge):
			reason = "too-large"
		}
		p.metrics.EventErrors.WithLabelValues(reason).Inc()
		var de *event.DecodeError
		id := ""
		if errors.As(err, &de) {
			id = de.ID
		}
		if logReject {
			p.log.Warn("event rejected", zap.String("event_id", incident.Clip(id, 256)), zap.String("reason", reason), zap.String("error", incident.Clip(err.Error(), 512)))
		}
		return Result{ID: id, Outcome: OutcomeError, Error: err.Error(), Actions: []string{}}, nil
	}
	return p.Handle(ctx, ev)
}

// Handle runs one decoded event through the pipeline.
func (p *Pipeline) Handle(ctx context.Context, ev *event.Event) (Result, error) {
	start := time.Now()
	defer func() { p.metrics.Duration.WithLabelValues(ev.DetailType).Observe(time.Since(start).Seconds()) }()

	if !p.allowed.Permits(ev.Account) {
		p.metrics.Refused.WithLabelValues("account-not-allowed").Inc()
		p.metrics.Events.WithLabelValues(ev.DetailType, string(OutcomeRefused)).Inc()
		p.log.Warn("event refused: its account is not in MEDIC_ACCOUNTS", zap.String("event_id", ev.ID),
			zap.String("account", ev.Account), zap.String("detail_type", ev.DetailType))
		return Result{ID: ev.ID, DetailType: ev.DetailType, Account: ev.Account, Region: ev.Region, Outcome: OutcomeRefused,
			Error: fmt.Sprintf("account %q is not in MEDIC_ACCOUNTS: event refused, nothing read or changed", ev.Account), Actions: []string{}}, nil
	}
	var cl *classify.Classifier
	if p.runbooks != nil {
		cl = p.runbooks.Classifier
	}
	in := InterpretWith(ev, cl)
	sig := in.Signal
	res := Result{
		ID: ev.ID, DetailType: ev.DetailType, Account: ev.Account, Region: ev.Region, Cluster: sig.Scope.Cluster, Service: sig.Scope.Service,
		Cause: string(sig.Cause), Sub: sig.Sub, Confidence: string(sig.Confidence), Evidence: sig.Evidence,
		Actions: []string{},
	}
	if ev.Task != nil {
		res.TaskArn = ev.Task.TaskArn
	}
	if sig.Scope.Alarm != "" {
		res.Service = ""
	}
	// The event's logger is built only when something is logged: most events of a storm are
	// occurrences that log nothing at the default level, and building it is most of what
	// handling one allocates outside the store.
	var logged *zap.Logger
	log := func() *zap.Logger {
		if logged == nil {
			logged = p.log.With(zap.String("event_id", ev.ID), zap.String("detail_type", ev.DetailType), zap.String("account", ev.Account),
				zap.String("cluster", sig.Scope.Cluster), zap.String("service", sig.Scope.Service))
			if sig.TaskID != "" {
				logged = logged.With(zap.String("task", sig.TaskID))
			}
		}
		return logged
	}
	debug := p.log.Core().Enabled(zap.DebugLevel)

	if !in.Relevant {
		res.Outcome = OutcomeIgnored
		switch {
		case in.Diagnosis != nil:
			res.Outcome = OutcomeExpected
			p.metrics.Suppressed.WithLabelValues("expected").Inc()
			p.metrics.Diagnoses.WithLabelValues(string(in.Diagnosis.Cause)).Inc()
		case sig.Alarm != "":
			res.Why = in.Why // a scaling alarm
			p.metrics.Suppressed.WithLabelValues("scaling-alarm").Inc()
		}
		p.metrics.Events.WithLabelValues(ev.DetailType, string(res.Outcome)).Inc()
		if debug {
			log().Debug("event needs no incident", zap.String("why", in.Why))
		}
		return res, nil
	}

	if in.Opens {
		p.assess(ctx, &sig)
		if rb := p.runbooks.For(sig.Cause, sig.Sub, sig.Alarm); rb != nil {
			sig.Runbook, sig.Page = rb.ID, rb.Page
			sig.FlapThreshold, sig.FlapWindow = rb.Flap.Threshold, rb.Flap.Window.Duration
			if rb.Fix.Action != runbook.None && rb.Fix.Mode != runbook.Off {
				sig.Fix = string(rb.Fix.Action)
			}
			if rb.SeverityFloor.Higher(sig.Severity) {
				sig.Severity = rb.SeverityFloor // the runbook's floor: e.g. an alarm that is always P2
			}
		}
		res.Severity = sig.Severity.String()
	}

	out, err := p.incidents.Apply(ctx, sig)
	if err != nil {
		p.metrics.EventErrors.WithLabelValues("store").Inc()
		p.metrics.Events.WithLabelValues(ev.DetailType, string(OutcomeError)).Inc()
		log().Error("apply event to incidents", zap.Error(err))
		res.Outcome, res.Error = OutcomeError, err.Error()
		return res, fmt.Errorf("event %s: %w", ev.ID, err)
	}

	switch {
	case out.Duplicate:
		res.Outcome = OutcomeDuplicate
		p.metrics.Suppressed.WithLabelValues("duplicate").Inc()
	case out.Opened:
		res.Outcome = OutcomeOpened
	case out.Resolved:
		res.Outcome = OutcomeResolved
	case sig.Kind == incident.Failure:
		res.Outcome = OutcomeOccurrence
	case out.Incident != nil:
		res.Outcome = OutcomeAttached
	default:
		res.Outcome = OutcomeIgnored
	}
	if out.Incident != nil {
		res.Incident = out.Incident.ID
		res.Severity = out.Incident.Severity.String()
		if out.Opened || out.Resolved || out.Relapsed || out.Raised || debug {
			logged = log().With(zap.String("incident", out.Incident.ID), zap.String("cause", string(out.Incident.Cause)),
				zap.String("severity", out.Incident.Severity.String()))
		}
	}
	p.metrics.Events.WithLabelValues(ev.DetailType, string(res.Outcome)).Inc()
	if in.Diagnosis != nil && !out.Duplicate {
		// Counted once per stopped task, not per delivery: a redelivery is no new diagnosis.
		p.metrics.Diagnoses.WithLabelValues(string(in.Diagnosis.Cause)).Inc()
	}

	switch {
	case out.Opened:
		p.metrics.Opened.WithLabelValues(string(out.Incident.Cause), out.Incident.Severity.String()).Inc()
		log := log()
		log.Info("incident opened", zap.String("evidence", sig.Evidence))
		inc := out.Incident
		if ev.Task != nil && p.logs != nil {
			inc = p.attachLogs(ctx, log, ev, inc)
		}
		if p.deploys != nil && inc.Scope.IsService() {
			inc = p.linkDeployment(ctx, log, inc)
		}
		p.notify(ctx, log, notify.Opened, inc)
		if p.remedy != nil && inc.Fix != "" {
			p.remedy(ctx, inc.ID)
		}
	case out.Resolved:
		log().Info("incident resolved")
		p.notify(ctx, log(), notify.Resolved, out.Incident)
	case out.Relapsed:
		log().Warn("the cause recurred after a fix: automation stopped")
		p.notify(ctx, log(), notify.Escalated, out.Incident)
	case out.Raised:
		log().Info("incident severity raised")
		p.notify(ctx, log(), notify.Raised, out.Incident)
	case debug:
		log().Debug("event handled", zap.String("outcome", string(res.Outcome)))
	}
	return res, nil
}

// assess reads the service's state and sets the signal's severity (SPEC §2). When the state
// cannot be read it says so and falls back to P3: an event is never failed for want of state.
func (p *Pipeline) assess(ctx context.Context, sig *incident.Signal) {
	sig.Severity = severity.P3
	if !sig.Scope.IsService() {
		return
	}
	snap, err := p.states.Get(ctx, servicestate.Ref{Account: sig.Scope.Account, Region: sig.Scope.Region, Cluster: sig.Scope.Cluster, Service: sig.Scope.Service})
	if err != nil {
		sig.StateError = err.Error()
		return
	}
	sig.State = snap
	if sig.Cause != classify.Alarm { // an alarm's severity is its runbook's, not the service's
		sig.Severity = severity.Assess(snap.Severity())
	}
}

// attachLogs keeps the failed container's last lines on a new incident. Missing log settings or
// permissions are said in the incident; they never fail the event.
func (p *Pipeline) attachLogs(ctx context.Context, log *zap.Logger, ev *event.Event, inc *incident.Incident) *incident.Incident {
	t := tasklogs.Task{Account: ev.Account, Region: ev.Region, TaskDefinition: ev.Task.TaskDefinitionArn, TaskID: event.TaskID(ev.Task.TaskArn)}
	if d := inc.Diagnosis; d != nil {
		t.Container = d.Container
	}
	for _, c := range ev.Task.Containers {
		if c.Name == t.Container {
			t.RuntimeID = c.RuntimeID
		}
	}
	reason := ""
	tail, err := p.logs.Last(ctx, t)
	if err != nil {
		reason = shortReason(err)
		log.Info("container log unavailable", zap.Error(err))
	}
	updated, err := p.incidents.AttachLogs(ctx, inc.ID, tail.Group, tail.Stream, tail.Lines, reason)
	if err != nil {
		log.Warn("attach log lines", zap.Error(err))
		return inc
	}
	return updated
}

// linkDeployment blames a new incident on the service's deployment when its failures started on
// the new revision within minutes of it, and says what that deployment changed. A comparison
// that cannot be read is said in the link; it never fails the event.
func (p *Pipeline) linkDeployment(ctx context.Context, log *zap.Logger, inc *incident.Incident) *incident.Incident {
	first := inc.Occurrences.FirstSeen
	if first.IsZero() {
		first = inc.OpenedAt
	}
	l := deployment.Suspect(inc.ServiceState, inc.Facts.TaskDefinition, first, "")
	if l == nil {
		return inc
	}
	api, err := p.deploys(ctx, inc.Scope.Account, inc.Scope.Region)
	if err == nil {
		err = deployment.Compare(ctx, api, inc.Scope.Region, l)
	}
	if err != nil {
		log.Info("deployment comparison unavailable", zap.Error(err))
		l.Changes = []string{"not compared: " + err.Error()}
	}
	updated, err := p.incidents.LinkDeployment(ctx, inc.ID, l)
	if err != nil {
		log.Warn("link deployment", zap.Error(err))
		return inc
	}
	log.Info("incident linked to a deployment", zap.String("deployment", l.DeploymentID), zap.String("revision", l.To))
	return updated
}

// notify announces an incident change. Each outcome is counted by the sender the App wires
// (medic_notifications_total), so the reconciler's, a fix's and Slack's are counted too.
func (p *Pipeline) notify(ctx context.Context, log *zap.Logger, kind notify.Kind, inc *incident.Incident) {
	notify.Announce(ctx, p.sender, p.incidents, log, kind, inc)
}

// shortReason keeps an error's own context ("describe task definition ...") and AWS's code and
// message, without the SDK's operation, HTTP status and request id: it is shown to responders.
func shortReason(err error) string { return notify.Reason(err) }
