// Package incident turns diagnosed signals into incidents: one open incident per service and
// cause (SPEC §3), occurrences counted instead of new incidents, idempotent under redelivery and
// atomic under concurrent handlers. Persistence is a Store; the rules live here.
package incident

import (
	"cmp"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/ecs-medic/ecs-medic/internal/classify"
	"github.com/ecs-medic/ecs-medic/internal/deployment"
	"github.com/ecs-medic/ecs-medic/internal/servicestate"
	"github.com/ecs-medic/ecs-medic/internal/severity"
)

// State is an incident's lifecycle state.
type State string

// Lifecycle states (SPEC §3): open → acknowledged → resolved.
const (
	Open         State = "open"
	Acknowledged State = "acknowledged"
	Resolved     State = "resolved"
)

// Active reports whether the incident is not resolved.
func (s State) Active() bool { return s == Open || s == Acknowledged }

// Scope is what an incident is about: a service (or a standalone task family) in one account and
// region, or a CloudWatch alarm.
type Scope struct {
	Account string `json:"account"`
	Region  string `json:"region"`
	Cluster string `json:"cluster,omitempty"`
	// Service is the service name, or "family:<name>" for tasks run outside a service.
	Service string `json:"service,omitempty"`
	Alarm   string `json:"alarm,omitempty"`
}

// Key is the scope as one string, the partition incidents are kept under.
func (s Scope) Key() string {
	if s.Alarm != "" {
		return s.Account + "/" + s.Region + "/alarm/" + s.Alarm
	}
	return s.Account + "/" + s.Region + "/" + s.Cluster + "/" + s.Service
}

// IsService reports whether the scope is an ECS service (not a task family or an alarm).
func (s Scope) IsService() bool {
	return s.Alarm == "" && s.Service != "" && !isFamily(s.Service)
}

func isFamily(s string) bool { return len(s) > 7 && s[:7] == "family:" }

// Name is how people call the scope: "prod/checkout" or "alarm ServerCpuTooHigh".
func (s Scope) Name() string {
	if s.Alarm != "" {
		return "alarm " + s.Alarm
	}
	return s.Cluster + "/" + s.Service
}

