// Package dynamostore keeps incidents in one DynamoDB table, for the Lambda functions: many
// handlers at once, any of them killed at any moment, every write conditional.
//
// Layout (single table, string keys pk/sk, one sparse index gsi1):
//
//	pk = S#<scope>  sk = S    the scope: every active incident of one service or alarm, gzipped
//	                          JSON, a version for optimistic locking, and the marks applied
//	                          last (bounded)
//	pk = I#<id>     sk = I    an incident: its scope, and once resolved its final record
//	pk = M#<mark>   sk = M    an idempotency mark: pending (with a lease) or done, and its expiry
//	pk = Q#<scope>  sk = Q    a silence of the scope, until it expires
//	pk = G#<scope>  sk = G    the scope's remediation guard: lease, action times, revisions
//	pk = R#<key>    sk = R    a remembered key (a Slack request signature) and its expiry
//
// Keeping a scope's active incidents in one item makes "one active incident per scope and cause"
// and every multi-incident change a single conditional PutItem, without transactions (which
// dynalite, the test double, does not implement). An event's marks are claimed first with a
// lease, so a handler that dies after claiming only delays a retry; the scope item records the
// marks it applied, so a handler that dies after applying but before marking done is still
// recognised as a duplicate. Expiry is always checked in the condition: TTL deletion is lazy
// and is never trusted to have removed anything.
package dynamostore

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

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
	// writes counts successful writes of scope and incident items.
	writes atomic.Int64
	stats  *counted
}

var _ incident.Store = (*Store)(nil)

// Option configures a Store.
type Option func(*Store)

// WithClock injects the clock.
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// New returns a store on table.
func New(api API, table string, opts ...Option) *Store {
	c := &counted{api: api}
	s := &Store{api: c, table: table, now: time.Now, stats: c}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Writes is how many scope and incident items the store wrote.
func (s *Store) Writes() int64 { return s.writes.Load() }

func str(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func num(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

func key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": str(pk), "sk": str(sk)}
}

func scopePK(scope incident.Scope) string { return "S#" + scope.Key() }

// scopeItem is a decoded scope item.
type scopeItem struct {
	exists  bool
	version int64
	active  []*incident.Incident
	recent  []string
}

func (s *Store) readScope(ctx context.Context, pk string) (scopeItem, error) {
	out, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: key(pk, "S"), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return scopeItem{}, fmt.Errorf("read scope %s: %w", pk, err)
	}
	if out.Item == nil {
		return scopeItem{}, nil
	}
	it := scopeItem{exists: true}
	if n, ok := out.Item["v"].(*types.AttributeValueMemberN); ok {
		it.version, _ = strconv.ParseInt(n.Value, 10, 64)
	}
	if b, ok := out.Item["active"].(*types.AttributeValueMemberB); ok {
		if err := unzipJSON(b.Value, &it.active); err != nil {
			return scopeItem{}, fmt.Errorf("decode scope %s: %w", pk, err)
		}
	}
	if l, ok := out.Item["recent"].(*types.AttributeValueMemberL); ok {
		for _, v := range l.Value {
			if sv, ok := v.(*types.AttributeValueMemberS); ok {
				it.recent = append(it.recent, sv.Value)
			}
		}
	}
	return it, nil
}

// writeScope replaces the scope item if it is still at the version read.
func (s *Store) writeScope(ctx context.Context, pk, scopeKey string, prev scopeItem, active []*incident.Incident, recent []string) error {
	blob, err := zipJSON(active)
	if err != nil {
		return err
	}
	item := key(pk, "S")
	item["v"] = num(prev.version + 1)
	item["active"] = &types.AttributeValueMemberB{Value: blob}
	item["n"] = num(int64(len(active)))
	item["scope"] = str(scopeKey)
	if len(recent) > 0 {
		l := make([]types.AttributeValue, len(recent))
		for i, m := range recent {
			l[i] = str(m)
		}
		item["recent"] = &types.AttributeValueMemberL{Value: l}
	}
	if len(active) > 0 {
		// Sparse index: only scopes with active incidents are listed.
		item["gsi1pk"], item["gsi1sk"] = str("ACTIVE"), str(scopeKey)
	}
	var cond expression.ConditionBuilder
	if prev.exists {
		cond = expression.Name("v").Equal(expression.Value(prev.version))
	} else {
		cond = expression.AttributeNotExists(expression.Name("pk"))
	}
	err = s.putIf(ctx, item, cond)
	if isConditionFailed(err) {
		return fmt.Errorf("scope %s changed: %w", scopeKey, incident.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("write scope %s: %w", scopeKey, err)
	}
	s.writes.Add(1)
	return nil
}

// incidentItem is an incident's own item: its scope always, its full record (kept for Retain)
// once resolved.
func (s *Store) incidentItem(inc *incident.Incident) (map[string]types.AttributeValue, error) {
	item := key("I#"+inc.ID, "I")
	item["scope"] = str(inc.Scope.Key())
	item["scopeJSON"] = str(mustJSON(inc.Scope))
	item["state"] = str(string(inc.State))
	item["gsi1pk"], item["gsi1sk"] = str("INC"), str(inc.ID)
	item["v"] = num(inc.Version)
	if !inc.State.Active() {
		blob, err := zipJSON(inc)
		if err != nil {
			return nil, err
		}
		item["data"] = &types.AttributeValueMemberB{Value: blob}
		item["ttl"] = num(s.now().Add(Retain).Unix())
	}
	return item, nil
}

// putIncident writes an incident's own item.
func (s *Store) putIncident(ctx context.Context, inc *incident.Incident) error {
	item, err := s.incidentItem(inc)
	if err != nil {
		return err
	}
	_, err = s.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: item})
	if err != nil {
		return fmt.Errorf("write incident %s: %w", inc.ID, err)
	}
	s.writes.Add(1)
	return nil
}

