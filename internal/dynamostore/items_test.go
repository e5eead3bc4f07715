package dynamostore_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ecs-medic/ecs-medic/internal/classify"
	"github.com/ecs-medic/ecs-medic/internal/dynamostore"
	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/incident/incidenttest"
	"github.com/ecs-medic/ecs-medic/internal/severity"
	"github.com/ecs-medic/ecs-medic/internal/testing/dynalite"
)

// rawItem reads one item of table as DynamoDB holds it.
func rawItem(t *testing.T, c *dynamodb.Client, table, pk, sk string) map[string]types.AttributeValue {
	t.Helper()
	out, err := c.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: &table, ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}, "sk": &types.AttributeValueMemberS{Value: sk}}})
	if err != nil {
		t.Fatal(err)
	}
	if out.Item == nil {
		t.Fatalf("no item %s/%s", pk, sk)
	}
	return out.Item
}

// unix is a number attribute of an item, as a time.
func unix(t *testing.T, item map[string]types.AttributeValue, name string) time.Time {
	t.Helper()
	n, ok := item[name].(*types.AttributeValueMemberN)
	if !ok {
		t.Fatalf("item %v has no number %q", item["pk"], name)
	}
	v, err := strconv.ParseInt(n.Value, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return time.Unix(v, 0).UTC()
}

// DynamoDB deletes an item once the time in its ttl attribute has passed (within a couple of
// days, never before): every item the store relies on must carry a ttl no earlier than the time
// it is relied on until. A mark deleted early lets a redelivered event count twice (beyond the
// occurrence item's ring and the scope item's list), a resolved incident deleted early vanishes
// from history, a silence deleted early still holds until it expires (the expiry is checked on
// read), a remembered key deleted early lets a replay through.
func TestItemsCarryTheirExpiry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := newClock()
	table := newTable(t)
	c := dynalite.Client(server.URL, 3)
	st := dynamostore.New(c, table, dynamostore.WithClock(clk.Now))
	m := incident.NewManager(st, incident.WithClock(clk.Now))
	const markTTL, keep = 48 * time.Hour, 24 * time.Hour

	// A new incident: its marks are claimed (a lease), then written done.
	t0 := clk.Now()
	first := incidenttest.Failure(classify.OOMKilled, 1, severity.P2)
	out, err := m.Apply(ctx, first)
	if err != nil || !out.Opened {
		t.Fatalf("%+v %v", out, err)
	}
	id := out.Incident.ID
	// An occurrence an hour later: its marks are written done without a claim.
	clk.Advance(time.Hour)
	t1 := clk.Now()
	second := incidenttest.Failure(classify.OOMKilled, 2, severity.P2)
	if out, err := m.Apply(ctx, second); err != nil || out.Opened || out.Incident.Occurrences.Count != 2 {
		t.Fatalf("%+v %v", out, err)
	}
	for _, tc := range []struct {
		marks []string
		at    time.Time
	}{{first.Marks, t0}, {second.Marks, t1}} {
		for _, mk := range tc.marks {
			item := rawItem(t, c, table, "M#"+mk, "M")
			if s := item["status"].(*types.AttributeValueMemberS).Value; s != "done" {
				t.Errorf("mark %s: status %q", mk, s)
			}
			if exp, ttl := unix(t, item, "exp"), unix(t, item, "ttl"); !exp.Equal(tc.at.Add(markTTL)) || !ttl.Equal(tc.at.Add(markTTL+keep)) {
				t.Errorf("mark %s written at %v: expires %v, ttl %v; want %v and %v", mk, tc.at, exp, ttl, tc.at.Add(markTTL), tc.at.Add(markTTL+keep))
			}
		}
	}

	// Resolved: the record is kept 90 days, the closed occurrence item (its ring of marks) as
	// long as a mark.
	clk.Advance(time.Hour)
	t2 := clk.Now()
	if _, changed, err := m.Resolve(ctx, id, "alice", "fixed"); err != nil || !changed {
		t.Fatal(changed, err)
	}
	if ttl := unix(t, rawItem(t, c, table, "I#"+id, "I"), "ttl"); !ttl.Equal(t2.Add(90 * 24 * time.Hour)) {
		t.Errorf("resolved record's ttl %v, want %v (90 days)", ttl, t2.Add(90*24*time.Hour))
	}
	if ttl := unix(t, rawItem(t, c, table, "S#"+incidenttest.Scope.Key(), "O#"+id), "ttl"); !ttl.Equal(t2.Add(markTTL + keep)) {
		t.Errorf("closed occurrence item's ttl %v, want %v", ttl, t2.Add(markTTL+keep))
	}

	// A silence is kept a day past its end.
	sil, err := m.Silence(ctx, incidenttest.Scope, 2*time.Hour, "alice", "deploy")
	if err != nil {
		t.Fatal(err)
	}
	item := rawItem(t, c, table, "Q#"+incidenttest.Scope.Key(), "Q")
	if until, ttl := unix(t, item, "until"), unix(t, item, "ttl"); !until.Equal(sil.Until.Truncate(time.Second)) || !ttl.Equal(until.Add(keep)) {
		t.Errorf("silence until %v: item until %v, ttl %v", sil.Until, until, ttl)
	}

	// A remembered key is kept an hour past its end.
	until := clk.Now().Add(5 * time.Minute)
	if err := st.Remember(ctx, "slack#abc", until); err != nil {
		t.Fatal(err)
	}
	item = rawItem(t, c, table, "R#slack#abc", "R")
	if exp, ttl := unix(t, item, "exp"), unix(t, item, "ttl"); !exp.Equal(until) || !ttl.Equal(until.Add(time.Hour)) {
		t.Errorf("remembered until %v: exp %v, ttl %v", until, exp, ttl)
	}
}

