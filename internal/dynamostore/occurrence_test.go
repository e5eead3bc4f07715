package dynamostore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ecs-medic/ecs-medic/internal/classify"
	"github.com/ecs-medic/ecs-medic/internal/dynamostore"
	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/incident/incidenttest"
	"github.com/ecs-medic/ecs-medic/internal/servicestate"
	"github.com/ecs-medic/ecs-medic/internal/severity"
	"github.com/ecs-medic/ecs-medic/internal/testing/dynalite"
)

// hooked is the DynamoDB client with a hook run before each occurrence write (the UpdateItem that
// ADDs to an occurrence count), and writes of done marks optionally dropped (a handler killed
// right after counting, before its marks are recorded).
type hooked struct {
	*dynamodb.Client
	mu          sync.Mutex
	beforeCount func()
	dropMarks   bool
}

func (h *hooked) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if strings.HasPrefix(aws.ToString(in.UpdateExpression), "ADD") {
		h.mu.Lock()
		f := h.beforeCount
		h.beforeCount = nil
		h.mu.Unlock()
		if f != nil {
			f()
		}
	}
	return h.Client.UpdateItem(ctx, in, o...)
}

func (h *hooked) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	if h.dropMarks && strings.HasPrefix(in.Item["pk"].(*types.AttributeValueMemberS).Value, "M#") {
		return nil, errors.New("killed")
	}
	return h.Client.PutItem(ctx, in, o...)
}

// twoHandlers are two stores on one table: the hooked one under test, and a plain one playing a
// concurrent handler.
func twoHandlers(t *testing.T) (*hooked, *incident.Manager, *dynamostore.Store, *incident.Manager, *incidenttest.Clock, *dynamodb.Client, string) {
	t.Helper()
	clk := newClock()
	table := newTable(t)
	c := dynalite.Client(server.URL, 3)
	h := &hooked{Client: c}
	st := dynamostore.New(h, table, dynamostore.WithClock(clk.Now))
	other := incident.NewManager(dynamostore.New(c, table, dynamostore.WithClock(clk.Now)), incident.WithClock(clk.Now))
	return h, incident.NewManager(st, incident.WithClock(clk.Now)), st, other, clk, c, table
}

func occurrenceItem(t *testing.T, c *dynamodb.Client, table string, id string) map[string]types.AttributeValue {
	t.Helper()
	out, err := c.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: &table, ConsistentRead: aws.Bool(true), Key: map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "S#" + incidenttest.Scope.Key()}, "sk": &types.AttributeValueMemberS{Value: "O#" + id}}})
	if err != nil {
		t.Fatal(err)
	}
	return out.Item
}

// 32 handlers counting occurrences of one open incident at once: every one counted, each with one
// occurrence write and one batch of marks, none refused.
func TestOccurrencesCountExactlyUnder32Writers(t *testing.T) {
	t.Parallel()
	_, m, st, _, _, c, table := twoHandlers(t)
	ctx := context.Background()
	first, err := m.Apply(ctx, incidenttest.Failure(classify.OOMKilled, 0, severity.P1))
	if err != nil || !first.Opened {
		t.Fatalf("%+v %v", first, err)
	}
	before := st.Stats()
	var wg sync.WaitGroup
	for i := 1; i <= 32; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := m.Apply(ctx, incidenttest.Failure(classify.OOMKilled, i, severity.P1))
			if err != nil || out.Opened || out.Duplicate || out.Incident.ID != first.Incident.ID {
				t.Errorf("event %d: %+v %v", i, out, err)
			}
		}()
	}
	wg.Wait()
	after := st.Stats()
	got, err := st.Get(ctx, first.Incident.ID)
	if err != nil || got.Occurrences.Count != 33 {
		t.Fatalf("count %d, want 33 (%v)", got.Occurrences.Count, err)
	}
	if w, refused := after.Writes-before.Writes, after.ConditionFailures-before.ConditionFailures; w != 96 || refused != 0 {
		t.Fatalf("32 occurrences: %d write requests (want 96: one count and two marks each), %d refused (want 0)", w, refused)
	}
	if n := len(got.Occurrences.Tasks); n == 0 || n > incident.MaxSampleTasks {
		t.Fatalf("sample of %d tasks", n)
	}
	// The occurrence item stays small: a ring of 12 slots, and the marks of the last 12 to 24
	// events plus those of the handlers that read the same count at once.
	if marks, slots := ringOf(t, c, table, first.Incident.ID); marks > 2*(2*12+32) || slots > 12 {
		t.Fatalf("occurrence item holds %d marks and %d slots", marks, slots)
	}
}

