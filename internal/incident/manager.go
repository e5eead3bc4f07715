package incident

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ecs-medic/ecs-medic/internal/classify"
	"github.com/ecs-medic/ecs-medic/internal/deployment"
	"github.com/ecs-medic/ecs-medic/internal/servicestate"
	"github.com/ecs-medic/ecs-medic/internal/severity"
)

// Errors a Store returns and callers branch on.
var (
	// ErrDuplicate: one of the idempotency marks was already recorded; nothing was written.
	ErrDuplicate = errors.New("duplicate event")
	// ErrConflict: a concurrent writer changed the same incidents; the caller may retry.
	ErrConflict = errors.New("concurrent update")
	// ErrNotFound: no incident with that id.
	ErrNotFound = errors.New("incident not found")
)

// Store keeps incidents. Implementations: internal/boltstore (embedded), and DynamoDB.
type Store interface {
	// Update atomically records marks (refusing with ErrDuplicate if any is already recorded and
	// unexpired), hands fn the active incidents of scope, and writes back the incidents fn returns
	// (new ones have Version 0). A store must refuse a second active incident for the same scope and
	// cause, and keep writes atomic under concurrent callers, retrying fn if it must: fn may run
	// more than once and must not have side effects.
	Update(ctx context.Context, scope Scope, marks []string, fn func(active []*Incident) ([]*Incident, error)) error
	// Modify atomically applies fn to the incident with id and writes it back when fn reports a
	// change; ErrNotFound when there is none. Resolving removes it from the active set.
	Modify(ctx context.Context, id string, fn func(inc *Incident) (changed bool, err error)) (*Incident, error)
	// Get returns one incident by id, or ErrNotFound.
	Get(ctx context.Context, id string) (*Incident, error)
	// List returns incidents newest first.
	List(ctx context.Context, f Filter) ([]*Incident, error)
	// Guard returns the scope's remediation guard (zero when there is none) without writing it:
	// planning reads the guard on every failure, and a read must not cost a commit.
	Guard(ctx context.Context, scope Scope) (Guard, error)
	// UpdateGuard atomically applies fn to the scope's remediation guard (zero when new) and
	// stores it; an error from fn leaves it unchanged and is returned.
	UpdateGuard(ctx context.Context, scope Scope, fn func(g *Guard) error) (Guard, error)
	// PutSilence records a silence, replacing any for the same scope.
	PutSilence(ctx context.Context, s Silence) error
	// Silences returns the silences that have not expired at now.
	Silences(ctx context.Context, now time.Time) ([]Silence, error)
	// Remember records key until the given time, atomically: ErrDuplicate when it is already
	// recorded and unexpired. It holds across processes sharing the store (Slack request
	// signatures: a signed request is acted on once, on any Lambda instance or after a restart).
	Remember(ctx context.Context, key string, until time.Time) error
}

// Filter narrows List.
type Filter struct {
	// Active keeps only open and acknowledged incidents.
	Active bool
	// Limit caps the answer; 0 means 100.
	Limit int
	// Since keeps only incidents opened at or after it (zero: all). Ids sort by creation time, so
	// a store walking newest first stops at the first older one.
	Since time.Time
	// Before keeps incidents older than the one with this id (ids sort by creation time): the
	// cursor of the next page.
	Before string
}

// Kind says what a signal may do to incidents.
type Kind int

// Signal kinds.
const (
	// Failure opens an incident for its cause, or adds an occurrence to the open one.
	Failure Kind = iota
	// Corroborate attaches to any active incident of the scope (e.g. tasks failing to start while
	// an OOM incident is open); with none, it opens one for its own cause.
	Corroborate
	// Note attaches to active incidents of the scope as a timeline entry and never opens one.
	Note
	// Recover resolves the active incident of the scope with the signal's cause (alarm back to OK).
	Recover
)

