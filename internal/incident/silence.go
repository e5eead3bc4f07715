package incident

import (
	"context"
	"errors"
	"fmt"
	"time"
)

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