// ringOf counts the marks and the sample slots an occurrence item holds.
func ringOf(t *testing.T, c *dynamodb.Client, table, id string) (marks, slots int) {
	t.Helper()
	for name := range occurrenceItem(t, c, table, id) {
		switch {
		case len(name) == 13 && name[0] == 'm':
			marks++
		case len(name) <= 3 && name[0] == 'r':
			slots++
		}
	}
	return marks, slots
}

// One after another, the sample is exactly the last 10 tasks, newest last, and the item does not
// grow with the storm.
func TestOccurrenceSampleIsTheLastTasks(t *testing.T) {
	t.Parallel()
	_, m, st, _, _, c, table := twoHandlers(t)
	ctx := context.Background()
	var id string
	for i := range 60 {
		out, err := m.Apply(ctx, incidenttest.Failure(classify.OOMKilled, i, severity.P2))
		if err != nil {
			t.Fatal(err)
		}
		id = out.Incident.ID
	}
	got, err := st.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := 50; i < 60; i++ {
		want = append(want, fmt.Sprintf("%032d", i))
	}
	if got.Occurrences.Count != 60 || !slices.Equal(got.Occurrences.Tasks, want) {
		t.Fatalf("count %d, tasks %v", got.Occurrences.Count, got.Occurrences.Tasks)
	}
	if !got.Occurrences.LastSeen.Equal(time.Unix(1700000059, 0)) || !got.Occurrences.FirstSeen.Equal(time.Unix(1700000000, 0)) {
		t.Fatalf("seen %v .. %v", got.Occurrences.FirstSeen, got.Occurrences.LastSeen)
	}
	if marks, slots := ringOf(t, c, table, id); marks > 2*2*12 || slots != 12 {
		t.Fatalf("after 60 events the occurrence item holds %d marks and %d slots", marks, slots)
	}
}

// A handler killed after counting and before recording its marks: the redelivery is refused by the
// occurrence item itself, under either of its marks.
func TestRedeliveryAfterAKillIsNotCountedTwice(t *testing.T) {
	t.Parallel()
	h, m, st, _, _, _, _ := twoHandlers(t)
	ctx := context.Background()
	first, err := m.Apply(ctx, incidenttest.Failure(classify.OOMKilled, 0, severity.P2))
	if err != nil {
		t.Fatal(err)
	}
	sig := incidenttest.Failure(classify.OOMKilled, 1, severity.P2)
	h.dropMarks = true
	if out, err := m.Apply(ctx, sig); err != nil || out.Duplicate {
		t.Fatalf("%+v %v", out, err)
	}
	h.dropMarks = false
	if out, err := m.Apply(ctx, sig); err != nil || !out.Duplicate {
		t.Fatalf("redelivery: %+v %v", out, err)
	}
	again := sig
	again.EventID, again.Marks = "evt-other", []string{"evt#evt-other", sig.Marks[1]}
	if out, err := m.Apply(ctx, again); err != nil || !out.Duplicate {
		t.Fatalf("same task under another event id: %+v %v", out, err)
	}
	got, _ := st.Get(ctx, first.Incident.ID)
	if got.Occurrences.Count != 2 {
		t.Fatalf("count %d, want 2", got.Occurrences.Count)
	}
}

// The same event from 16 handlers while its incident is open: counted once.
func TestSameEventOn16HandlersCountsOnce(t *testing.T) {
	t.Parallel()
	_, m, st, _, _, _, _ := twoHandlers(t)
	ctx := context.Background()
	first, err := m.Apply(ctx, incidenttest.Failure(classify.OOMKilled, 0, severity.P2))
	if err != nil {
		t.Fatal(err)
	}
	sig := incidenttest.Failure(classify.OOMKilled, 1, severity.P2)
	var wg sync.WaitGroup
	var mu sync.Mutex
	dups := 0
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				out, err := m.Apply(ctx, sig)
				if errors.Is(err, incident.ErrConflict) {
					continue // a handler holding the event's lease: EventBridge would retry
				}
				if err != nil {
					t.Error(err)
					return
				}
				if out.Duplicate {
					mu.Lock()
					dups++
					mu.Unlock()
				}
				return
			}
		}()
	}
	wg.Wait()
	got, _ := st.Get(ctx, first.Incident.ID)
	if got.Occurrences.Count != 2 || dups != 15 {
		t.Fatalf("count %d (want 2), duplicates %d (want 15)", got.Occurrences.Count, dups)
	}
}