// createIncident writes a new incident's own item only if its id is free: an item of that id,
// active or resolved, is another incident, which an overwrite would lose.
func (s *Store) createIncident(ctx context.Context, inc *incident.Incident) error {
	item, err := s.incidentItem(inc)
	if err != nil {
		return err
	}
	err = s.putIf(ctx, item, expression.AttributeNotExists(expression.Name("pk")))
	if isConditionFailed(err) {
		return fmt.Errorf("create incident %s: id already taken: %w", inc.ID, incident.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("write incident %s: %w", inc.ID, err)
	}
	s.writes.Add(1)
	return nil
}

// Update implements incident.Store.
func (s *Store) Update(ctx context.Context, scope incident.Scope, marks []string, fn func([]*incident.Incident) ([]*incident.Incident, error)) error {
	claimed, err := s.claim(ctx, marks)
	if err != nil {
		return err
	}
	pk := scopePK(scope)
	// Ids this call created in an attempt whose scope write then lost a race: the item is ours,
	// and a retry that creates the same id again may overwrite it.
	created := map[string]bool{}
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
		for _, inc := range changed {
			if inc.Scope.Key() != scope.Key() {
				// The scope item would list an incident its own id does not lead to.
				s.release(ctx, claimed)
				return fmt.Errorf("incident %s is not of scope %s: %w", inc.ID, scope.Key(), incident.ErrConflict)
			}
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
			isNew := inc.Version == 0
			inc.Version++
			if isNew || !inc.State.Active() {
				// The incident's own item: its id must resolve to its scope before the scope
				// names it, and a resolved record must exist before the scope forgets it.
				put := s.putIncident
				if isNew && !created[inc.ID] {
					put = s.createIncident
				}
				if err := put(ctx, inc); err != nil {
					s.release(ctx, claimed)
					return err
				}
				if isNew {
					created[inc.ID] = true
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

// recentlyApplied reports whether the scope item lists mark ("<expiry> <mark>") unexpired.
func recentlyApplied(recent []string, mark string, now time.Time) bool {
	for _, r := range recent {
		exp, m, ok := strings.Cut(r, " ")
		if !ok || m != mark {
			continue
		}
		if e, err := strconv.ParseInt(exp, 10, 64); err == nil && e > now.Unix() {
			return true
		}
	}
	return false
}

// merge applies fn's changes to the active set, refusing a second active incident for a cause.
func merge(active, changed []*incident.Incident) ([]*incident.Incident, error) {
	byID := map[string]*incident.Incident{}
	var order []string
	for _, inc := range active {
		byID[inc.ID] = inc
		order = append(order, inc.ID)
	}
	for _, inc := range changed {
		cur, ok := byID[inc.ID]
		switch {
		case !ok && inc.Version != 0:
			return nil, fmt.Errorf("incident %s is not active in its scope: %w", inc.ID, incident.ErrConflict)
		case ok && cur.Version != inc.Version:
			return nil, fmt.Errorf("incident %s: %w", inc.ID, incident.ErrConflict)
		case !ok:
			order = append(order, inc.ID)
		}
		byID[inc.ID] = inc
	}
	var out []*incident.Incident
	causes := map[string]bool{}
	for _, id := range order {
		inc := byID[id]
		if !inc.State.Active() {
			continue
		}
		if causes[string(inc.Cause)] {
			return nil, fmt.Errorf("a second active %s incident in %s: %w", inc.Cause, inc.Scope.Name(), incident.ErrConflict)
		}
		causes[string(inc.Cause)] = true
		out = append(out, inc)
	}
	return out, nil
}

// claim takes a lease on each mark. A mark already done (and unexpired) makes the event a
// duplicate; a mark leased by a live handler is a conflict the caller retries later.
func (s *Store) claim(ctx context.Context, marks []string) ([]string, error) {
	now := s.now()
	var claimed []string
	for _, m := range marks {
		item := key("M#"+m, "M")
		item["status"] = str("pending")
		item["lease"] = num(now.Add(Lease).Unix())
		item["exp"] = num(now.Add(MarkTTL).Unix())
		item["ttl"] = num(now.Add(MarkTTL + 24*time.Hour).Unix())
		cond := expression.AttributeNotExists(expression.Name("pk")).
			Or(expression.Name("exp").LessThanEqual(expression.Value(now.Unix()))).
			Or(expression.Name("status").Equal(expression.Value("pending")).And(expression.Name("lease").LessThanEqual(expression.Value(now.Unix()))))
		err := s.putIf(ctx, item, cond)
		if err == nil {
			claimed = append(claimed, m)
			continue
		}
		if !isConditionFailed(err) {
			s.release(ctx, claimed)
			return nil, fmt.Errorf("claim mark %s: %w", m, err)
		}
		switch state, err := s.awaitMark(ctx, m); {
		case err != nil:
			s.release(ctx, claimed)
			return nil, err
		case state == "done":
			// Seen before: the marks this event claimed are done too, so its other identities
			// are recognised next time.
			s.finish(ctx, claimed)
			return nil, fmt.Errorf("mark %s: %w", m, incident.ErrDuplicate)
		default:
			// The other handler gave up or died: claim again.
			return s.claimAgain(ctx, claimed, marks)
		}
	}
	return claimed, nil
}

// claimAgain retries claiming the marks not yet held, once the holder of one of them gave it up.
func (s *Store) claimAgain(ctx context.Context, held, marks []string) ([]string, error) {
	var rest []string
	for _, m := range marks {
		if !slices.Contains(held, m) {
			rest = append(rest, m)
		}
	}
	more, err := s.claim(ctx, rest)
	if err != nil {
		s.release(ctx, held)
		return nil, err
	}
	return append(held, more...), nil
}

// awaitMark waits while another handler holds a mark's lease, and says how it ended: "done"
// (the event was applied), or "free" (released, expired or gone). The same event handled by
// concurrent Lambdas thus ends as one application and duplicates, as on the embedded store.
func (s *Store) awaitMark(ctx context.Context, m string) (string, error) {
	wait := 20 * time.Millisecond
	for {
		out, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: key("M#"+m, "M"), ConsistentRead: aws.Bool(true)})
		if err != nil {
			return "", fmt.Errorf("read mark %s: %w", m, err)
		}
		now := s.now().Unix()
		if out.Item == nil || attrN(out.Item, "exp") <= now {
			return "free", nil
		}
		if attrS(out.Item, "status") == "done" {
			return "done", nil
		}
		if attrN(out.Item, "lease") <= now {
			return "free", nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return "", fmt.Errorf("mark %s is being handled elsewhere: %w", m, incident.ErrConflict)
		case <-t.C:
		}
		if wait < 500*time.Millisecond {
			wait *= 2
		}
	}
}

// finish marks claimed marks done. A failure here is harmless: the scope item remembers them.
func (s *Store) finish(ctx context.Context, marks []string) {
	for _, m := range marks {
		_, _ = s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.table, Key: key("M#"+m, "M"),
			UpdateExpression:          aws.String("SET #s = :d"),
			ExpressionAttributeNames:  map[string]string{"#s": "status"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":d": str("done")}})
	}
}

// release gives claimed marks back after a failure, so a retry need not wait for the lease.
func (s *Store) release(ctx context.Context, marks []string) {
	for _, m := range marks {
		cond := expression.Name("status").Equal(expression.Value("pending"))
		expr, err := expression.NewBuilder().WithCondition(cond).Build()
		if err != nil {
			continue
		}
		_, _ = s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.table, Key: key("M#"+m, "M"),
			UpdateExpression: aws.String("SET lease = :zero"), ConditionExpression: expr.Condition(),
			ExpressionAttributeNames: expr.Names(),
			ExpressionAttributeValues: func() map[string]types.AttributeValue {
				v := expr.Values()
				v[":zero"] = num(0)
				return v
			}()})
	}
}

