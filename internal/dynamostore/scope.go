package dynamostore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ecs-medic/ecs-medic/internal/incident"
)

func scopePK(scope incident.Scope) string { return "S#" + scope.Key() }

// scopeItem is a decoded scope item, with the occurrence items of its scope (by incident id)
// when the store writes occurrences apart.
type scopeItem struct {
	exists  bool
	version int64
	active  []*incident.Incident
	recent  []string
	occ     map[string]*occItem
}

// readScope reads a scope item and, when occurrences are written apart, the scope's occurrence
// items with it: one consistent Query of the scope's partition.
func (s *Store) readScope(ctx context.Context, pk string) (scopeItem, error) {
	if !s.occurrenceWrites {
		out, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: key(pk, "S"), ConsistentRead: aws.Bool(true)})
		if err != nil {
			return scopeItem{}, fmt.Errorf("read scope %s: %w", pk, err)
		}
		if out.Item == nil {
			return scopeItem{}, nil
		}
		return decodeScope(pk, out.Item)
	}
	it := scopeItem{occ: map[string]*occItem{}}
	var derr error
	err := s.queryTable(ctx, expression.Key("pk").Equal(expression.Value(pk)), func(item map[string]types.AttributeValue) {
		switch sk := attrS(item, "sk"); {
		case sk == "S":
			occ := it.occ
			it, derr = decodeScope(pk, item)
			it.occ = occ
		case strings.HasPrefix(sk, "O#"):
			it.occ[strings.TrimPrefix(sk, "O#")] = decodeOcc(item)
		}
	})
	if err != nil {
		return scopeItem{}, fmt.Errorf("read scope %s: %w", pk, err)
	}
	return it, derr
}

func decodeScope(pk string, item map[string]types.AttributeValue) (scopeItem, error) {
	it := scopeItem{exists: true}
	if n, ok := item["v"].(*types.AttributeValueMemberN); ok {
		it.version, _ = strconv.ParseInt(n.Value, 10, 64)
	}
	if b, ok := item["active"].(*types.AttributeValueMemberB); ok {
		if err := unzipJSON(b.Value, &it.active); err != nil {
			return scopeItem{}, fmt.Errorf("decode scope %s: %w", pk, err)
		}
	}
	if l, ok := item["recent"].(*types.AttributeValueMemberL); ok {
		for _, v := range l.Value {
			if sv, ok := v.(*types.AttributeValueMemberS); ok {
				it.recent = append(it.recent, sv.Value)
			}
		}
	}
	return it, nil
}

// view is the scope's active incidents as callers see them: each with its occurrence item added.
func (it scopeItem) view() []*incident.Incident {
	out := make([]*incident.Incident, len(it.active))
	for i, inc := range it.active {
		out[i] = withOccurrences(inc, it.occ[inc.ID], inc.Version)
	}
	return out
}

// applied returns the first of marks the scope already applied: listed in the scope item, or in
// the ring of one of its occurrence items ("" when none).
func (it scopeItem) applied(marks, hashes []string, now time.Time) string {
	for i, m := range marks {
		if recentlyApplied(it.recent, m, now) {
			return m
		}
		for _, o := range it.occ {
			if o.holds(hashes[i]) {
				return m
			}
		}
	}
	return ""
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