// Incident is one problem of one scope and cause, however many events report it.
type Incident struct {
	ID         string              `json:"id"`
	Scope      Scope               `json:"scope"`
	Cause      classify.Cause      `json:"cause"`
	Sub        string              `json:"sub,omitempty"`
	Confidence classify.Confidence `json:"confidence"`
	Title      string              `json:"title"`
	Severity   severity.Level      `json:"severity"`
	// Runbook is the id of the runbook for the incident; Page says a P3 of it is paged too.
	Runbook string `json:"runbook,omitempty"`
	Page    bool   `json:"page,omitempty"`
	// Fix is the runbook's action when a human may run it (mode suggest or auto).
	Fix   string `json:"fix,omitempty"`
	State State  `json:"state"`

	OpenedAt       time.Time  `json:"opened_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	AcknowledgedAt *time.Time `json:"acknowledged_at,omitempty"`
	AcknowledgedBy string     `json:"acknowledged_by,omitempty"`
	ResolvedAt     *time.Time `json:"resolved_at,omitempty"`
	// SLADeadline is when the incident must have been acknowledged (SOP-002 response time).
	SLADeadline time.Time `json:"sla_deadline"`
	Escalated   bool      `json:"escalated,omitempty"`
	// RecoveringSince is when the service was first seen back at running = desired; the incident
	// resolves once that has held for the quiet period.
	RecoveringSince *time.Time `json:"recovering_since,omitempty"`
	// ActionAt is when a fix was last applied; VerifyBy when the service must be back by for it
	// to count as effective.
	ActionAt *time.Time `json:"action_at,omitempty"`
	VerifyBy *time.Time `json:"verify_by,omitempty"`
	// Flaps counts relapses: the service seen back at its desired count, then failing again.
	// From FlapThreshold on, the incident is flapping: it resolves only after FlapWindow at the
	// desired count (zero thresholds and windows take DefaultFlapThreshold, DefaultFlapWindow).
	Flaps         int           `json:"flaps,omitempty"`
	FlapThreshold int           `json:"flap_threshold,omitempty"`
	FlapWindow    time.Duration `json:"flap_window,omitempty"`
	// AutomationStopped says why automation is stopped for this incident ("" while it may act).
	AutomationStopped string `json:"automation_stopped,omitempty"`

	Occurrences Occurrences `json:"occurrences"`
	// Diagnosis is the first decisive diagnosis; Facts the event fields it came from. They outlive
	// ECS, which forgets stopped tasks after about an hour.
	Diagnosis *classify.Diagnosis `json:"diagnosis,omitempty"`
	Facts     Facts               `json:"facts"`
	// Deployment is the deployment the failures most likely come from, and what it changed.
	Deployment *deployment.Link `json:"deployment,omitempty"`
	// ServiceState is the last state read from ECS; StateError says why it could not be read.
	ServiceState *servicestate.Snapshot `json:"service_state,omitempty"`
	StateError   string                 `json:"state_error,omitempty"`

	// Route is the name of the route (MEDIC_ROUTES) chosen when the incident opened: every
	// notification of the incident goes to that route's receivers. "" is the default route.
	Route string `json:"route,omitempty"`
	// Alarms are the CloudWatch alarms of the incident that are in ALARM; an incident opened by
	// alarms resolves when the last of them returns to OK.
	Alarms []string `json:"alarms,omitempty"`

	// Notices is each receiver's state for this incident (keyed by notifier name).
	Notices map[string]*Notice `json:"notices,omitempty"`
	// LogLines are the last lines of the failed container's log, read when the incident opened;
	// LogError says why they could not be read.
	LogLines []string `json:"log_lines,omitempty"`
	LogError string   `json:"log_error,omitempty"`

	// Suppressed counts what was deliberately not done, by reason ("duplicate", ...), so that
	// "why was I not paged?" has an answer.
	Suppressed      map[string]int `json:"suppressed,omitempty"`
	Timeline        []Entry        `json:"timeline"`
	TimelineDropped int            `json:"timeline_dropped,omitempty"`
	// Refusals counts changing commands refused on this incident (not an allowed user). Only the
	// last MaxRefusalEntries of them stay in the timeline, and they never push real entries out.
	Refusals int `json:"refusals,omitempty"`

	// Version counts writes; the store uses it for optimistic concurrency.
	Version int64 `json:"version"`
}

// Occurrences summarises every event that reported the incident.
type Occurrences struct {
	Count     int       `json:"count"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	// Tasks holds the ids of the most recent tasks, newest last, at most MaxSampleTasks.
	Tasks []string `json:"tasks,omitempty"`
	// Evidence holds distinct decisive evidence texts, first seen first, at most MaxSampleEvidence.
	Evidence []string `json:"evidence,omitempty"`
	// TaskDefinitions are the distinct revisions that failed, at most MaxSampleEvidence.
	TaskDefinitions []string `json:"task_definitions,omitempty"`
}

// Facts are the decisive fields of the event that opened the incident.
type Facts struct {
	EventID        string     `json:"event_id,omitempty"`
	DetailType     string     `json:"detail_type,omitempty"`
	TaskArn        string     `json:"task_arn,omitempty"`
	TaskDefinition string     `json:"task_definition,omitempty"`
	Group          string     `json:"group,omitempty"`
	LaunchType     string     `json:"launch_type,omitempty"`
	CPU            string     `json:"cpu,omitempty"`
	Memory         string     `json:"memory,omitempty"`
	StoppedAt      *time.Time `json:"stopped_at,omitempty"`
	StoppedReason  string     `json:"stopped_reason,omitempty"`
	StopCode       string     `json:"stop_code,omitempty"`
	Reason         string     `json:"reason,omitempty"` // service action, deployment or alarm reason
	// Alarm is the CloudWatch alarm that opened the incident.
	Alarm string `json:"alarm,omitempty"`
	// Container facts, for reading the failed container's log.
	RuntimeID string `json:"runtime_id,omitempty"`
	LogGroup  string `json:"log_group,omitempty"`
	LogStream string `json:"log_stream,omitempty"`
}