// Modify implements incident.Store.
func (s *Store) Modify(ctx context.Context, id string, fn func(*incident.Incident) (bool, error)) (*incident.Incident, error) {
	for range maxAttempts {
		ref, err := s.readIncident(ctx, id)
		if err != nil {
			return nil, err
		}
		pk := "S#" + ref.scope
		cur, err := s.readScope(ctx, pk)
		if err != nil {
			return nil, err
		}
		var inc *incident.Incident
		for _, a := range cur.active {
			if a.ID == id {
				inc = a
			}
		}
		if inc == nil {
			// Not active: the resolved record is final, but may still gain timeline entries.
			if ref.data == nil {
				return nil, fmt.Errorf("incident %s has neither an active nor a resolved record: %w", id, incident.ErrNotFound)
			}
			inc = ref.data
			changed, err := fn(inc)
			if err != nil || !changed {
				return inc, err
			}
			if inc.State.Active() {
				return nil, fmt.Errorf("incident %s: a resolved incident cannot reopen: %w", id, incident.ErrConflict)
			}
			if err := s.putResolvedIfVersion(ctx, inc); errors.Is(err, incident.ErrConflict) {
				continue
			} else if err != nil {
				return nil, err
			}
			return inc, nil
		}
		changed, err := fn(inc)
		if err != nil || !changed {
			return inc, err
		}
		inc.Version++
		if !inc.State.Active() {
			if err := s.putIncident(ctx, inc); err != nil {
				return nil, err
			}
		}
		var active []*incident.Incident
		for _, a := range cur.active {
			if a.ID == id {
				a = inc
			}
			if a.State.Active() {
				active = append(active, a)
			}
		}
		err = s.writeScope(ctx, pk, ref.scope, cur, active, cur.recent)
		if errors.Is(err, incident.ErrConflict) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return inc, nil
	}
	return nil, fmt.Errorf("incident %s: %w", id, incident.ErrConflict)
}

