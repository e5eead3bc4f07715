package dynamostore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ecs-medic/ecs-medic/internal/incident"
)

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