// The same with the read-rewrite store (WithReadRewrite): every event claims its marks first.
func TestReadRewriteMarksCarryTheirExpiry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := newClock()
	table := newTable(t)
	c := dynalite.Client(server.URL, 3)
	m := incident.NewManager(dynamostore.New(c, table, dynamostore.WithClock(clk.Now), dynamostore.WithReadRewrite()), incident.WithClock(clk.Now))
	for i := range 2 {
		at := clk.Now()
		sig := incidenttest.Failure(classify.OOMKilled, i, severity.P2)
		if _, err := m.Apply(ctx, sig); err != nil {
			t.Fatal(err)
		}
		for _, mk := range sig.Marks {
			item := rawItem(t, c, table, "M#"+mk, "M")
			if exp, ttl := unix(t, item, "exp"), unix(t, item, "ttl"); !exp.Equal(at.Add(48*time.Hour)) || !ttl.Equal(at.Add(72*time.Hour)) {
				t.Errorf("mark %s written at %v: expires %v, ttl %v", mk, at, exp, ttl)
			}
		}
		clk.Advance(time.Hour)
	}
}

// Stats says exactly what was asked of DynamoDB: requests by kind, the capacity DynamoDB reported
// for each (reads and writes apart), and the conditional writes it refused.
func TestStatsCountRequestsCapacityAndRefusals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := newClock()
	st := newStore(t, server.URL, 3, clk.Now)
	if got := st.Stats(); got != (dynamostore.Stats{}) {
		t.Fatalf("a new store: %+v", got)
	}
	prev := st.Stats()
	// step runs one request and checks what it added: requests, and whether it added read or
	// write capacity (a small item: one write unit; a refused write reports none).
	step := func(what string, do func() error, want dynamostore.Stats, reads bool, wcu float64) {
		t.Helper()
		if err := do(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		got := st.Stats()
		d := dynamostore.Stats{Reads: got.Reads - prev.Reads, Writes: got.Writes - prev.Writes, Queries: got.Queries - prev.Queries,
			ConditionFailures: got.ConditionFailures - prev.ConditionFailures}
		if d != want {
			t.Fatalf("%s: requests %+v, want %+v", what, d, want)
		}
		if got.WriteUnits-prev.WriteUnits != wcu || (got.ReadUnits > prev.ReadUnits) != reads {
			t.Fatalf("%s: capacity %+v, before %+v", what, got, prev)
		}
		prev = got
	}
	until := clk.Now().Add(time.Minute)
	remember := func() error { return st.Remember(ctx, "k", until) }
	step("a new key", remember, dynamostore.Stats{Writes: 1}, false, 1)
	step("the key again", func() error {
		if err := remember(); !errors.Is(err, incident.ErrDuplicate) {
			return fmt.Errorf("not a duplicate: %w", err)
		}
		return nil
	}, dynamostore.Stats{Writes: 1, ConditionFailures: 1}, false, 0)
	step("a guard read", func() error { _, err := st.Guard(ctx, incidenttest.Scope); return err }, dynamostore.Stats{Reads: 1}, true, 0)
	step("a silence", func() error {
		return st.PutSilence(ctx, incident.Silence{Scope: incidenttest.Scope, Until: clk.Now().Add(time.Hour), By: "alice"})
	}, dynamostore.Stats{Writes: 1}, false, 1)
	step("the silences", func() error {
		ss, err := st.Silences(ctx, clk.Now())
		if err == nil && len(ss) != 1 {
			err = fmt.Errorf("%d silences", len(ss))
		}
		return err
	}, dynamostore.Stats{Queries: 1}, true, 0)
	step("a guard update", func() error {
		_, err := st.UpdateGuard(ctx, incidenttest.Scope, func(*incident.Guard) error { return nil })
		return err
	}, dynamostore.Stats{Reads: 1, Writes: 1}, true, 1)

	// An occurrence of an open incident: one UpdateItem of its occurrence item and one PutItem per
	// mark, each a small item.
	m := incident.NewManager(st, incident.WithClock(clk.Now))
	if _, err := m.Apply(ctx, incidenttest.Failure(classify.OOMKilled, 0, severity.P2)); err != nil {
		t.Fatal(err)
	}
	prev = st.Stats()
	if out, err := m.Apply(ctx, incidenttest.Failure(classify.OOMKilled, 1, severity.P2)); err != nil || out.Incident.Occurrences.Count != 2 {
		t.Fatalf("%+v %v", out, err)
	}
	if got := st.Stats(); got.Writes-prev.Writes != 3 || got.WriteUnits-prev.WriteUnits != 3 || got.ConditionFailures != prev.ConditionFailures {
		t.Fatalf("an occurrence: %+v, before %+v", got, prev)
	}
}