// Notice is what one receiver (PagerDuty, Slack, ...) knows of an incident.
type Notice struct {
	// Ref is the receiver's handle: the Slack message ("channel/ts"), the PagerDuty dedup key
	// once a trigger was accepted. Empty until the receiver delivered something.
	Ref string `json:"ref,omitempty"`
	// Last is the last kind of notification delivered.
	Last string `json:"last,omitempty"`
	// Pending is a notification that failed after every retry, re-sent by the reconciler.
	Pending      string     `json:"pending,omitempty"`
	PendingSince *time.Time `json:"pending_since,omitempty"`
}

// Delivery is one receiver's outcome for one notification, as the manager records it.
type Delivery struct {
	Notifier string
	Kind     string
	Ref      string
	Attempts int
	Err      error
	// Skipped says the receiver deliberately sent nothing, and why (a suppression).
	Skipped string
	// Queued: the notification waits in the receiver's background queue (notify.Queue). It is
	// kept as the receiver's Pending notification until delivered, so a restart finds it.
	Queued bool
	// Superseded: what was delivered (or failed) is older than a notification queued since, which
	// stays pending.
	Superseded bool
}

// Entry is one line of an incident's timeline.
type Entry struct {
	At      time.Time `json:"at"`
	Actor   string    `json:"actor"`
	Kind    EntryKind `json:"kind"`
	Message string    `json:"message"`
	// CostUSD is the monthly cost change of a fix this entry records, when it could be priced.
	CostUSD *float64 `json:"cost_usd_month,omitempty"`
}

// Flap awareness defaults, for incidents whose runbook says nothing.
const (
	DefaultFlapThreshold = 3
	DefaultFlapWindow    = 30 * time.Minute
)

// Flapping reports whether the incident has relapsed often enough to count as flapping.
func (inc *Incident) Flapping() bool {
	return inc.Flaps >= cmp.Or(inc.FlapThreshold, DefaultFlapThreshold)
}

// quietFor is how long the service must stay at its desired count before the incident resolves:
// the usual quiet period, or the flap window once it is flapping.
func (inc *Incident) quietFor(quiet time.Duration) time.Duration {
	if inc.Flapping() {
		return max(quiet, cmp.Or(inc.FlapWindow, DefaultFlapWindow))
	}
	return quiet
}

// Bounds that keep an incident record small however long a storm lasts, and however large the
// texts an event, an alarm or a user sends: an incident's size is bounded whatever its input.
const (
	MaxSampleTasks    = 10
	MaxSampleEvidence = 5
	MaxTimeline       = 200
	// MaxRefusalEntries is how many refused commands the timeline keeps (the rest are counted).
	MaxRefusalEntries = 5
	// MaxText bounds one stored text: an evidence or reason text, a timeline message. ECS itself
	// cuts its reasons at about 255 characters; alarm reasons and user text can be much longer.
	MaxText = 1024
	// MaxLogLines and MaxLogLine bound the container log lines kept on an incident.
	MaxLogLines = 50
	MaxLogLine  = 512
	MaxAlarms   = 20
)

// KindRefused is the timeline kind of a changing command refused to a user who may not run it.
const KindRefused EntryKind = "refused"

func (inc *Incident) addEntry(e Entry) {
	e.Message = Clip(e.Message, MaxText)
	e.Actor = Clip(e.Actor, 128)
	if e.Kind == KindRefused {
		// Anyone in the workspace can send commands: their refusals are counted and a few kept,
		// in a budget of their own, so they can never push the record of what happened out.
		inc.Refusals++
		kept := 0
		for _, x := range inc.Timeline {
			if x.Kind == KindRefused {
				kept++
			}
		}
		if kept >= MaxRefusalEntries {
			for i, x := range inc.Timeline {
				if x.Kind == KindRefused {
					inc.Timeline = slices.Concat(inc.Timeline[:i], inc.Timeline[i+1:]) // a new array: see Clone
					break
				}
			}
		}
		inc.Timeline = append(inc.Timeline, e)
		return
	}
	inc.Timeline = append(inc.Timeline, e)
	real := 0
	for _, x := range inc.Timeline {
		if x.Kind != KindRefused {
			real++
		}
	}
	for over := real - MaxTimeline; over > 0; over-- {
		// Keep the first entry (how it opened) and the newest; drop the oldest real entry after it.
		for i := 1; i < len(inc.Timeline); i++ {
			if inc.Timeline[i].Kind != KindRefused {
				inc.Timeline = slices.Concat(inc.Timeline[:i], inc.Timeline[i+1:]) // a new array: see Clone
				break
			}
		}
		inc.TimelineDropped++
	}
}

