package incident

import (
	"cmp"
	"context"
	"fmt"
	"time"

	"github.com/ecs-medic/ecs-medic/internal/classify"
	"github.com/ecs-medic/ecs-medic/internal/servicestate"
	"github.com/ecs-medic/ecs-medic/internal/severity"
)

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

func resolve(inc *Incident, now time.Time, actor, reason string) {
	inc.State, inc.ResolvedAt, inc.UpdatedAt = Resolved, &now, now
	msg := "resolved"
	if reason != "" {
		msg += ": " + reason
	}
	inc.addEntry(Entry{At: now, Actor: actor, Kind: "resolved", Message: msg})
}