// Signal is one diagnosed event, ready to be applied to incidents.
type Signal struct {
	Kind       Kind
	EventID    string
	DetailType string
	Time       time.Time
	Scope      Scope
	Cause      classify.Cause
	Sub        string
	Confidence classify.Confidence
	Diagnosis  *classify.Diagnosis
	Facts      Facts
	// Marks are the idempotency keys of the event: its EventBridge id, and for task events the
	// task ARN with detail.version.
	Marks []string
	// Severity assessed for the scope now; State and StateError what it was assessed from.
	Severity   severity.Level
	State      *servicestate.Snapshot
	StateError string
	// TaskID and Evidence feed the occurrence sample.
	TaskID   string
	Evidence string
	// Message is the timeline text for Corroborate, Note and Recover signals.
	Message string
	// Runbook and Page come from the runbook matching the signal.
	Runbook string
	Page    bool
	Fix     string
	// Alarm is the CloudWatch alarm the signal comes from (its scope may be the alarm's service).
	Alarm string
	// FlapThreshold and FlapWindow come from the runbook too (zero: the defaults).
	FlapThreshold int
	FlapWindow    time.Duration
}

// Outcome says what a signal did.
type Outcome struct {
	// Incident is the incident the signal landed on (nil when it touched none).
	Incident *Incident
	Opened   bool
	// Raised is set when the incident's severity rose.
	Raised bool
	// Relapsed is set when the cause recurred after a fix: automation stops and people are paged.
	Relapsed bool
	Resolved bool
	// Duplicate is set when the event had been handled before: nothing changed.
	Duplicate bool
	// Attached lists the incidents a Note or Corroborate signal was recorded on.
	Attached []*Incident
}

// Option configures a Manager.
type Option func(*Manager)

// WithClock injects the clock.
func WithClock(now func() time.Time) Option { return func(m *Manager) { m.now = now } }

// WithRoute chooses the route of each new incident (MEDIC_ROUTES): its name is kept on the
// incident so that every notification of it goes to the same receivers. route must be pure.
func WithRoute(route func(Signal) string) Option { return func(m *Manager) { m.route = route } }

// WithIDs injects the incident id generator.
func WithIDs(newID func(time.Time) string) Option { return func(m *Manager) { m.newID = newID } }

// Manager applies signals to incidents in a Store.
type Manager struct {
	store Store
	now   func() time.Time
	newID func(time.Time) string
	route func(Signal) string
}

// NewManager returns a Manager over store.
func NewManager(store Store, opts ...Option) *Manager {
	m := &Manager{store: store, now: time.Now, newID: NewID}
	for _, o := range opts {
		o(m)
	}
	return m
}

// Store returns the manager's store.
func (m *Manager) Store() Store { return m.store }

const actorMedic = "ecs-medic"

// Apply records a signal. A redelivered event yields Outcome.Duplicate and changes nothing but
// the duplicate counter.
func (m *Manager) Apply(ctx context.Context, sig Signal) (Outcome, error) {
	var out Outcome
	err := m.store.Update(ctx, sig.Scope, sig.Marks, func(active []*Incident) ([]*Incident, error) {
		out = Outcome{} // fn may run more than once
		now := m.now()
		switch sig.Kind {
		case Failure:
			return m.applyFailure(sig, active, now, &out), nil
		case Corroborate:
			if len(active) == 0 {
				return m.applyFailure(sig, active, now, &out), nil
			}
			return m.attach(sig, active, now, &out), nil
		case Note:
			return m.attach(sig, active, now, &out), nil
		case Recover:
			for _, inc := range active {
				if inc.Cause != sig.Cause {
					continue
				}
				if sig.Alarm != "" && len(inc.Alarms) > 0 {
					if !contains(inc.Alarms, sig.Alarm) {
						continue // another alarm's incident, or one already back to OK
					}
					inc.Alarms = remove(inc.Alarms, sig.Alarm)
					if len(inc.Alarms) > 0 {
						inc.UpdatedAt = now
						inc.addEntry(Entry{At: now, Actor: "aws.cloudwatch", Kind: "signal",
							Message: sig.Message + "; still in ALARM: " + strings.Join(inc.Alarms, ", ")})
						out.Incident = inc
						return []*Incident{inc}, nil
					}
				}
				resolve(inc, now, actorMedic, sig.Message)
				out.Incident, out.Resolved = inc, true
				return []*Incident{inc}, nil
			}
			return nil, nil
		}
		return nil, fmt.Errorf("unknown signal kind %d", sig.Kind)
	})
	if errors.Is(err, ErrDuplicate) {
		m.countDuplicate(ctx, sig)
		return Outcome{Duplicate: true}, nil
	}
	if err != nil {
		return Outcome{}, err
	}
	return out, nil
}

