package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/ecs-medic/ecs-medic/internal/incident"
)

// Update implements incident.Store.
func (s *Store) Update(ctx context.Context, scope incident.Scope, marks []string, fn func([]*incident.Incident) ([]*incident.Incident, error)) error {
	claimed, err := s.claim(ctx, marks)
	if err != nil {
		return err
	}
	pk := scopePK(scope)
	for attempt := range maxAttempts {
		if attempt > 0 {
			if err := backoff(ctx, attempt); err != nil {
				s.release(ctx, claimed)
				return err
			}
		}
		cur, err := s.readScope(ctx, pk)
		if err != nil {
			return err
		}
		for _, m := range marks {
			if recentlyApplied(cur.recent, m, s.now()) {
				// Applied by a handler that died before marking it done.
				s.finish(ctx, claimed)
				return fmt.Errorf("mark %s: %w", m, incident.ErrDuplicate)
			}
		}
		changed, err := fn(cur.active)
		if err != nil {
			s.release(ctx, claimed)
			return err
		}
		if len(changed) == 0 {
			// Nothing to write: the marks alone record that the event was seen.
			s.finish(ctx, claimed)
			return nil
		}
		active, err := merge(cur.active, changed)
		if err != nil {
			s.release(ctx, claimed)
			return err
		}
		for _, inc := range changed {
			created := inc.Version == 0
			inc.Version++
			if created || !inc.State.Active() {
				// The incident's own item: its id must resolve to its scope before the scope
				// names it, and a resolved record must exist before the scope forgets it.
				if err := s.putIncident(ctx, inc); err != nil {
					s.release(ctx, claimed)
					return err
				}
			}
		}
		recent := slices.Clone(cur.recent)
		exp := strconv.FormatInt(s.now().Add(MarkTTL).Unix(), 10)
		for _, m := range marks {
			recent = append(recent, exp+" "+m)
		}
		if len(recent) > recentMarks {
			recent = recent[len(recent)-recentMarks:]
		}
		err = s.writeScope(ctx, pk, scope.Key(), cur, active, recent)
		if errors.Is(err, incident.ErrConflict) {
			continue // someone else wrote the scope: read it again and redo fn
		}
		if err != nil {
			s.release(ctx, claimed)
			return err
		}
		s.finish(ctx, claimed)
		return nil
	}
	s.release(ctx, claimed)
	return fmt.Errorf("scope %s: %d attempts: %w", scope.Key(), maxAttempts, incident.ErrConflict)
}