// Clip cuts s to at most n bytes, on a rune boundary, marking the cut with "…".
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	if n < len("…") {
		// No room for the mark: the longest prefix of whole runes that fits.
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		return s[:max(n, 0)]
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func (inc *Incident) suppress(reason string) (first bool) {
	if inc.Suppressed == nil {
		inc.Suppressed = map[string]int{}
	}
	inc.Suppressed[reason]++
	return inc.Suppressed[reason] == 1
}

func (o *Occurrences) add(at time.Time, task, evidence, taskDef string) {
	task, taskDef = Clip(task, 256), Clip(taskDef, 2048)
	if taskDef != "" && len(o.TaskDefinitions) < MaxSampleEvidence && !contains(o.TaskDefinitions, taskDef) {
		o.TaskDefinitions = append(o.TaskDefinitions, taskDef)
	}
	o.Count++
	if o.FirstSeen.IsZero() || at.Before(o.FirstSeen) {
		o.FirstSeen = at
	}
	if at.After(o.LastSeen) {
		o.LastSeen = at
	}
	if task != "" {
		o.Tasks = append(o.Tasks, task)
		if len(o.Tasks) > MaxSampleTasks {
			o.Tasks = o.Tasks[len(o.Tasks)-MaxSampleTasks:]
		}
	}
	evidence = Clip(evidence, MaxText)
	if evidence != "" && len(o.Evidence) < MaxSampleEvidence {
		for _, e := range o.Evidence {
			if e == evidence {
				return
			}
		}
		o.Evidence = append(o.Evidence, evidence)
	}
}

// Silence mutes notifications for a scope until it expires (SPEC §7 `/medic silence`). Incidents
// still open and count; what is not sent is recorded as suppressed, with the silence's reason.
type Silence struct {
	Scope   Scope     `json:"scope"`
	Until   time.Time `json:"until"`
	By      string    `json:"by"`
	Reason  string    `json:"reason,omitempty"`
	Created time.Time `json:"created"`
}

// Guard is a service's remediation record, shared by every handler: the lease that lets one
// action run at a time, when actions ran (cooldown, per-day cap), and the revisions known to be
// stable or failing (rollback targets).
type Guard struct {
	LeaseHolder string      `json:"lease_holder,omitempty"`
	LeaseUntil  time.Time   `json:"lease_until"`
	Actions     []time.Time `json:"actions,omitempty"` // the last 24 hours'
	// StableTaskDefinition is the last revision the service ran at its desired count.
	StableTaskDefinition string `json:"stable_task_definition,omitempty"`
	// FailedTaskDefinitions are revisions incidents were opened on, newest last (bounded).
	FailedTaskDefinitions []string `json:"failed_task_definitions,omitempty"`
	Version               int64    `json:"version"`
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// HumanDuration says a duration as people do: "15 min", "2 h", "7 days", never "240h0m0s".
func HumanDuration(d time.Duration) string {
	switch {
	case d >= 24*time.Hour && d%(24*time.Hour) == 0:
		if d == 24*time.Hour {
			return "1 day"
		}
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	case d >= 48*time.Hour:
		d += 30 * time.Minute
		return fmt.Sprintf("%d days %d h", d/(24*time.Hour), (d%(24*time.Hour))/time.Hour)
	case d >= time.Hour && (d+30*time.Second)%time.Hour < time.Minute:
		return fmt.Sprintf("%d h", (d+30*time.Second)/time.Hour)
	case d >= time.Hour:
		d += 30 * time.Second
		return fmt.Sprintf("%d h %d min", d/time.Hour, (d%time.Hour)/time.Minute)
	case d >= time.Minute:
		return fmt.Sprintf("%d min", (d+30*time.Second)/time.Minute)
	default:
		return fmt.Sprintf("%d s", (d+500*time.Millisecond)/time.Second)
	}
}