func (m *Manager) applyFailure(sig Signal, active []*Incident, now time.Time, out *Outcome) []*Incident {
	for _, inc := range active {
		if inc.Cause != sig.Cause {
			continue
		}
		inc.Occurrences.add(sig.Time, sig.TaskID, sig.Evidence, sig.Facts.TaskDefinition)
		inc.UpdatedAt = now
		m.refreshState(inc, sig)
		addAlarm(inc, sig.Alarm)
		out.Raised = raise(inc, sig, now)
		if inc.RecoveringSince != nil {
			// A failure is the opposite of quiet: the quiet period starts again from the next
			// time the service is seen at its desired count.
			inc.RecoveringSince = nil
			relapse(inc, now, "a task failed again before the quiet period ended")
		}
		// A failure well after a fix (tasks started before it may still die) means it did not help.
		if inc.ActionAt != nil && inc.AutomationStopped == "" && sig.Time.After(inc.ActionAt.Add(time.Minute)) {
			inc.AutomationStopped = "the cause recurred after the fix"
			inc.addEntry(Entry{At: now, Actor: actorMedic, Kind: "relapse", Message: "the cause recurred after the fix: automation stopped for this incident"})
			out.Relapsed = true
		}
		out.Incident = inc
		return []*Incident{inc}
	}
	level := sig.Severity
	if level == 0 {
		level = severity.P3
	}
	inc := &Incident{
		ID:          m.newID(now),
		Scope:       sig.Scope,
		Cause:       sig.Cause,
		Sub:         sig.Sub,
		Confidence:  sig.Confidence,
		Title:       title(sig),
		Severity:    level,
		State:       Open,
		OpenedAt:    now,
		UpdatedAt:   now,
		SLADeadline: now.Add(level.SLA()),
		Diagnosis:   boundDiagnosis(sig.Diagnosis),
		Facts:       boundFacts(sig.Facts),
		Runbook:     sig.Runbook,
		Page:        sig.Page,
		Fix:         sig.Fix,

		FlapThreshold: sig.FlapThreshold,
		FlapWindow:    sig.FlapWindow,
	}
	inc.Occurrences.add(sig.Time, sig.TaskID, sig.Evidence, sig.Facts.TaskDefinition)
	m.refreshState(inc, sig)
	addAlarm(inc, sig.Alarm)
	if m.route != nil {
		inc.Route = m.route(sig)
	}
	msg := fmt.Sprintf("opened %s: %s", level, inc.Title)
	if sig.Evidence != "" {
		msg += fmt.Sprintf(" — %q", sig.Evidence)
	}
	inc.addEntry(Entry{At: now, Actor: actorMedic, Kind: "opened", Message: msg + " (" + stateText(sig) + ")"})
	out.Incident, out.Opened = inc, true
	return []*Incident{inc}
}

func (m *Manager) attach(sig Signal, active []*Incident, now time.Time, out *Outcome) []*Incident {
	for _, inc := range active {
		inc.UpdatedAt = now
		m.refreshState(inc, sig)
		inc.addEntry(Entry{At: now, Actor: "aws.ecs", Kind: "signal", Message: sig.Message})
		if sig.Kind == Corroborate && raise(inc, sig, now) {
			out.Raised = true
		}
	}
	out.Attached = active
	if len(active) > 0 {
		out.Incident = active[0]
	}
	return active
}

func addAlarm(inc *Incident, alarm string) {
	if alarm != "" && !contains(inc.Alarms, alarm) && len(inc.Alarms) < MaxAlarms {
		inc.Alarms = append(inc.Alarms, alarm)
	}
}

func remove(list []string, s string) []string {
	out := list[:0:0]
	for _, x := range list {
		if x != s {
			out = append(out, x)
		}
	}
	return out
}

// raise lifts the incident to the signal's severity if that is higher (severity never falls while
// the incident is active), bringing the response deadline forward to the new level's SLA.
func raise(inc *Incident, sig Signal, now time.Time) bool {
	if sig.Severity == 0 || !sig.Severity.Higher(inc.Severity) {
		return false
	}
	from := inc.Severity
	inc.Severity = sig.Severity
	if d := now.Add(sig.Severity.SLA()); d.Before(inc.SLADeadline) {
		inc.SLADeadline = d
	}
	inc.addEntry(Entry{At: now, Actor: actorMedic, Kind: "severity", Message: fmt.Sprintf("severity raised %s → %s: %s", from, sig.Severity, stateText(sig))})
	return true
}

