package dynamostore

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ecs-medic/ecs-medic/internal/incident"
)

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

// seen reads the event's marks before an occurrence is counted: ErrDuplicate when one is done and
// unexpired (the event's other marks are then written done too, as a claim does, so that its
// other identities are recognised next time), held when another handler has claimed one and its
// lease runs.
func (s *Store) seen(ctx context.Context, marks []string) (held bool, err error) {
	now := s.now().Unix()
	var free []string
	dup := ""
	for _, m := range marks {
		out, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: key("M#"+m, "M"), ConsistentRead: aws.Bool(true)})
		if err != nil {
			return false, fmt.Errorf("read mark %s: %w", m, err)
		}
		switch {
		case out.Item == nil || attrN(out.Item, "exp") <= now:
			free = append(free, m)
		case attrS(out.Item, "status") == "done":
			if dup == "" {
				dup = m
			}
		case attrN(out.Item, "lease") > now:
			held = true
		default:
			free = append(free, m)
		}
	}
	if dup != "" {
		s.done(ctx, free, nil)
		return false, fmt.Errorf("mark %s: %w", dup, incident.ErrDuplicate)
	}
	return held, nil
}

// done records an applied event's marks: the claimed ones are marked done, unclaimed ones (an
// occurrence counted without claiming) are written done. A failure here is harmless for a while:
// the scope item or the occurrence item remembers them. (One PutItem per mark, not a batch: every
// function's role grants PutItem, and the two cost the same capacity.)
func (s *Store) done(ctx context.Context, marks, claimed []string) {
	if claimed != nil || len(marks) == 0 {
		s.finish(ctx, claimed)
		return
	}
	now := s.now()
	for _, m := range marks {
		item := key("M#"+m, "M")
		item["status"] = str("done")
		item["lease"] = num(0)
		item["exp"] = num(now.Add(MarkTTL).Unix())
		item["ttl"] = num(now.Add(MarkTTL + 24*time.Hour).Unix())
		_, _ = s.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: item})
	}
}
