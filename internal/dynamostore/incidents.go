package dynamostore

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ecs-medic/ecs-medic/internal/incident"
)

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
		o := cur.occ[id]
		blob := inc
		inc = withOccurrences(blob, o, blob.Version)
		changed, err := fn(inc)
		if err != nil || !changed {
			return inc, err
		}
		prev := inc.Version
		inc.Version++
		blob = withoutOccurrences(inc, o)
		blob.Version = inc.Version
		if s.occurrenceWrites {
			// Occurrences decided on the version this write replaces are refused from now on.
			o, err := s.fence(ctx, pk, id, inc.Version, !inc.State.Active(), nil)
			if err != nil {
				return nil, err
			}
			if !inc.State.Active() {
				*inc = *withOccurrences(blob, o, prev)
			}
		}
		if !inc.State.Active() {
			if err := s.putIncident(ctx, inc); err != nil {
				return nil, err
			}
		}
		var active []*incident.Incident
		for _, a := range cur.active {
			if a.ID == id {
				a = blob
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

// Get implements incident.Store. The scope item (with the incident's occurrence item) is the
// truth for an active incident; the incident's own record for a resolved one.
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
			return withOccurrences(a, cur.occ[id], a.Version), nil
		}
	}
	if ref.data != nil {
		return ref.data, nil
	}
	return nil, fmt.Errorf("incident %s: %w", id, incident.ErrNotFound)
}
