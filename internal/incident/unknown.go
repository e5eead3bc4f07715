package incident

import (
	"context"
	"fmt"
	"time"

	"github.com/ecs-medic/ecs-medic/internal/classify"
)

// UnknownText is a stop reason no classification rule knew, as the unknown incidents keep it.
// Listing them is how the classification corpus grows from real use.
type UnknownText struct {
	Text string `json:"text"`
	// Incidents are the ids of the unknown incidents that carry it, newest first (at most
	// MaxSampleTasks).
	Incidents []string `json:"incidents"`
	// Scopes are the services it was seen on ("cluster/service"), at most MaxSampleTasks.
	Scopes   []string  `json:"scopes"`
	LastSeen time.Time `json:"last_seen"`
}

// UnknownTexts lists the distinct reason texts of the unknown incidents among the newest scan
// incidents of the store, open or resolved, most recently seen first, at most limit of them.
// Nothing new is stored for this: every unknown incident already keeps its distinct evidence texts
// (at most MaxSampleEvidence), so the list is as durable as the incidents and bounded by scan and
// limit.
func (m *Manager) UnknownTexts(ctx context.Context, scan, limit int) ([]UnknownText, error) {
	incs, err := m.store.List(ctx, Filter{Limit: scan})
	if err != nil {
		return nil, fmt.Errorf("list incidents: %w", err)
	}
	var out []UnknownText
	at := map[string]int{}
	for _, inc := range incs { // newest first
		if inc.Cause != classify.Unknown {
			continue
		}
		for _, text := range inc.Occurrences.Evidence {
			i, seen := at[text]
			if !seen {
				if len(out) >= limit {
					continue
				}
				i = len(out)
				at[text] = i
				out = append(out, UnknownText{Text: text})
			}
			u := &out[i]
			if len(u.Incidents) < MaxSampleTasks && !contains(u.Incidents, inc.ID) {
				u.Incidents = append(u.Incidents, inc.ID)
			}
			if name := inc.Scope.Name(); len(u.Scopes) < MaxSampleTasks && !contains(u.Scopes, name) {
				u.Scopes = append(u.Scopes, name)
			}
			if inc.Occurrences.LastSeen.After(u.LastSeen) {
				u.LastSeen = inc.Occurrences.LastSeen
			}
		}
	}
	return out, nil
}