// An occurrence decided while the incident was open, written after another handler resolved it:
// the resolved incident stays resolved with its count, and the failure opens a new incident.
func TestOccurrenceAfterAResolveOpensANewIncident(t *testing.T) {
	t.Parallel()
	h, m, st, other, clk, _, _ := twoHandlers(t)
	ctx := context.Background()
	first, err := m.Apply(ctx, incidenttest.Failure(classify.OOMKilled, 0, severity.P2))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Apply(ctx, incidenttest.Failure(classify.OOMKilled, 1, severity.P2)); err != nil {
		t.Fatal(err)
	}
	h.beforeCount = func() {
		clk.Advance(time.Minute)
		if _, changed, err := other.Resolve(ctx, first.Incident.ID, "alice", "fixed"); err != nil || !changed {
			t.Errorf("resolve: %v %v", changed, err)
		}
	}
	out, err := m.Apply(ctx, incidenttest.Failure(classify.OOMKilled, 2, severity.P2))
	if err != nil || !out.Opened || out.Incident.ID == first.Incident.ID || out.Incident.Occurrences.Count != 1 {
		t.Fatalf("%+v %v", out, err)
	}
	old, err := st.Get(ctx, first.Incident.ID)
	if err != nil || old.State != incident.Resolved || old.Occurrences.Count != 2 {
		t.Fatalf("resolved incident: %s with %d occurrences (%v)", old.State, old.Occurrences.Count, err)
	}
}

// An occurrence decided before the service was seen back, written after: it is a relapse, as if
// the two had happened one after the other.
func TestOccurrenceRacingARecoveryIsARelapse(t *testing.T) {
	t.Parallel()
	h, m, st, other, _, _, _ := twoHandlers(t)
	ctx := context.Background()
	first, err := m.Apply(ctx, incidenttest.Failure(classify.OOMKilled, 0, severity.P2))
	if err != nil {
		t.Fatal(err)
	}
	h.beforeCount = func() {
		up := &servicestate.Snapshot{Desired: 4, Running: 4}
		if _, _, err := other.Observe(ctx, first.Incident.ID, up, 5*time.Minute); err != nil {
			t.Error(err)
		}
	}
	if _, err := m.Apply(ctx, incidenttest.Failure(classify.OOMKilled, 1, severity.P2)); err != nil {
		t.Fatal(err)
	}
	got, err := st.Get(ctx, first.Incident.ID)
	if err != nil || got.Flaps != 1 || got.RecoveringSince != nil || got.Occurrences.Count != 2 {
		t.Fatalf("flaps %d, recovering %v, count %d (%v)", got.Flaps, got.RecoveringSince, got.Occurrences.Count, err)
	}
}