// dying is a handler that dies holding an event's marks: having claimed them, it writes nothing
// else, and the release it then attempts never reaches the table.
type dying struct {
	dynamostore.API
}

func (d dying) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	if !strings.HasPrefix(in.Item["pk"].(*types.AttributeValueMemberS).Value, "M#") {
		return nil, errors.New("killed")
	}
	return d.API.PutItem(ctx, in, o...)
}

func (d dying) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if strings.Contains(aws.ToString(in.UpdateExpression), "lease") {
		return nil, errors.New("killed")
	}
	return d.API.UpdateItem(ctx, in, o...)
}

// waiting is a handler that gives up (cancels its context) once it has waited for another
// handler's lease: after DynamoDB refused its claim of a mark, at its second look at the mark
// (the store reads it, finds it held, waits, reads it again). onRefused runs at each refusal.
type waiting struct {
	dynamostore.API
	cancel    context.CancelFunc
	onRefused func()
	refused   atomic.Int32
	looks     atomic.Int32
}

func (w *waiting) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	out, err := w.API.PutItem(ctx, in, o...)
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) && strings.HasPrefix(in.Item["pk"].(*types.AttributeValueMemberS).Value, "M#") {
		w.refused.Add(1)
		if w.onRefused != nil {
			w.onRefused()
		}
	}
	return out, err
}

func (w *waiting) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	if strings.HasPrefix(in.Key["pk"].(*types.AttributeValueMemberS).Value, "M#") && w.refused.Load() > 0 && w.looks.Add(1) == 2 {
		w.cancel()
	}
	return w.API.GetItem(ctx, in, o...)
}

