package dynamostore

import (
	"context"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Stats is what the store asked of DynamoDB: requests by kind, the capacity units DynamoDB
// reported consuming (every request asks for ReturnConsumedCapacity), and how many conditional
// writes were refused, the measure of handlers contending for the same items.
type Stats struct {
	Reads, Writes, Queries int64
	// ReadUnits and WriteUnits are the capacity units DynamoDB said the requests consumed.
	ReadUnits, WriteUnits float64
	// ConditionFailures counts conditional writes DynamoDB refused (ConditionalCheckFailed).
	ConditionFailures int64
}

// Stats returns what the store has asked of DynamoDB so far.
func (s *Store) Stats() Stats {
	s.stats.mu.Lock()
	defer s.stats.mu.Unlock()
	return s.stats.Stats
}

// counted wraps the API: it asks for the consumed capacity on every request and adds it up.
type counted struct {
	api API
	mu  sync.Mutex
	Stats
}

func (c *counted) add(reads, writes, queries int64, cc *types.ConsumedCapacity, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.Reads += reads
	c.Writes += writes
	c.Queries += queries
	if cc != nil {
		if cc.ReadCapacityUnits != nil {
			c.ReadUnits += *cc.ReadCapacityUnits
		}
		if cc.WriteCapacityUnits != nil {
			c.WriteUnits += *cc.WriteCapacityUnits
		}
		if cc.ReadCapacityUnits == nil && cc.WriteCapacityUnits == nil && cc.CapacityUnits != nil {
			if writes > 0 {
				c.WriteUnits += *cc.CapacityUnits
			} else {
				c.ReadUnits += *cc.CapacityUnits
			}
		}
	}
	if isConditionFailed(err) {
		c.ConditionFailures++
	}
}

func (c *counted) GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	in.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	out, err := c.api.GetItem(ctx, in, optFns...)
	var cc *types.ConsumedCapacity
	if out != nil {
		cc = out.ConsumedCapacity
	}
	c.add(1, 0, 0, cc, err)
	return out, err
}

func (c *counted) PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	in.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	out, err := c.api.PutItem(ctx, in, optFns...)
	var cc *types.ConsumedCapacity
	if out != nil {
		cc = out.ConsumedCapacity
	}
	c.add(0, 1, 0, cc, err)
	return out, err
}

func (c *counted) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	in.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	out, err := c.api.UpdateItem(ctx, in, optFns...)
	var cc *types.ConsumedCapacity
	if out != nil {
		cc = out.ConsumedCapacity
	}
	c.add(0, 1, 0, cc, err)
	return out, err
}

func (c *counted) Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	in.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	out, err := c.api.Query(ctx, in, optFns...)
	var cc *types.ConsumedCapacity
	if out != nil {
		cc = out.ConsumedCapacity
	}
	c.add(0, 0, 1, cc, err)
	return out, err
}
