package incident

import (
	"context"
	"sync"
	"time"
)

// Option configures a Manager.
type Option func(*Manager)

// WithClock injects the clock.
func WithClock(now func() time.Time) Option { return func(m *Manager) { m.now = now } }

// WithRoute chooses the route of each new incident (MEDIC_ROUTES): its name is kept on the
// incident so that every notification of it goes to the same receivers. route must be pure.
func WithRoute(route func(Signal) string) Option { return func(m *Manager) { m.route = route } }

// WithIDs injects the incident id generator.
func WithIDs(newID func(time.Time) string) Option { return func(m *Manager) { m.newID = newID } }

// Manager applies signals to incidents in a store, and keeps its silences.
type Manager struct {
	store interface {
		Incidents
		Silences
	}
	now   func() time.Time
	newID func(time.Time) string
	route func(Signal) string
	// applies reuses Apply's state (*applying): a signal captured by Apply's closure would
	// otherwise be moved to the heap for every event, about 600 bytes.
	applies sync.Pool
}

// NewManager returns a Manager over the incidents and silences of store (a Store has both).
func NewManager(store interface {
	Incidents
	Silences
}, opts ...Option) *Manager {
	m := &Manager{store: store, now: time.Now, newID: NewID}
	for _, o := range opts {
		o(m)
	}
	return m
}

// Get returns one incident by id, or ErrNotFound.
func (m *Manager) Get(ctx context.Context, id string) (*Incident, error) { return m.store.Get(ctx, id) }

// List returns the incidents f matches, newest first (see Filter).
func (m *Manager) List(ctx context.Context, f Filter) ([]*Incident, error) {
	return m.store.List(ctx, f)
}

// Silences returns the silences in force now.
func (m *Manager) Silences(ctx context.Context) ([]Silence, error) {
	return m.store.Silences(ctx, m.now())
}

const actorMedic = "ecs-medic"

// Now is the manager's clock.
func (m *Manager) Now() time.Time { return m.now() }

// modify applies fn to the incident with id, atomically.
func (m *Manager) modify(ctx context.Context, id string, fn func(*Incident, time.Time) bool) (*Incident, error) {
	return m.store.Modify(ctx, id, func(inc *Incident) (bool, error) {
		return fn(inc, m.now()), nil
	})
}