// holdMarks leaves sig's marks held by a handler that died having claimed them, on a new table;
// it returns the table.
func holdMarks(t *testing.T, c *dynamodb.Client, clk *incidenttest.Clock, sig incident.Signal) string {
	t.Helper()
	table := newTable(t)
	dead := incident.NewManager(dynamostore.New(dying{c}, table, dynamostore.WithClock(clk.Now)), incident.WithClock(clk.Now))
	if out, err := dead.Apply(context.Background(), sig); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("the dying handler: %+v %v", out, err)
	}
	for _, mk := range sig.Marks {
		if s := rawItem(t, c, table, "M#"+mk, "M")["status"].(*types.AttributeValueMemberS).Value; s != "pending" {
			t.Fatalf("mark %s left %s by the dying handler", mk, s)
		}
	}
	return table
}

// handler is a store on table that gives up once it has waited for a lease (waiting).
func handler(ctx context.Context, c *dynamodb.Client, table string, clk *incidenttest.Clock) (*incident.Manager, *dynamostore.Store, *waiting, context.Context) {
	wctx, cancel := context.WithCancel(ctx)
	w := &waiting{API: c, cancel: cancel}
	st := dynamostore.New(w, table, dynamostore.WithClock(clk.Now))
	return incident.NewManager(st, incident.WithClock(clk.Now)), st, w, wctx
}

// A handler that dies holding an event's marks keeps every other handler of that event waiting
// for exactly its lease, 30 s: 1 s before, the event is not applied; at 30 s it is, once.
func TestALeaseHoldsTheEventFor30Seconds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := newClock()
	c := dynalite.Client(server.URL, 3)
	sig := incidenttest.Failure(classify.OOMKilled, 1, severity.P2)
	table := holdMarks(t, c, clk, sig)

	clk.Advance(29 * time.Second)
	m, st, w, wctx := handler(ctx, c, table, clk)
	out, err := m.Apply(wctx, sig)
	if err == nil || out.Duplicate || w.refused.Load() != 1 || w.looks.Load() != 2 {
		t.Fatalf("29 s into the dead handler's lease: %+v %v (claims refused %d, looks %d)", out, err, w.refused.Load(), w.looks.Load())
	}
	if incs, err := st.List(ctx, incident.Filter{}); err != nil || len(incs) != 0 {
		t.Fatalf("applied during the lease: %d incidents (%v)", len(incs), err)
	}

	clk.Advance(time.Second)
	m, _, w, wctx = handler(ctx, c, table, clk)
	if out, err := m.Apply(wctx, sig); err != nil || !out.Opened || w.refused.Load() != 0 {
		t.Fatalf("at the lease's end: %+v %v (claims refused: %d)", out, err, w.refused.Load())
	}
	if out, err := m.Apply(ctx, sig); err != nil || !out.Duplicate {
		t.Fatalf("then again: %+v %v", out, err)
	}
}

// A lease ending between the refused claim and the look at who holds it has ended: the event is
// applied without waiting.
func TestALeaseEndingWhileLookedAtIsFree(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := newClock()
	c := dynalite.Client(server.URL, 3)
	sig := incidenttest.Failure(classify.OOMKilled, 1, severity.P2)
	table := holdMarks(t, c, clk, sig)
	clk.Advance(29 * time.Second)
	m, _, w, wctx := handler(ctx, c, table, clk)
	w.onRefused = func() { w.onRefused = nil; clk.Advance(time.Second) }
	if out, err := m.Apply(wctx, sig); err != nil || !out.Opened || w.refused.Load() != 1 || w.looks.Load() != 1 {
		t.Fatalf("the lease ended as it was looked at: %+v %v (claims refused %d, looks %d)", out, err, w.refused.Load(), w.looks.Load())
	}
}

// refusedClaim runs a hook once DynamoDB refused a claim of a mark (another handler has the
// event, or had it), before the store looks at who holds it.
type refusedClaim struct {
	dynamostore.API
	hook func()
}

func (r *refusedClaim) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	out, err := r.API.PutItem(ctx, in, o...)
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) && strings.HasPrefix(in.Item["pk"].(*types.AttributeValueMemberS).Value, "M#") && r.hook != nil {
		r.hook()
	}
	return out, err
}

