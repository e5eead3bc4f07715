package dynamostore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ecs-medic/ecs-medic/internal/classify"
	"github.com/ecs-medic/ecs-medic/internal/dynamostore"
	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/incident/incidenttest"
	"github.com/ecs-medic/ecs-medic/internal/severity"
	"github.com/ecs-medic/ecs-medic/internal/testing/dynalite"
)

// The scope item lists the marks of the events it applied (a DynamoDB item holds at most 400 KB):
// the newest 256, whatever the events carried. The older ones stay duplicates through their own
// mark items.
func TestScopeItemKeepsTheNewest256Marks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := newClock()
	table := newTable(t)
	c := dynalite.Client(server.URL, 3)
	st := dynamostore.New(c, table, dynamostore.WithClock(clk.Now))
	m := incident.NewManager(st, incident.WithClock(clk.Now))
	first := incidenttest.Failure(classify.OOMKilled, 0, severity.P3)
	out, err := m.Apply(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	id, all := out.Incident.ID, first.Marks
	for call := range 3 {
		marks := make([]string, 90)
		for i := range marks {
			marks[i] = fmt.Sprintf("test#%d-%d", call, i)
		}
		all = append(all, marks...)
		err := st.Update(ctx, incidenttest.Scope, marks, func(active []*incident.Incident) ([]*incident.Incident, error) {
			if len(active) != 1 {
				return nil, fmt.Errorf("%d active", len(active))
			}
			inc := active[0]
			inc.Title = fmt.Sprintf("call %d", call)
			return []*incident.Incident{inc}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if got, err := st.Get(ctx, id); err != nil || got.Title != "call 2" {
		t.Fatalf("%+v %v", got, err)
	}
	l, ok := rawItem(t, c, table, "S#"+incidenttest.Scope.Key(), "S")["recent"].(*types.AttributeValueMemberL)
	if !ok || len(l.Value) != 256 {
		t.Fatalf("the scope item lists %v marks, want 256", l)
	}
	for i, v := range l.Value {
		want := all[len(all)-256+i]
		if s := v.(*types.AttributeValueMemberS).Value; len(s) < len(want) || s[len(s)-len(want):] != want {
			t.Fatalf("mark %d listed %q, want %q", i, s, want)
		}
	}
	// The first mark, out of the list, is still recognised.
	err = st.Update(ctx, incidenttest.Scope, all[:1], func(active []*incident.Incident) ([]*incident.Incident, error) {
		return active, nil
	})
	if !errors.Is(err, incident.ErrDuplicate) {
		t.Fatalf("a mark out of the scope item's list again: %v", err)
	}
}

// The store that claims every event's marks first (WithReadRewrite) meets a redelivered event at
// its claim: one whose marks are done is a duplicate there, also when it changed nothing the
// first time (and so is in no scope item's list) and would change something now.
func TestReadRewriteRedeliveryOfAnEventThatChangedNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := newClock()
	table := newTable(t)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := &waiting{API: dynalite.Client(server.URL, 3), cancel: cancel}
	st := dynamostore.New(w, table, dynamostore.WithClock(clk.Now), dynamostore.WithReadRewrite())
	m := incident.NewManager(st, incident.WithClock(clk.Now))
	ok := incident.Signal{Kind: incident.Recover, EventID: "ok-1", Time: clk.Now(), Scope: incidenttest.Scope, Cause: classify.OOMKilled,
		Marks: []string{"evt#ok-1"}, Message: "back to normal"}
	if out, err := m.Apply(wctx, ok); err != nil || out.Incident != nil || out.Duplicate {
		t.Fatalf("a recovery with no incident: %+v %v", out, err)
	}
	clk.Advance(time.Minute)
	opened, err := m.Apply(wctx, incidenttest.Failure(classify.OOMKilled, 1, severity.P2))
	if err != nil || !opened.Opened {
		t.Fatalf("%+v %v", opened, err)
	}
	if out, err := m.Apply(wctx, ok); err != nil || !out.Duplicate || out.Resolved {
		t.Fatalf("the redelivered recovery: %+v %v", out, err)
	}
	if got, err := st.Get(ctx, opened.Incident.ID); err != nil || got.State != incident.Open {
		t.Fatalf("the incident after the redelivered recovery: %+v %v", got, err)
	}
}
