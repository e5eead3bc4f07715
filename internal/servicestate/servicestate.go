// Package servicestate reads an ECS service's live state (desired, running and pending counts,
// deployments) through DescribeServices, with a short per-service cache so that a storm of events
// costs one call per service every few seconds rather than one per event.
package servicestate

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"golang.org/x/sync/singleflight"

	"github.com/ecs-medic/ecs-medic/internal/accounts"
	"github.com/ecs-medic/ecs-medic/internal/severity"
)

// ECSAPI is the part of *ecs.Client this package calls.
type ECSAPI interface {
	DescribeServices(ctx context.Context, in *ecs.DescribeServicesInput, optFns ...func(*ecs.Options)) (*ecs.DescribeServicesOutput, error)
}

// ErrNotFound means ECS does not know the service (deleted, or the wrong cluster or region).
var ErrNotFound = errors.New("service not found")

// Ref names one service. Account and Region decide whose credentials read it.
type Ref struct {
	Account string
	Region  string
	Cluster string
	Service string
}

func (r Ref) String() string {
	if r.Account == "" {
		return r.Region + "/" + r.Cluster + "/" + r.Service
	}
	return r.Account + "/" + r.Region + "/" + r.Cluster + "/" + r.Service
}

// Clients hands out the clients of an account and region (accounts.Provider). It fails, saying
// why, for an account whose services may not be read.
type Clients interface {
	For(ctx context.Context, account, region string) (*accounts.Clients, error)
}

// Snapshot is a service's state at one moment.
type Snapshot struct {
	Cluster        string       `json:"cluster"`
	Service        string       `json:"service"`
	Status         string       `json:"status"`
	Desired        int          `json:"desired"`
	Running        int          `json:"running"`
	Pending        int          `json:"pending"`
	TaskDefinition string       `json:"task_definition"`
	Deployments    []Deployment `json:"deployments,omitempty"`
	// Tags are the service's ECS tags (routes match on them).
	Tags   map[string]string `json:"tags,omitempty"`
	ReadAt time.Time         `json:"read_at"`
}

// Deployment is one of the service's deployments as ECS reports it.
type Deployment struct {
	ID             string    `json:"id"`
	Status         string    `json:"status"` // PRIMARY, ACTIVE, INACTIVE
	TaskDefinition string    `json:"task_definition"`
	RolloutState   string    `json:"rollout_state,omitempty"` // IN_PROGRESS, COMPLETED, FAILED
	RolloutReason  string    `json:"rollout_reason,omitempty"`
	Desired        int       `json:"desired"`
	Running        int       `json:"running"`
	Pending        int       `json:"pending"`
	Failed         int       `json:"failed"`
	CreatedAt      time.Time `json:"created_at"`
}

// Severity is the state as the severity rules see it.
func (s *Snapshot) Severity() severity.State {
	return severity.State{Desired: s.Desired, Running: s.Running, Pending: s.Pending}
}

// Option configures a Source.
type Option func(*Source)

// WithTTL sets how long a read (or a failed read) is reused. Default 5 s.
func WithTTL(d time.Duration) Option { return func(s *Source) { s.ttl = d } }

// WithClock injects the clock, for tests.
func WithClock(now func() time.Time) Option { return func(s *Source) { s.now = now } }

// Source reads service state through ECS with a cache. Safe for concurrent use.
type Source struct {
	api func(ctx context.Context, ref Ref) (ECSAPI, error)
	ttl time.Duration
	now func() time.Time

	mu    sync.Mutex
	cache map[Ref]cached
	group singleflight.Group
	calls atomic.Int64
}

type cached struct {
	snap *Snapshot
	err  error
	at   time.Time
}

// New returns a Source reading every service through api, whatever its account: for one
// account (tests, replays). ecs-medic itself uses PerAccount.
func New(api ECSAPI, opts ...Option) *Source {
	return newSource(func(context.Context, Ref) (ECSAPI, error) { return api, nil }, opts)
}

// PerAccount returns a Source that reads each service with the clients of its own account and
// region. A service whose account cannot be reached is never read with other credentials: Get
// fails with the reason.
func PerAccount(c Clients, opts ...Option) *Source {
	return newSource(func(ctx context.Context, ref Ref) (ECSAPI, error) {
		cs, err := c.For(ctx, ref.Account, ref.Region)
		if err != nil {
			return nil, err
		}
		return cs.ECS, nil
	}, opts)
}

