package dynamostore

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"

	"github.com/ecs-medic/ecs-medic/internal/incident"
)

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