// refreshState keeps the newest service state the signal carries.
func (m *Manager) refreshState(inc *Incident, sig Signal) {
	if sig.State != nil {
		inc.ServiceState, inc.StateError = sig.State, ""
	} else if sig.StateError != "" && inc.ServiceState == nil {
		inc.StateError = sig.StateError
	}
}

// countDuplicate records a redelivery on the incident it belongs to. It is best effort: the
// event itself was already handled, and a failure here loses only a counter.
func (m *Manager) countDuplicate(ctx context.Context, sig Signal) {
	if sig.Kind == Note {
		return
	}
	_ = m.store.Update(ctx, sig.Scope, nil, func(active []*Incident) ([]*Incident, error) {
		for _, inc := range active {
			if inc.Cause == sig.Cause || sig.Kind == Corroborate {
				if inc.suppress("duplicate") {
					inc.addEntry(Entry{At: m.now(), Actor: actorMedic, Kind: "suppressed",
						Message: fmt.Sprintf("duplicate delivery of event %s ignored (further duplicates are only counted)", sig.EventID)})
				}
				return []*Incident{inc}, nil
			}
		}
		return nil, nil
	})
}

// Record appends a timeline entry to an incident (a notification sent, an action taken).
func (m *Manager) Record(ctx context.Context, id string, e Entry) (*Incident, error) {
	return m.modify(ctx, id, func(inc *Incident, now time.Time) bool {
		if e.At.IsZero() {
			e.At = now
		}
		inc.addEntry(e)
		return true
	})
}

// Delivered records what each receiver did with a notification: a timeline entry each, the
// receiver's handle, and a pending notice for the reconciler to re-send when delivery failed (or
// for a restart to re-queue while it waits in a background queue).
func (m *Manager) Delivered(ctx context.Context, id string, ds []Delivery) (*Incident, error) {
	return m.modify(ctx, id, func(inc *Incident, now time.Time) bool {
		if inc.Notices == nil {
			inc.Notices = map[string]*Notice{}
		}
		for _, d := range ds {
			n := inc.Notices[d.Notifier]
			if n == nil {
				n = &Notice{}
				inc.Notices[d.Notifier] = n
			}
			switch {
			case d.Queued:
				// No timeline entry: the delivery (or its failure) will say what happened.
				if n.Pending == "" {
					n.PendingSince = &now
				}
				n.Pending = d.Kind
			case d.Skipped != "":
				inc.suppress(d.Notifier + ": " + d.Skipped)
				inc.addEntry(Entry{At: now, Actor: d.Notifier, Kind: "suppressed", Message: fmt.Sprintf("%s: %s not sent: %s", d.Notifier, d.Kind, d.Skipped)})
				if n.Pending == d.Kind {
					n.Pending, n.PendingSince = "", nil
				}
			case d.Err != nil:
				if n.Pending == "" {
					n.PendingSince = &now
				}
				if !d.Superseded {
					n.Pending = d.Kind
				}
				inc.addEntry(Entry{At: now, Actor: d.Notifier, Kind: "notify-failed",
					Message: fmt.Sprintf("%s: %s not delivered after %d attempt(s), will retry: %v", d.Notifier, d.Kind, d.Attempts, d.Err)})
			default:
				if d.Ref != "" {
					n.Ref = d.Ref
				}
				n.Last = d.Kind
				if !d.Superseded {
					n.Pending, n.PendingSince = "", nil
				}
				inc.addEntry(Entry{At: now, Actor: d.Notifier, Kind: "notified", Message: fmt.Sprintf("%s: %s sent", d.Notifier, d.Kind)})
			}
		}
		return len(ds) > 0
	})
}

// LinkDeployment records the deployment an incident's failures most likely come from, once; the
// timeline says so, since it changes what a responder does first (roll back).
func (m *Manager) LinkDeployment(ctx context.Context, id string, l *deployment.Link) (*Incident, error) {
	return m.modify(ctx, id, func(inc *Incident, now time.Time) bool {
		if inc.Deployment != nil || l == nil {
			return false
		}
		inc.Deployment = l
		inc.addEntry(Entry{At: now, Actor: actorMedic, Kind: "deployment", Message: l.Summary()})
		return true
	})
}