func newSource(api func(context.Context, Ref) (ECSAPI, error), opts []Option) *Source {
	s := &Source{api: api, ttl: 5 * time.Second, now: time.Now, cache: map[Ref]cached{}}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Calls is how many DescribeServices calls the Source has made.
func (s *Source) Calls() int64 { return s.calls.Load() }

// Get returns the service's state, from the cache when it is fresh. Concurrent callers for the
// same service share one call. A failure is cached as long as a success, so a throttled or
// unreachable ECS is not hammered by every event of a storm.
func (s *Source) Get(ctx context.Context, ref Ref) (*Snapshot, error) {
	now := s.now()
	s.mu.Lock()
	c, ok := s.cache[ref]
	s.mu.Unlock()
	if ok && now.Sub(c.at) < s.ttl {
		return c.snap, c.err
	}
	v, err, _ := s.group.Do(ref.String(), func() (any, error) {
		snap, err := s.describe(ctx, ref)
		s.mu.Lock()
		s.cache[ref] = cached{snap: snap, err: err, at: s.now()}
		s.mu.Unlock()
		return snap, err
	})
	if err != nil {
		return nil, err
	}
	return v.(*Snapshot), nil
}

// Forget drops the cached state of a service, so the next Get reads ECS (after an action).
func (s *Source) Forget(ref Ref) {
	s.mu.Lock()
	delete(s.cache, ref)
	s.mu.Unlock()
}

func (s *Source) describe(ctx context.Context, ref Ref) (*Snapshot, error) {
	api, err := s.api(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("read service %s: %w", ref, err)
	}
	s.calls.Add(1)
	var opts []func(*ecs.Options)
	if ref.Region != "" {
		opts = append(opts, func(o *ecs.Options) { o.Region = ref.Region })
	}
	out, err := api.DescribeServices(ctx, &ecs.DescribeServicesInput{
		Cluster:  aws.String(ref.Cluster),
		Services: []string{ref.Service},
		Include:  []ecstypes.ServiceField{ecstypes.ServiceFieldTags},
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("describe service %s: %w", ref, err)
	}
	for _, f := range out.Failures {
		return nil, fmt.Errorf("describe service %s: %s: %w", ref, aws.ToString(f.Reason), ErrNotFound)
	}
	if len(out.Services) == 0 {
		return nil, fmt.Errorf("describe service %s: %w", ref, ErrNotFound)
	}
	svc := out.Services[0]
	snap := &Snapshot{
		Cluster:        ref.Cluster,
		Service:        aws.ToString(svc.ServiceName),
		Status:         aws.ToString(svc.Status),
		Desired:        int(svc.DesiredCount),
		Running:        int(svc.RunningCount),
		Pending:        int(svc.PendingCount),
		TaskDefinition: aws.ToString(svc.TaskDefinition),
		ReadAt:         s.now(),
	}
	if len(svc.Tags) > 0 {
		snap.Tags = make(map[string]string, len(svc.Tags))
		for _, t := range svc.Tags {
			snap.Tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
	}
	for _, d := range svc.Deployments {
		snap.Deployments = append(snap.Deployments, Deployment{
			ID:             aws.ToString(d.Id),
			Status:         aws.ToString(d.Status),
			TaskDefinition: aws.ToString(d.TaskDefinition),
			RolloutState:   string(d.RolloutState),
			RolloutReason:  aws.ToString(d.RolloutStateReason),
			Desired:        int(d.DesiredCount),
			Running:        int(d.RunningCount),
			Pending:        int(d.PendingCount),
			Failed:         int(d.FailedTasks),
			CreatedAt:      aws.ToTime(d.CreatedAt),
		})
	}
	return snap, nil
}

// Unavailable is a source that can never read state, for when ECS cannot be reached at all (no
// AWS credentials on a laptop). Every Get fails with the reason, and severity falls back.
type Unavailable struct{ Reason string }

// Get always fails.
func (u Unavailable) Get(context.Context, Ref) (*Snapshot, error) {
	return nil, fmt.Errorf("service state unavailable: %s", u.Reason)
}
