package incident

import (
	"maps"
	"slices"
)

// Clone returns a copy of the incident that shares nothing the Manager changes in place: its
// slices, maps and notices are copied. Stores that keep active incidents in memory hand clones to
// update functions, so an incident a caller already holds never changes under it. What is only
// ever replaced whole (the diagnosis, the service state, the deployment link, times) is shared.
func (inc *Incident) Clone() *Incident {
	if inc == nil {
		return nil
	}
	c := *inc
	c.Occurrences.Tasks = slices.Clone(inc.Occurrences.Tasks)
	c.Occurrences.Evidence = slices.Clone(inc.Occurrences.Evidence)
	c.Occurrences.TaskDefinitions = slices.Clone(inc.Occurrences.TaskDefinitions)
	c.Alarms = slices.Clone(inc.Alarms)
	c.LogLines = slices.Clone(inc.LogLines)
	c.Timeline = slices.Clone(inc.Timeline)
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
