package incident

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ecs-medic/ecs-medic/internal/classify"
	"github.com/ecs-medic/ecs-medic/internal/severity"
)

// Apply records a signal. A redelivered event yields Outcome.Duplicate and changes nothing but
// the duplicate counter.
func (m *Manager) Apply(ctx context.Context, sig Signal) (Outcome, error) {
	a, _ := m.applies.Get().(*applying)
	if a == nil {
		a = &applying{m: m}
		a.fn = a.apply
	}
	a.sig = sig
	err := m.store.Update(ctx, sig.Scope, sig.Marks, a.fn)
	out := a.out
	*a = applying{m: m, fn: a.fn} // nothing of this signal stays reachable from the pool
	m.applies.Put(a)
	if errors.Is(err, ErrDuplicate) {
		m.countDuplicate(ctx, sig)
		return Outcome{Duplicate: true}, nil
	}
	if err != nil {
		return Outcome{}, err
	}
	return out, nil
}

// applying is one Apply: the signal, its outcome, and the update function the store calls
// (bound once to its applying, so that handing it to the store allocates nothing).
type applying struct {
	m   *Manager
	sig Signal
	out Outcome
	fn  func(active []*Incident) ([]*Incident, error)
}

// apply is Apply's update of the scope's active incidents.
func (a *applying) apply(active []*Incident) ([]*Incident, error) {
	m, sig, out := a.m, &a.sig, &a.out
	*out = Outcome{} // fn may run more than once
	now := m.now()
	switch sig.Kind {
	case Failure:
		return m.applyFailure(*sig, active, now, out), nil
	case Corroborate:
		if len(active) == 0 {
			return m.applyFailure(*sig, active, now, out), nil
		}
		return m.attach(*sig, active, now, out), nil
	case Note:
		return m.attach(*sig, active, now, out), nil
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