// AttachLogs keeps the last lines of the failed container's log on the incident: at most
// MaxLogLines lines of at most MaxLogLine bytes each, the newest kept.
func (m *Manager) AttachLogs(ctx context.Context, id, group, stream string, lines []string, reason string) (*Incident, error) {
	if len(lines) > MaxLogLines {
		lines = lines[len(lines)-MaxLogLines:]
	}
	kept := make([]string, len(lines))
	for i, l := range lines {
		kept[i] = Clip(l, MaxLogLine)
	}
	return m.modify(ctx, id, func(inc *Incident, now time.Time) bool {
		inc.LogLines, inc.LogError = kept, Clip(reason, MaxText)
		inc.Facts.LogGroup, inc.Facts.LogStream = Clip(group, 512), Clip(stream, 512)
		return true
	})
}

// Silence lengths: a silence always ends, and one shorter than a minute is a typo.
const (
	MinSilence = time.Minute
	MaxSilence = 7 * 24 * time.Hour
)

// ErrSilenceLength: the duration asked for a silence is outside MinSilence..MaxSilence.
var ErrSilenceLength = errors.New("a silence lasts from 1 minute to 7 days")

// Silence mutes a scope's notifications for d (MinSilence..MaxSilence). It always expires.
func (m *Manager) Silence(ctx context.Context, scope Scope, d time.Duration, by, reason string) (Silence, error) {
	if d < MinSilence || d > MaxSilence {
		return Silence{}, ErrSilenceLength
	}
	now := m.now()
	s := Silence{Scope: scope, Until: now.Add(d), By: by, Reason: Clip(reason, 256), Created: now}
	if err := m.store.PutSilence(ctx, s); err != nil {
		return Silence{}, fmt.Errorf("silence %s: %w", scope.Name(), err)
	}
	return s, nil
}

// Silenced returns the silence covering scope now, or nil.
func (m *Manager) Silenced(ctx context.Context, scope Scope) (*Silence, error) {
	ss, err := m.store.Silences(ctx, m.now())
	if err != nil {
		return nil, err
	}
	for _, s := range ss {
		if covers(s.Scope, scope) {
			return &s, nil
		}
	}
	return nil, nil
}

// covers reports whether a silence's scope covers an incident's. A silence set from Slack names
// only cluster/service (or an alarm): it covers that service in every account and region.
func covers(silence, scope Scope) bool {
	return (silence.Account == "" || silence.Account == scope.Account) &&
		(silence.Region == "" || silence.Region == scope.Region) &&
		silence.Cluster == scope.Cluster && silence.Service == scope.Service && silence.Alarm == scope.Alarm
}

// Now is the manager's clock.
func (m *Manager) Now() time.Time { return m.now() }

// ActionTaken records that a fix was applied; the service must be back by now+verify.
func (m *Manager) ActionTaken(ctx context.Context, id string, verify time.Duration) (*Incident, error) {
	if verify <= 0 {
		verify = 10 * time.Minute
	}
	return m.modify(ctx, id, func(inc *Incident, now time.Time) bool {
		by := now.Add(verify)
		inc.ActionAt, inc.VerifyBy = &now, &by
		return true
	})
}

// StopAutomation stops fixes for an incident, with the reason.
func (m *Manager) StopAutomation(ctx context.Context, id, reason string) (*Incident, error) {
	return m.modify(ctx, id, func(inc *Incident, now time.Time) bool {
		if inc.AutomationStopped != "" {
			return false
		}
		inc.AutomationStopped = reason
		inc.addEntry(Entry{At: now, Actor: actorMedic, Kind: "automation-stopped", Message: "automation stopped: " + reason})
		return true
	})
}

// Ineffective marks a fix that did not bring the service back by its verification deadline:
// automation stops and the incident escalates (again if need be). It reports whether it changed.
func (m *Manager) Ineffective(ctx context.Context, id string) (*Incident, bool, error) {
	changed := false
	inc, err := m.modify(ctx, id, func(inc *Incident, now time.Time) bool {
		changed = inc.State.Active() && inc.VerifyBy != nil && now.After(*inc.VerifyBy) && inc.RecoveringSince == nil
		if !changed {
			return false
		}
		inc.VerifyBy = nil
		if inc.AutomationStopped == "" {
			inc.AutomationStopped = "the fix did not bring the service back in time"
		}
		inc.Escalated, inc.UpdatedAt = true, now
		inc.addEntry(Entry{At: now, Actor: actorMedic, Kind: "escalated", Message: "the fix was not effective: the service is not back at its desired count; automation stopped, escalated"})
		return true
	})
	return inc, changed, err
}

