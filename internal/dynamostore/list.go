package dynamostore

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ecs-medic/ecs-medic/internal/incident"
)

// List implements incident.Incidents, through the sparse index: every part of f is applied
// before the limit (f.Match).
func (s *Store) List(ctx context.Context, f incident.Filter) ([]*incident.Incident, error) {
	limit := f.Max()
	var out []*incident.Incident
	if f.ActiveOnly() {
		var occErr error
		err := s.query(ctx, "ACTIVE", true, func(item map[string]types.AttributeValue) bool {
			b, ok := item["active"].(*types.AttributeValueMemberB)
			if !ok {
				return true
			}
			var incs []*incident.Incident
			if unzipJSON(b.Value, &incs) != nil {
				return true
			}
			var occ map[string]*occItem
			if s.occurrenceWrites {
				if occ, occErr = s.readOccurrences(ctx, attrS(item, "pk")); occErr != nil {
					return false
				}
			}
			for _, inc := range incs {
				if f.Match(inc) {
					out = append(out, withOccurrences(inc, occ[inc.ID], inc.Version))
				}
			}
			return true
		})
		if err == nil {
			err = occErr
		}
		slices.SortFunc(out, func(a, b *incident.Incident) int { return -strings.Compare(a.ID, b.ID) })
		return out[:min(len(out), limit)], err
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
		if f.Match(inc) {
			out = append(out, inc)
		}
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