// putResolvedIfVersion rewrites a resolved incident's record if nobody changed it meanwhile.
func (s *Store) putResolvedIfVersion(ctx context.Context, inc *incident.Incident) error {
	prev := inc.Version
	inc.Version++
	item, err := s.incidentItem(inc)
	if err != nil {
		return err
	}
	expr, err := expression.NewBuilder().WithCondition(expression.Name("v").Equal(expression.Value(prev))).Build()
	if err != nil {
		return err
	}
	_, err = s.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: item, ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values()})
	if isConditionFailed(err) {
		return fmt.Errorf("incident %s: %w", inc.ID, incident.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("write incident %s: %w", inc.ID, err)
	}
	s.writes.Add(1)
	return nil
}

type incidentRef struct {
	scope string
	data  *incident.Incident // set once resolved
}

func (s *Store) readIncident(ctx context.Context, id string) (incidentRef, error) {
	out, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: key("I#"+id, "I"), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return incidentRef{}, fmt.Errorf("read incident %s: %w", id, err)
	}
	if out.Item == nil {
		return incidentRef{}, fmt.Errorf("incident %s: %w", id, incident.ErrNotFound)
	}
	ref := incidentRef{scope: attrS(out.Item, "scope")}
	if b, ok := out.Item["data"].(*types.AttributeValueMemberB); ok {
		var inc incident.Incident
		if err := unzipJSON(b.Value, &inc); err != nil {
			return incidentRef{}, fmt.Errorf("decode incident %s: %w", id, err)
		}
		ref.data = &inc
	}
	return ref, nil
}