// Acknowledge moves an open incident to acknowledged. Acknowledging twice changes nothing.
func (m *Manager) Acknowledge(ctx context.Context, id, actor string) (*Incident, bool, error) {
	changed := false
	inc, err := m.modify(ctx, id, func(inc *Incident, now time.Time) bool {
		changed = false
		if inc.State != Open {
			return false
		}
		inc.State, inc.AcknowledgedAt, inc.AcknowledgedBy = Acknowledged, &now, actor
		inc.UpdatedAt = now
		inc.addEntry(Entry{At: now, Actor: actor, Kind: "acknowledged", Message: "acknowledged by " + actor})
		changed = true
		return true
	})
	return inc, changed, err
}

// Resolve resolves an active incident. Resolving twice changes nothing.
func (m *Manager) Resolve(ctx context.Context, id, actor, reason string) (*Incident, bool, error) {
	changed := false
	inc, err := m.modify(ctx, id, func(inc *Incident, now time.Time) bool {
		changed = inc.State.Active()
		if changed {
			resolve(inc, now, actor, reason)
		}
		return changed
	})
	return inc, changed, err
}

// Observe records a fresh reading of an active incident's service. Once the service has been
// back to running = desired for the quiet period the incident resolves (SPEC §3); a relapse
// restarts the wait. It reports whether the incident resolved.
func (m *Manager) Observe(ctx context.Context, id string, snap *servicestate.Snapshot, quiet time.Duration) (*Incident, bool, error) {
	resolved := false
	inc, err := m.modify(ctx, id, func(inc *Incident, now time.Time) bool {
		resolved = false
		if !inc.State.Active() {
			return false
		}
		inc.ServiceState, inc.StateError = snap, ""
		if snap.Running < snap.Desired {
			if inc.RecoveringSince != nil {
				inc.RecoveringSince = nil
				relapse(inc, now, fmt.Sprintf("service fell back to %d/%d running before the quiet period ended", snap.Running, snap.Desired))
			}
			return true
		}
		need := inc.quietFor(quiet)
		if inc.RecoveringSince == nil {
			inc.RecoveringSince = &now
			inc.addEntry(Entry{At: now, Actor: actorMedic, Kind: "recovering", Message: fmt.Sprintf("service back to %d/%d running; resolving after %s of quiet", snap.Running, snap.Desired, HumanDuration(need))})
			return true
		}
		if now.Sub(*inc.RecoveringSince) < need {
			return true
		}
		resolve(inc, now, actorMedic, fmt.Sprintf("service at %d/%d running for %s", snap.Running, snap.Desired, HumanDuration(now.Sub(*inc.RecoveringSince))))
		resolved = true
		return true
	})
	return inc, resolved, err
}

// StateKnown records the first readable state of a service whose state could not be read when
// its incident opened (no role for its account, throttling): the incident was P3 for want of
// state, and now takes the severity the state gives, if that is higher (SPEC §2). It reports
// whether the severity rose. Alarm incidents keep their runbook's severity.
func (m *Manager) StateKnown(ctx context.Context, id string, snap *servicestate.Snapshot) (*Incident, bool, error) {
	raised := false
	inc, err := m.modify(ctx, id, func(inc *Incident, now time.Time) bool {
		raised = false
		if !inc.State.Active() || inc.ServiceState != nil || inc.StateError == "" {
			return false
		}
		inc.ServiceState, inc.StateError = snap, ""
		if inc.Cause != classify.Alarm {
			raised = raise(inc, Signal{Severity: severity.Assess(snap.Severity()), State: snap}, now)
		}
		if !raised {
			inc.addEntry(Entry{At: now, Actor: actorMedic, Kind: "state", Message: "service state readable again: " + stateText(Signal{State: snap})})
		}
		return true
	})
	return inc, raised, err
}