// A raise, an acknowledgement and a resolve keep the occurrences counted on the side.
func TestSlowChangesKeepTheCount(t *testing.T) {
	t.Parallel()
	_, m, st, _, _, _, _ := twoHandlers(t)
	ctx := context.Background()
	first, err := m.Apply(ctx, incidenttest.Failure(classify.OOMKilled, 0, severity.P3))
	if err != nil {
		t.Fatal(err)
	}
	id := first.Incident.ID
	for i := 1; i <= 5; i++ {
		if _, err := m.Apply(ctx, incidenttest.Failure(classify.OOMKilled, i, severity.P3)); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := m.Apply(ctx, incidenttest.Failure(classify.OOMKilled, 6, severity.P1)); err != nil || !out.Raised || out.Incident.Occurrences.Count != 7 {
		t.Fatalf("raise: %+v %v", out, err)
	}
	if _, changed, err := m.Acknowledge(ctx, id, "alice"); err != nil || !changed {
		t.Fatal(changed, err)
	}
	for i := 7; i <= 9; i++ {
		if _, err := m.Apply(ctx, incidenttest.Failure(classify.OOMKilled, i, severity.P1)); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := st.Get(ctx, id); got.Occurrences.Count != 10 || got.Severity != severity.P1 || got.State != incident.Acknowledged {
		t.Fatalf("before resolving: %d %s %s", got.Occurrences.Count, got.Severity, got.State)
	}
	inc, changed, err := m.Resolve(ctx, id, "alice", "")
	if err != nil || !changed || inc.Occurrences.Count != 10 {
		t.Fatalf("resolve: %v %v %+v", changed, err, inc)
	}
	got, _ := st.Get(ctx, id)
	if got.Occurrences.Count != 10 || got.State != incident.Resolved || len(got.Occurrences.Tasks) != 10 {
		t.Fatalf("resolved record: %d %s %v", got.Occurrences.Count, got.State, got.Occurrences.Tasks)
	}
}

// The occurrence item remembers the marks of at least its last 12 occurrences, whichever of its
// epochs (12 occurrences each) they fall in: a handler killed before recording its marks, as the
// last of an epoch, its event redelivered after 11 more occurrences, still counts once.
func TestRedeliveryAfterAKillAnd11MoreIsNotCountedTwice(t *testing.T) {
	t.Parallel()
	h, m, st, _, _, _, _ := twoHandlers(t)
	ctx := context.Background()
	id := ""
	apply := func(from, to int) {
		t.Helper()
		for i := from; i <= to; i++ {
			out, err := m.Apply(ctx, incidenttest.Failure(classify.OOMKilled, i, severity.P2))
			if err != nil || out.Duplicate {
				t.Fatalf("event %d: %+v %v", i, out, err)
			}
			id = out.Incident.ID
		}
	}
	apply(0, 11) // opened, then 11 occurrences counted in the occurrence item
	killed := incidenttest.Failure(classify.OOMKilled, 12, severity.P2)
	h.dropMarks = true
	if out, err := m.Apply(ctx, killed); err != nil || out.Duplicate {
		t.Fatalf("%+v %v", out, err)
	}
	h.dropMarks = false
	apply(13, 23)
	if out, err := m.Apply(ctx, killed); err != nil || !out.Duplicate {
		t.Fatalf("redelivery after 11 more: %+v %v", out, err)
	}
	if got, err := st.Get(ctx, id); err != nil || got.Occurrences.Count != 24 {
		t.Fatalf("count %d, want 24 (%v)", got.Occurrences.Count, err)
	}
}

// A change other than an occurrence — an acknowledge, a resolve — moves the occurrence item to
// the incident's new version before the scope item is written, and a resolve closes it: an
// occurrence decided on the state before the change is then refused by its condition, and none
// is counted on a resolved incident.
func TestChangesFenceTheOccurrenceItem(t *testing.T) {
	t.Parallel()
	_, m, st, _, _, c, table := twoHandlers(t)
	ctx := context.Background()
	first, err := m.Apply(ctx, incidenttest.Failure(classify.OOMKilled, 0, severity.P2))
	if err != nil || !first.Opened {
		t.Fatalf("%+v %v", first, err)
	}
	id := first.Incident.ID
	change := func(state incident.State) *incident.Incident {
		t.Helper()
		var out *incident.Incident
		err := st.Update(ctx, incidenttest.Scope, nil, func(active []*incident.Incident) ([]*incident.Incident, error) {
			for _, inc := range active {
				if inc.ID == id {
					inc.State = state
					out = inc
					return []*incident.Incident{inc}, nil
				}
			}
			return nil, fmt.Errorf("%s is not active", id)
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	acked := change(incident.Acknowledged)
	item := occurrenceItem(t, c, table, id)
	if got := attrOf(item, "st"); got != "active" || attrOf(item, "sv") != fmt.Sprint(acked.Version) {
		t.Fatalf("after an acknowledge (version %d): occurrence item %v", acked.Version, item)
	}
	resolved := change(incident.Resolved)
	item = occurrenceItem(t, c, table, id)
	if got := attrOf(item, "st"); got != "closed" || attrOf(item, "sv") != fmt.Sprint(resolved.Version) {
		t.Fatalf("after a resolve (version %d): occurrence item %v", resolved.Version, item)
	}
}

func attrOf(item map[string]types.AttributeValue, name string) string {
	switch v := item[name].(type) {
	case *types.AttributeValueMemberS:
		return v.Value
	case *types.AttributeValueMemberN:
		return v.Value
	}
	return ""
}
