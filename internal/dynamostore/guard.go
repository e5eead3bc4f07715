package dynamostore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/ecs-medic/ecs-medic/internal/incident"
)

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