// A mark reaching its TTL between the refused claim and the read of who holds it is expired: the
// redelivery is a new event (the store that claims every event's marks first, WithReadRewrite).
func TestAMarkExpiringWhileLookedAtIsFree(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := newClock()
	table := newTable(t)
	r := &refusedClaim{API: dynalite.Client(server.URL, 3)}
	st := dynamostore.New(r, table, dynamostore.WithClock(clk.Now), dynamostore.WithReadRewrite())
	m := incident.NewManager(st, incident.WithClock(clk.Now))
	sig := incidenttest.Failure(classify.OOMKilled, 1, severity.P2)
	first, err := m.Apply(ctx, sig)
	if err != nil || !first.Opened {
		t.Fatalf("%+v %v", first, err)
	}
	clk.Advance(48*time.Hour - time.Second)
	r.hook = func() { r.hook = nil; clk.Advance(time.Second) }
	out, err := m.Apply(ctx, sig)
	if err != nil || out.Duplicate || out.Incident.ID != first.Incident.ID || out.Incident.Occurrences.Count != 2 {
		t.Fatalf("the mark expired as it was read: %+v %v", out, err)
	}
	if r.hook != nil {
		t.Fatal("no claim was refused")
	}
}

// failingQueries fails every Query of the table itself (not of its index) once armed.
type failingQueries struct {
	dynamostore.API
	armed atomic.Bool
}

func (f *failingQueries) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	if f.armed.Load() && in.IndexName == nil {
		return nil, errors.New("injected: table unavailable")
	}
	return f.API.Query(ctx, in, o...)
}

// Listing active incidents reads each scope's occurrence items: when that read fails, List fails
// (a list without the counts would page or hide the wrong incidents), never answers in part.
func TestListFailsWhenOccurrencesCannotBeRead(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := newClock()
	table := newTable(t)
	f := &failingQueries{API: dynalite.Client(server.URL, 3)}
	st := dynamostore.New(f, table, dynamostore.WithClock(clk.Now))
	m := incident.NewManager(st, incident.WithClock(clk.Now))
	for i := range 2 {
		if _, err := m.Apply(ctx, incidenttest.Failure(classify.OOMKilled, i, severity.P2)); err != nil {
			t.Fatal(err)
		}
	}
	if incs, err := st.List(ctx, incident.Filter{Active: true}); err != nil || len(incs) != 1 || incs[0].Occurrences.Count != 2 {
		t.Fatalf("before: %d incidents, %v", len(incs), err)
	}
	f.armed.Store(true)
	incs, err := st.List(ctx, incident.Filter{Active: true})
	if err == nil || !strings.Contains(err.Error(), "table unavailable") {
		t.Fatalf("with the occurrence items unreadable: %d incidents, %v", len(incs), err)
	}
}

// unfinished is a handler killed right after its scope write: the marks it claimed are never
// written done (nor released).
type unfinished struct {
	dynamostore.API
}

func (u unfinished) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if pk := in.Key["pk"].(*types.AttributeValueMemberS).Value; strings.HasPrefix(pk, "M#") {
		return nil, errors.New("killed")
	}
	return u.API.UpdateItem(ctx, in, o...)
}

// A handler killed after writing the scope item, before marking its event's marks done: once its
// lease ends, the redelivery is a duplicate: the scope item lists the marks it applied.
func TestRedeliveryAfterAKillBeforeMarkingDone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := newClock()
	table := newTable(t)
	c := dynalite.Client(server.URL, 3)
	killed := incident.NewManager(dynamostore.New(unfinished{c}, table, dynamostore.WithClock(clk.Now)), incident.WithClock(clk.Now))
	sig := incidenttest.Failure(classify.OOMKilled, 1, severity.P2)
	first, err := killed.Apply(ctx, sig)
	if err != nil || !first.Opened {
		t.Fatalf("%+v %v", first, err)
	}
	clk.Advance(30 * time.Second)
	st := dynamostore.New(c, table, dynamostore.WithClock(clk.Now))
	m := incident.NewManager(st, incident.WithClock(clk.Now))
	if out, err := m.Apply(ctx, sig); err != nil || !out.Duplicate {
		t.Fatalf("the redelivery: %+v %v", out, err)
	}
	if got, err := st.Get(ctx, first.Incident.ID); err != nil || got.Occurrences.Count != 1 {
		t.Fatalf("%+v %v", got, err)
	}
}