// Get implements incident.Store. The scope item is the truth for an active incident; the
// incident's own record for a resolved one.
func (s *Store) Get(ctx context.Context, id string) (*incident.Incident, error) {
	ref, err := s.readIncident(ctx, id)
	if err != nil {
		return nil, err
	}
	cur, err := s.readScope(ctx, "S#"+ref.scope)
	if err != nil {
		return nil, err
	}
	for _, a := range cur.active {
		if a.ID == id {
			return a, nil
		}
	}
	if ref.data != nil {
		return ref.data, nil
	}
	return nil, fmt.Errorf("incident %s: %w", id, incident.ErrNotFound)
}

// List implements incident.Store, through the sparse index.
func (s *Store) List(ctx context.Context, f incident.Filter) ([]*incident.Incident, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	var out []*incident.Incident
	if f.Active {
		err := s.query(ctx, "ACTIVE", true, func(item map[string]types.AttributeValue) bool {
			b, ok := item["active"].(*types.AttributeValueMemberB)
			if !ok {
				return true
			}
			var incs []*incident.Incident
			if unzipJSON(b.Value, &incs) == nil {
				for _, inc := range incs {
					if !inc.OpenedAt.Before(f.Since) {
						out = append(out, inc)
					}
				}
			}
			return true
		})
		if f.Before != "" {
			out = slices.DeleteFunc(out, func(inc *incident.Incident) bool { return inc.ID >= f.Before })
		}
		slices.SortFunc(out, func(a, b *incident.Incident) int { return -strings.Compare(a.ID, b.ID) })
		if len(out) > limit {
			out = out[:limit]
		}
		return out, err
	}
	err := s.queryBefore(ctx, "INC", f.Before, func(item map[string]types.AttributeValue) bool {
		id := attrS(item, "gsi1sk")
		var inc *incident.Incident
		if b, ok := item["data"].(*types.AttributeValueMemberB); ok {
			inc = &incident.Incident{}
			if unzipJSON(b.Value, inc) != nil {
				return true
			}
		} else if got, err := s.Get(ctx, id); err == nil {
			inc = got
		} else {
			return true
		}
		if inc.OpenedAt.Before(f.Since) {
			return false // newest first: every further one is older
		}
		out = append(out, inc)
		return len(out) < limit
	})
	return out, err
}

