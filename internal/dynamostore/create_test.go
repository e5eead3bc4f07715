package dynamostore_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ecs-medic/ecs-medic/internal/classify"
	"github.com/ecs-medic/ecs-medic/internal/dynamostore"
	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/incident/incidenttest"
	"github.com/ecs-medic/ecs-medic/internal/severity"
	"github.com/ecs-medic/ecs-medic/internal/testing/dynalite"
)

// racedAPI runs race once, just before the first write of an item whose key starts with prefix
// goes to the table: another handler's write lands between this handler's read and its
// conditional write.
type racedAPI struct {
	dynamostore.API
	prefix string
	race   func()
	done   atomic.Bool
}

func (r *racedAPI) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	if pk, ok := in.Item["pk"].(*types.AttributeValueMemberS); ok && strings.HasPrefix(pk.Value, r.prefix) && !r.done.Swap(true) {
		r.race()
	}
	return r.API.PutItem(ctx, in, opts...)
}

// A handler whose scope write loses a race reads the scope again and redoes its change; the
// incident item it wrote for a new incident is its own, so creating the same id again is not
// refused as an id in use (ids are made per attempt, and an injected generator gives the same
// one each time).
func TestRetriedCreateKeepsItsOwnID(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	table := newTable(t)
	clk := newClock()
	other := incident.NewManager(dynamostore.New(dynalite.Client(server.URL, 3), table, dynamostore.WithClock(clk.Now)), incident.WithClock(clk.Now))
	api := &racedAPI{API: dynalite.Client(server.URL, 3), prefix: "S#"}
	api.race = func() {
		if _, err := other.Apply(ctx, incidenttest.Failure(classify.EssentialExit, 1, severity.P2)); err != nil {
			t.Error(err)
		}
	}
	st := dynamostore.New(api, table, dynamostore.WithClock(clk.Now))
	m := incident.NewManager(st, incident.WithClock(clk.Now), incident.WithIDs(func(time.Time) string { return "inc-0000000000001" }))
	out, err := m.Apply(ctx, incidenttest.Failure(classify.OOMKilled, 2, severity.P2))
	if err != nil || !out.Opened || out.Incident.ID != "inc-0000000000001" {
		t.Fatalf("the retried create: %+v %v", out, err)
	}
	if !api.done.Load() {
		t.Fatal("the race never ran")
	}
	active, err := st.List(ctx, incident.Filter{Active: true})
	if err != nil || len(active) != 2 {
		t.Fatalf("active after the race: %d %v", len(active), err)
	}
	if got, err := st.Get(ctx, "inc-0000000000001"); err != nil || got.Cause != classify.OOMKilled || got.State != incident.Open {
		t.Fatalf("the created incident: %+v %v", got, err)
	}
}

// A resolved incident still gains timeline entries (deliveries, notes); two handlers adding one
// at once both keep theirs: the rewrite of the resolved record is conditional on the version
// read, and the one that loses reads it again.
func TestResolvedRecordIsNotOverwrittenByAStaleCopy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	table := newTable(t)
	clk := newClock()
	other := incident.NewManager(dynamostore.New(dynalite.Client(server.URL, 3), table, dynamostore.WithClock(clk.Now)), incident.WithClock(clk.Now))
	out, err := other.Apply(ctx, incidenttest.Failure(classify.OOMKilled, 1, severity.P2))
	if err != nil {
		t.Fatal(err)
	}
	id := out.Incident.ID
	if _, _, err := other.Resolve(ctx, id, "alice", "fixed"); err != nil {
		t.Fatal(err)
	}
	api := &racedAPI{API: dynalite.Client(server.URL, 3), prefix: "I#" + id}
	api.race = func() {
		if _, err := other.Record(ctx, id, incident.Entry{Actor: "bob", Kind: "note", Message: "first"}); err != nil {
			t.Error(err)
		}
	}
	st := dynamostore.New(api, table, dynamostore.WithClock(clk.Now))
	m := incident.NewManager(st, incident.WithClock(clk.Now))
	if _, err := m.Record(ctx, id, incident.Entry{Actor: "carol", Kind: "note", Message: "second"}); err != nil {
		t.Fatal(err)
	}
	if !api.done.Load() {
		t.Fatal("the race never ran")
	}
	got, err := st.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var notes []string
	for _, e := range got.Timeline {
		if e.Kind == "note" {
			notes = append(notes, e.Message)
		}
	}
	if got.State != incident.Resolved || len(notes) != 2 {
		t.Fatalf("after two notes at once on a resolved incident: %s, notes %q", got.State, notes)
	}
}
