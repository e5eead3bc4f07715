package incident

import (
	"maps"
	"slices"
	"time"
)

// Clone returns a copy of the incident that shares nothing the Manager changes in place. Stores
// that keep active incidents in memory hand clones to update functions, so an incident a caller
// already holds never changes under it. Slices are shared with their capacity cut to their
// length: the Manager only ever appends to them (which then copies) or replaces them, never
// writes into their elements. Maps and notices, which it changes in place, are copied. What is
// only ever replaced whole (the diagnosis, the service state, the deployment link, times) is
// shared.
func (inc *Incident) Clone() *Incident {
	if inc == nil {
		return nil
	}
	c := *inc
	c.Occurrences.Tasks = slices.Clip(inc.Occurrences.Tasks)
	c.Occurrences.Evidence = slices.Clip(inc.Occurrences.Evidence)
	c.Occurrences.TaskDefinitions = slices.Clip(inc.Occurrences.TaskDefinitions)
	c.Alarms = slices.Clip(inc.Alarms)
	c.LogLines = slices.Clip(inc.LogLines)
	c.Timeline = slices.Clip(inc.Timeline)
	c.Suppressed = maps.Clone(inc.Suppressed)
	if inc.Notices != nil {
		c.Notices = make(map[string]*Notice, len(inc.Notices))
		for k, n := range inc.Notices {
			nc := *n
			c.Notices[k] = &nc
		}
	}
	return &c
}

// OnlyOccurred reports whether next differs from prev in nothing but what every occurrence of a
// failure changes: the occurrence summary, the update time, the service state read and the
// version. A store can then record the change as those fields alone instead of the whole
// incident. Pointers are compared by identity (an incident changed through Clone keeps the ones
// it did not replace), so the answer errs on the side of "no".
func OnlyOccurred(prev, next *Incident) bool {
	if prev == nil || next == nil {
		return false
	}
	a, b := *prev, *next
	// Take out what an occurrence changes and what == cannot compare, then compare the rest.
	for _, x := range []*Incident{&a, &b} {
		x.Occurrences, x.UpdatedAt, x.ServiceState, x.StateError, x.Version = Occurrences{}, time.Time{}, nil, "", 0
		x.Alarms, x.Notices, x.LogLines, x.Suppressed, x.Timeline = nil, nil, nil, nil, nil
	}
	return a.equalScalars(&b) &&
		slices.Equal(prev.Alarms, next.Alarms) && slices.Equal(prev.LogLines, next.LogLines) &&
		maps.Equal(prev.Suppressed, next.Suppressed) && slices.Equal(prev.Timeline, next.Timeline) &&
		maps.EqualFunc(prev.Notices, next.Notices, func(x, y *Notice) bool { return *x == *y })
}

// equalScalars compares every field but the slices and maps. TestOnlyOccurredSeesEveryField
// fails when a field is added to Incident and not here.
func (inc *Incident) equalScalars(o *Incident) bool {
	return inc.ID == o.ID && inc.Scope == o.Scope && inc.Cause == o.Cause && inc.Sub == o.Sub &&
		inc.Confidence == o.Confidence && inc.Title == o.Title && inc.Severity == o.Severity &&
		inc.Runbook == o.Runbook && inc.Page == o.Page && inc.Fix == o.Fix && inc.State == o.State &&
		inc.OpenedAt == o.OpenedAt && inc.UpdatedAt == o.UpdatedAt && inc.AcknowledgedAt == o.AcknowledgedAt &&
		inc.AcknowledgedBy == o.AcknowledgedBy && inc.ResolvedAt == o.ResolvedAt && inc.SLADeadline == o.SLADeadline &&
		inc.Escalated == o.Escalated && inc.RecoveringSince == o.RecoveringSince && inc.ActionAt == o.ActionAt &&
		inc.VerifyBy == o.VerifyBy && inc.Flaps == o.Flaps && inc.FlapThreshold == o.FlapThreshold &&
		inc.FlapWindow == o.FlapWindow && inc.AutomationStopped == o.AutomationStopped && inc.Occurrences.Count == o.Occurrences.Count &&
		inc.Diagnosis == o.Diagnosis && inc.Facts == o.Facts && inc.Deployment == o.Deployment &&
		inc.ServiceState == o.ServiceState && inc.StateError == o.StateError && inc.Route == o.Route &&
		inc.LogError == o.LogError && inc.TimelineDropped == o.TimelineDropped && inc.Refusals == o.Refusals &&
		inc.Version == o.Version
}