func (s *Store) query(ctx context.Context, partition string, forward bool, each func(map[string]types.AttributeValue) bool) error {
	return s.queryKeys(ctx, expression.Key("gsi1pk").Equal(expression.Value(partition)), forward, each)
}

// queryBefore walks a partition of the index newest first, from the sort key before (all when "").
func (s *Store) queryBefore(ctx context.Context, partition, before string, each func(map[string]types.AttributeValue) bool) error {
	kc := expression.Key("gsi1pk").Equal(expression.Value(partition))
	if before != "" {
		kc = kc.And(expression.Key("gsi1sk").LessThan(expression.Value(before)))
	}
	return s.queryKeys(ctx, kc, false, each)
}

func (s *Store) queryKeys(ctx context.Context, kc expression.KeyConditionBuilder, forward bool, each func(map[string]types.AttributeValue) bool) error {
	expr, err := expression.NewBuilder().WithKeyCondition(kc).Build()
	if err != nil {
		return err
	}
	in := &dynamodb.QueryInput{TableName: &s.table, IndexName: aws.String(GSI), KeyConditionExpression: expr.KeyCondition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(), ScanIndexForward: aws.Bool(forward)}
	for {
		out, err := s.api.Query(ctx, in)
		if err != nil {
			return fmt.Errorf("query index: %w", err)
		}
		for _, item := range out.Items {
			if !each(item) {
				return nil
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			return nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

func attrS(item map[string]types.AttributeValue, name string) string {
	if v, ok := item[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func attrN(item map[string]types.AttributeValue, name string) int64 {
	if v, ok := item[name].(*types.AttributeValueMemberN); ok {
		n, _ := strconv.ParseInt(v.Value, 10, 64)
		return n
	}
	return 0
}

// backoff waits before the attempt-th try of a write a concurrent writer got in first: a random
// time up to 10 ms doubled per attempt (at most 320 ms, a few round trips), so handlers of one scope spread out
// instead of reading and failing in lockstep (full jitter, as the AWS SDK's retryer does).
func backoff(ctx context.Context, attempt int) error {
	ceiling := min(10*time.Millisecond<<min(attempt-1, 10), 320*time.Millisecond)
	t := time.NewTimer(rand.N(ceiling) + time.Millisecond/2)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func isConditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// Incidents are stored gzipped: a DynamoDB item holds at most 400 KB, and timelines compress well.
func zipJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(v); err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func unzipJSON(b []byte, v any) error {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return err
	}
	defer zr.Close()
	raw, err := io.ReadAll(zr)
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, v)
}

// CreateTable creates the table with the layout above (tests, and the shape Terraform declares).
func CreateTable(ctx context.Context, api interface {
	CreateTable(context.Context, *dynamodb.CreateTableInput, ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
}, table string) error {
	_, err := api.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:   &table,
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("sk"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("gsi1pk"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("gsi1sk"), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String("sk"), KeyType: types.KeyTypeRange},
		},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
			IndexName: aws.String(GSI),
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String("gsi1pk"), KeyType: types.KeyTypeHash},
				{AttributeName: aws.String("gsi1sk"), KeyType: types.KeyTypeRange},
			},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		}},
	})
	if err != nil {
		return fmt.Errorf("create table %s: %w", table, err)
	}
	return nil
}

// PutSilence implements incident.Store.
func (s *Store) PutSilence(ctx context.Context, sil incident.Silence) error {
	item := key("Q#"+sil.Scope.Key(), "Q")
	item["data"] = str(mustJSON(sil))
	item["until"] = num(sil.Until.Unix())
	item["ttl"] = num(sil.Until.Add(24 * time.Hour).Unix())
	item["gsi1pk"], item["gsi1sk"] = str("SILENCE"), str(sil.Scope.Key())
	if _, err := s.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: item}); err != nil {
		return fmt.Errorf("write silence %s: %w", sil.Scope.Key(), err)
	}
	return nil
}

