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
//
// An occurrence of an active incident that changes nothing else is one conditional UpdateItem of
// the incident's occurrence item (recordOccurrence), after reading the event's marks (a done
// mark makes it a duplicate) and the scope's partition; the marks are written done after it.
// Everything else claims the marks first (a lease), rewrites the scope item under its version,
// and marks the claims done.
func (s *Store) Update(ctx context.Context, scope incident.Scope, marks []string, fn func([]*incident.Incident) ([]*incident.Incident, error)) error {
	var claimed []string
	if s.occurrenceWrites {
		held, err := s.seen(ctx, marks)
		if err != nil {
			return err
		}
		if held {
			// Another handler has the same event in hand: wait for it as the claim does.
			if claimed, err = s.claim(ctx, marks); err != nil {
				return err
			}
		}
	} else {
		var err error
		if claimed, err = s.claim(ctx, marks); err != nil {
			return err
		}
	}
	hashes := markHashes(marks)
	pk := scopePK(scope)
	retry := false
attempts:
	for attempt := range maxAttempts {
		if retry {
			if err := backoff(ctx, attempt); err != nil {
				s.release(ctx, claimed)
				return err
			}
		}
		retry = true
		cur, err := s.readScope(ctx, pk)
		if err != nil {
			s.release(ctx, claimed)
			return err
		}
		if m := cur.applied(marks, hashes, s.now()); m != "" {
			// Applied by a handler that died before marking it done, or is marking it now.
			s.done(ctx, marks, claimed)
			return fmt.Errorf("mark %s: %w", m, incident.ErrDuplicate)
		}
		view := cur.view()
		var before []*incident.Incident
		if s.occurrenceWrites {
			before = make([]*incident.Incident, len(view))
			for i, inc := range view {
				before[i] = inc.Clone()
			}
		}
		changed, err := fn(view)
		if err != nil {
			s.release(ctx, claimed)
			return err
		}
		if len(changed) == 0 {
			// Nothing to write: the marks alone record that the event was seen.
			s.done(ctx, marks, claimed)
			return nil
		}
		if s.occurrenceWrites {
			if inc, o, oc, ok := cur.onlyOccurred(view, before, changed); ok {
				err := s.recordOccurrence(ctx, pk, inc, o, oc, hashes)
				if errors.Is(err, incident.ErrConflict) {
					continue // changed, resolved or counted meanwhile: read again
				}
				if err != nil {
					s.release(ctx, claimed)
					return err
				}
				s.done(ctx, marks, claimed)
				return nil
			}
			if claimed == nil && len(marks) > 0 {
				// A change of the scope item: claim the marks, then decide again on what is
				// there once they are held.
				if claimed, err = s.claim(ctx, marks); err != nil {
					return err
				}
				retry = false
				continue
			}
		}
		// The scope item keeps what occurrence items do not count.
		blobs := make([]*incident.Incident, len(changed))
		for i, inc := range changed {
			blobs[i] = withoutOccurrences(inc, cur.occ[inc.ID])
		}
		active, err := merge(cur.active, blobs)
		if err != nil {
			s.release(ctx, claimed)
			return err
		}
		var created []*incident.Incident
		for i, inc := range changed {
			prev := inc.Version
			inc.Version++
			blobs[i].Version = inc.Version
			if prev == 0 {
				created = append(created, inc)
			} else if s.occurrenceWrites {
				o, err := s.fence(ctx, pk, inc.ID, inc.Version, !inc.State.Active(), hashes)
				if errors.Is(err, incident.ErrConflict) {
					continue attempts // the event was counted meanwhile: the next read says so
				}
				if err != nil {
					s.release(ctx, claimed)
					return err
				}
				if !inc.State.Active() {
					// Closed: its count is final, and the resolved record holds it.
					*inc = *withOccurrences(blobs[i], o, prev)
				}
			}
			if prev == 0 || !inc.State.Active() {
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
		if s.occurrenceWrites {
			for _, inc := range created {
				if inc.State.Active() {
					// Best effort: without its occurrence item, an incident's next occurrence
					// is written the long way, which creates it.
					_, _ = s.fence(ctx, pk, inc.ID, inc.Version, false, nil)
				}
			}
		}
		s.finish(ctx, claimed)
		return nil
	}
	s.release(ctx, claimed)
	return fmt.Errorf("scope %s: %d attempts: %w", scope.Key(), maxAttempts, incident.ErrConflict)
}

// onlyOccurred says whether fn's changes are one occurrence of one incident, counted in its
// occurrence item alone: the incident as read (view), its occurrence item, and the occurrence.
func (it scopeItem) onlyOccurred(view, before, changed []*incident.Incident) (*incident.Incident, *occItem, occurred, bool) {
	if len(changed) != 1 {
		return nil, nil, occurred{}, false
	}
	after := changed[0]
	i := slices.Index(view, after)
	if i < 0 {
		return nil, nil, occurred{}, false
	}
	o := it.occ[after.ID]
	if o == nil || !o.active || o.version != after.Version {
		return nil, nil, occurred{}, false
	}
	oc, ok := occurrenceOf(before[i], after)
	return before[i], o, oc, ok
}