// relapse records that a recovering service failed again, and says so once when that makes the
// incident flapping: from then on it stays open until the flap window passes quietly, so the
// cycles are counted here instead of paging again each time.
func relapse(inc *Incident, now time.Time, why string) {
	inc.Flaps++
	inc.addEntry(Entry{At: now, Actor: actorMedic, Kind: "relapse", Message: why})
	if inc.Flaps == cmp.Or(inc.FlapThreshold, DefaultFlapThreshold) {
		inc.addEntry(Entry{At: now, Actor: actorMedic, Kind: "flapping", Message: fmt.Sprintf(
			"flapping: %d relapses since %s; it resolves only after %s at the desired count", inc.Flaps,
			inc.OpenedAt.UTC().Format("15:04 UTC"), HumanDuration(inc.quietFor(0)))})
	}
}

// Escalate marks an open incident whose response deadline has passed as escalated. It happens
// once per incident (SPEC §2); it reports whether this call escalated it.
func (m *Manager) Escalate(ctx context.Context, id string) (*Incident, bool, error) {
	escalated := false
	inc, err := m.modify(ctx, id, func(inc *Incident, now time.Time) bool {
		escalated = inc.State == Open && !inc.Escalated && now.After(inc.SLADeadline)
		if escalated {
			inc.Escalated, inc.UpdatedAt = true, now
			inc.addEntry(Entry{At: now, Actor: actorMedic, Kind: "escalated",
				Message: fmt.Sprintf("not acknowledged within the %s response time of a %s (due %s UTC): escalated", HumanDuration(inc.Severity.SLA()), inc.Severity, inc.SLADeadline.UTC().Format("15:04"))})
		}
		return escalated
	})
	return inc, escalated, err
}

// modify applies fn to the incident with id, atomically.
func (m *Manager) modify(ctx context.Context, id string, fn func(*Incident, time.Time) bool) (*Incident, error) {
	return m.store.Modify(ctx, id, func(inc *Incident) (bool, error) {
		return fn(inc, m.now()), nil
	})
}

func resolve(inc *Incident, now time.Time, actor, reason string) {
	inc.State, inc.ResolvedAt, inc.UpdatedAt = Resolved, &now, now
	msg := "resolved"
	if reason != "" {
		msg += ": " + reason
	}
	inc.addEntry(Entry{At: now, Actor: actor, Kind: "resolved", Message: msg})
}

// boundFacts clips the free texts an event carries (alarm reasons can be long, and anyone with
// cloudwatch:SetAlarmState writes them).
func boundFacts(f Facts) Facts {
	f.StoppedReason, f.Reason = Clip(f.StoppedReason, MaxText), Clip(f.Reason, MaxText)
	f.TaskArn, f.TaskDefinition, f.Group = Clip(f.TaskArn, 2048), Clip(f.TaskDefinition, 2048), Clip(f.Group, 512)
	return f
}

// boundDiagnosis returns a copy of d with its evidence texts clipped.
func boundDiagnosis(d *classify.Diagnosis) *classify.Diagnosis {
	if d == nil {
		return nil
	}
	c := *d
	c.Evidence = make([]classify.Evidence, len(d.Evidence))
	for i, e := range d.Evidence {
		e.Value = Clip(e.Value, MaxText)
		c.Evidence[i] = e
	}
	if len(c.Evidence) > MaxSampleEvidence {
		c.Evidence = c.Evidence[:MaxSampleEvidence]
	}
	return &c
}

func title(sig Signal) string {
	t := sig.Cause.Title()
	if sig.Sub != "" {
		t += " (" + sig.Sub + ")"
	}
	switch {
	case sig.Scope.Alarm != "":
		return sig.Scope.Alarm + ": " + t
	case sig.Alarm != "":
		return sig.Scope.Service + ": " + t + " " + sig.Alarm
	}
	return sig.Scope.Service + ": " + t
}

func stateText(sig Signal) string {
	switch {
	case sig.State != nil:
		return fmt.Sprintf("service %d/%d running, %d pending", sig.State.Running, sig.State.Desired, sig.State.Pending)
	case sig.StateError != "":
		return "service state unknown: " + sig.StateError
	default:
		return "no service state"
	}
}

var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// NewID returns a new incident id: "inc-" and 13 characters that sort by creation time
// (milliseconds) and carry 22 random bits, so ids are unique per incident, including one that
// breaks again after it resolved (PagerDuty drops events for a resolved dedup_key).
func NewID(now time.Time) string {
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	v := uint64(now.UnixMilli())<<22 | uint64(binary.BigEndian.Uint32(rnd[:]))>>10
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return "inc-" + strings.ToLower(idEncoding.EncodeToString(b[:]))
}