// Silences implements incident.Store. Expiry is checked here, not left to TTL.
func (s *Store) Silences(ctx context.Context, now time.Time) ([]incident.Silence, error) {
	var out []incident.Silence
	err := s.query(ctx, "SILENCE", true, func(item map[string]types.AttributeValue) bool {
		var sil incident.Silence
		if json.Unmarshal([]byte(attrS(item, "data")), &sil) == nil && sil.Until.After(now) {
			out = append(out, sil)
		}
		return true
	})
	return out, err
}

// Guard implements incident.Store with one consistent read.
func (s *Store) Guard(ctx context.Context, scope incident.Scope) (incident.Guard, error) {
	out, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: key("G#"+scope.Key(), "G"), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return incident.Guard{}, fmt.Errorf("read guard %s: %w", scope.Key(), err)
	}
	var g incident.Guard
	if out.Item != nil {
		if err := json.Unmarshal([]byte(attrS(out.Item, "data")), &g); err != nil {
			return incident.Guard{}, fmt.Errorf("decode guard %s: %w", scope.Key(), err)
		}
	}
	return g, nil
}

// UpdateGuard implements incident.Store with optimistic locking on the guard's version.
func (s *Store) UpdateGuard(ctx context.Context, scope incident.Scope, fn func(*incident.Guard) error) (incident.Guard, error) {
	for range maxAttempts {
		out, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: key("G#"+scope.Key(), "G"), ConsistentRead: aws.Bool(true)})
		if err != nil {
			return incident.Guard{}, fmt.Errorf("read guard %s: %w", scope.Key(), err)
		}
		var g incident.Guard
		exists := out.Item != nil
		if exists {
			if err := json.Unmarshal([]byte(attrS(out.Item, "data")), &g); err != nil {
				return incident.Guard{}, fmt.Errorf("decode guard %s: %w", scope.Key(), err)
			}
		}
		prev := g.Version
		if err := fn(&g); err != nil {
			return g, err
		}
		g.Version = prev + 1
		item := key("G#"+scope.Key(), "G")
		item["data"] = str(mustJSON(g))
		item["v"] = num(g.Version)
		cond := expression.AttributeNotExists(expression.Name("pk"))
		if exists {
			cond = expression.Name("v").Equal(expression.Value(prev))
		}
		err = s.putIf(ctx, item, cond)
		if isConditionFailed(err) {
			continue
		}
		if err != nil {
			return g, fmt.Errorf("write guard %s: %w", scope.Key(), err)
		}
		return g, nil
	}
	return incident.Guard{}, fmt.Errorf("guard %s: %w", scope.Key(), incident.ErrConflict)
}

// putIf writes item when cond holds; a refused condition is the SDK's
// ConditionalCheckFailedException (isConditionFailed), left to the caller to word.
func (s *Store) putIf(ctx context.Context, item map[string]types.AttributeValue, cond expression.ConditionBuilder) error {
	expr, err := expression.NewBuilder().WithCondition(cond).Build()
	if err != nil {
		return fmt.Errorf("build condition: %w", err)
	}
	_, err = s.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: item,
		ConditionExpression: expr.Condition(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values()})
	return err
}

// Remember implements incident.Store with one conditional write: the key is taken only if it is
// absent or expired (TTL deletion is lazy, so expiry is checked in the condition).
func (s *Store) Remember(ctx context.Context, k string, until time.Time) error {
	item := key("R#"+k, "R")
	item["exp"] = num(until.Unix())
	item["ttl"] = num(until.Add(time.Hour).Unix())
	cond := expression.AttributeNotExists(expression.Name("pk")).
		Or(expression.Name("exp").LessThanEqual(expression.Value(s.now().Unix())))
	err := s.putIf(ctx, item, cond)
	if isConditionFailed(err) {
		return fmt.Errorf("%s: %w", k, incident.ErrDuplicate)
	}
	if err != nil {
		return fmt.Errorf("remember %s: %w", k, err)
	}
	return nil
}
