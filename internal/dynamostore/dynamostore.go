package dynamostore

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/ecs-medic/ecs-medic/internal/incident"
)

// API is the part of *dynamodb.Client the store calls.
type API interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

// Defaults.
const (
	// MarkTTL: EventBridge retries for up to 24 h; marks are kept twice that.
	MarkTTL = 48 * time.Hour
	// Lease is how long a claimed mark keeps other handlers of the same event waiting.
	Lease = 30 * time.Second
	// Retain is how long a resolved incident is kept before TTL may delete it.
	Retain = 90 * 24 * time.Hour
	// recentMarks bounds the marks a scope item remembers applying.
	recentMarks = 256
	// maxAttempts bounds optimistic-locking retries under contention.
	maxAttempts = 64
	// GSI is the sparse index listing active scopes and incidents.
	GSI = "gsi1"
)

// Store is the DynamoDB incident store.
type Store struct {
	api   API
	table string
	now   func() time.Time
	// occurrenceWrites: an occurrence that changes nothing else is counted in its incident's
	// occurrence item (occurrence.go) instead of rewriting the scope item.
	occurrenceWrites bool
	// writes counts successful writes of scope, incident and occurrence items.
	writes atomic.Int64
	stats  *counted
}

var _ incident.Store = (*Store)(nil)

// Option configures a Store.
type Option func(*Store)

// WithClock injects the clock.
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// WithReadRewrite makes every change, an occurrence too, read and rewrite its scope item whole,
// and never write occurrence items: how the store worked before them, kept so that a benchmark
// can measure both side by side. Do not mix it with the default on one table.
func WithReadRewrite() Option { return func(s *Store) { s.occurrenceWrites = false } }

// New returns a store on table.
func New(api API, table string, opts ...Option) *Store {
	c := &counted{api: api}
	s := &Store{api: c, table: table, now: time.Now, stats: c, occurrenceWrites: true}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Writes is how many scope, incident and occurrence items the store wrote.
func (s *Store) Writes() int64 { return s.writes.Load() }
