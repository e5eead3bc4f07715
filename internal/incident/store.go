package incident

import (
	"context"
	"errors"
	"time"
)

// Errors a store returns and callers branch on.
var (
	// ErrDuplicate: one of the idempotency marks was already recorded; nothing was written.
	ErrDuplicate = errors.New("duplicate event")
	// ErrConflict: a concurrent writer changed the same incidents; the caller may retry.
	ErrConflict = errors.New("concurrent update")
	// ErrNotFound: no incident with that id.
	ErrNotFound = errors.New("incident not found")
)

// Store is everything a store keeps: incidents, silences, remediation guards and remembered
// keys. Implementations: internal/boltstore (embedded) and internal/dynamostore; the suite in
// incidenttest is the contract both meet. Only the composition root holds a whole Store: each
// part of ecs-medic is handed the one concern it uses (the Manager its Incidents and Silences,
// the remediator and reconciler the Guards, Slack's handler the Marks).
type Store interface {
	Incidents
	Silences
	Guards
	Marks
}

// Incidents keeps incidents.
type Incidents interface {
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
	// List returns the incidents f matches, newest first, at most f's limit: the store applies
	// every part of f before the limit, so a caller never filters after a cap.
	List(ctx context.Context, f Filter) ([]*Incident, error)
}

// Silences keeps silences.
type Silences interface {
	// PutSilence records a silence, replacing any for the same scope.
	PutSilence(ctx context.Context, s Silence) error
	// Silences returns the silences that have not expired at now.
	Silences(ctx context.Context, now time.Time) ([]Silence, error)
}

// Guards keeps each scope's remediation guard.
type Guards interface {
	// Guard returns the scope's remediation guard (zero when there is none) without writing it:
	// planning reads the guard on every failure, and a read must not cost a commit.
	Guard(ctx context.Context, scope Scope) (Guard, error)
	// UpdateGuard atomically applies fn to the scope's remediation guard (zero when new) and
	// stores it; an error from fn leaves it unchanged and is returned.
	UpdateGuard(ctx context.Context, scope Scope, fn func(g *Guard) error) (Guard, error)
}

// Marks remembers keys for a while.
type Marks interface {
	// Remember records key until the given time, atomically: ErrDuplicate when it is already
	// recorded and unexpired. It holds across processes sharing the store (Slack request
	// signatures: a signed request is acted on once, on any Lambda instance or after a restart).
	Remember(ctx context.Context, key string, until time.Time) error
}

// Filter narrows List. A store applies every field before Limit, so a page holds only matching
// incidents, and Before pages through the rest.
type Filter struct {
	// Active keeps only open and acknowledged incidents.
	Active bool
	// State keeps only incidents in that state ("": any).
	State State
	// Account, Cluster and Service keep only the incidents whose scope has them ("": any). A
	// service's incidents include its alarms' (an alarm on the service's metrics takes its scope).
	Account string
	Cluster string
	Service string
	// Limit caps the answer; 0 means 100.
	Limit int
	// Since keeps only incidents opened at or after it (zero: all). Ids sort by creation time, so
	// a store walking newest first stops at the first older one.
	Since time.Time
	// Before keeps incidents older than the one with this id (ids sort by creation time): the
	// cursor of the next page.
	Before string
}

// DefaultLimit is the page a Filter without a Limit gets.
const DefaultLimit = 100

// Max is f's limit, DefaultLimit when unset.
func (f Filter) Max() int {
	if f.Limit <= 0 {
		return DefaultLimit
	}
	return f.Limit
}

// ActiveOnly reports whether only active incidents can match: a store may walk its active set
// instead of every incident it keeps.
func (f Filter) ActiveOnly() bool { return f.Active || f.State.Active() }

// Match reports whether inc passes every part of f but the limit. Stores filter with it, so
// both answer the same.
func (f Filter) Match(inc *Incident) bool {
	return (!f.Active || inc.State.Active()) &&
		(f.State == "" || inc.State == f.State) &&
		(f.Account == "" || inc.Scope.Account == f.Account) &&
		(f.Cluster == "" || inc.Scope.Cluster == f.Cluster) &&
		(f.Service == "" || inc.Scope.Service == f.Service) &&
		!inc.OpenedAt.Before(f.Since) &&
		(f.Before == "" || inc.ID < f.Before)
}

// Lister lists incidents (a store's Incidents, or the Manager).
type Lister interface {
	List(ctx context.Context, f Filter) ([]*Incident, error)
}

// Each calls fn with every incident f matches, newest first, reading pages of f's limit with the
// Before cursor, until fn returns false or none is left. For a pass over all the active
// incidents, however many: no caller needs a guess at "enough".
func Each(ctx context.Context, l Lister, f Filter, fn func(*Incident) bool) error {
	for {
		page, err := l.List(ctx, f)
		if err != nil {
			return err
		}
		for _, inc := range page {
			if !fn(inc) {
				return nil
			}
		}
		if len(page) < f.Max() {
			return nil
		}
		f.Before = page[len(page)-1].ID
	}
}
