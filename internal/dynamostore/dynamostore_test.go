package dynamostore_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/ecs-medic/ecs-medic/internal/classify"
	"github.com/ecs-medic/ecs-medic/internal/dynamostore"
	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/incident/incidenttest"
	"github.com/ecs-medic/ecs-medic/internal/severity"
	"github.com/ecs-medic/ecs-medic/internal/testing/dynalite"
)

var server *dynalite.Server

func TestMain(m *testing.M) { os.Exit(dynalite.Main(m, &server)) }

func createTable(ctx context.Context, c *dynamodb.Client, table string) error {
	return dynamostore.CreateTable(ctx, c, table)
}

func newStore(t *testing.T, url string, retries int, clock func() time.Time) *dynamostore.Store {
	t.Helper()
	return dynamostore.New(dynalite.Client(url, retries), newTable(t), dynamostore.WithClock(clock))
}

// newClock is the tests' injected clock, at a fixed start.
func newClock() *incidenttest.Clock {
	return &incidenttest.Clock{T: time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)}
}

// newTable is a new, empty table of the tests' dynalite.
func newTable(t *testing.T) string {
	t.Helper()
	table, err := dynalite.NewTable(server.URL, createTable)
	if err != nil {
		t.Fatal(err)
	}
	return table
}

// The contract's subtests run in parallel, each on its own table of the one dynalite: they wait
// on dynalite far more than they compute. (A subtest that makes two stores is marked once.)
func TestContract(t *testing.T) {
	t.Parallel()
	var parallel sync.Map
	incidenttest.Run(t, func(t *testing.T, clock func() time.Time) incident.Store {
		if _, again := parallel.LoadOrStore(t, true); !again {
			t.Parallel()
		}
		return newStore(t, server.URL, 3, clock)
	})
}

// 32 concurrent handlers of different tasks of one service: one incident, one page, every
// occurrence counted — conditional writes really checked by dynalite.
func Test32ConcurrentHandlers(t *testing.T) {
	t.Parallel()
	clk := newClock()
	st := newStore(t, server.URL, 3, clk.Now)
	m := incident.NewManager(st, incident.WithClock(clk.Now))
	var wg sync.WaitGroup
	var opened, dups atomic.Int32
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sig := incidenttest.Failure(classify.OOMKilled, i%24, severity.P1) // 8 of them redeliveries
			for {
				out, err := m.Apply(context.Background(), sig)
				if errors.Is(err, incident.ErrConflict) {
					continue // another handler holds the event's lease: EventBridge would retry
				}
				if err != nil {
					t.Error(err)
					return
				}
				if out.Opened {
					opened.Add(1)
				}
				if out.Duplicate {
					dups.Add(1)
				}
				return
			}
		}()
	}
	wg.Wait()
	incs, err := st.List(context.Background(), incident.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(incs) != 1 || incs[0].Occurrences.Count != 24 || opened.Load() != 1 || dups.Load() != 8 {
		t.Fatalf("incidents %d, occurrences %d, opened %d, duplicates %d", len(incs), incs[0].Occurrences.Count, opened.Load(), dups.Load())
	}
	// How hard they contended (it depends on the interleaving, so it is reported, not asserted).
	stats := st.Stats()
	t.Logf("32 events: %d reads, %d writes, %.1f RCU, %.1f WCU, %d conditional writes refused", stats.Reads, stats.Writes, stats.ReadUnits, stats.WriteUnits, stats.ConditionFailures)
}

// BenchmarkConcurrentHandlers is 32 handlers applying failures of different tasks to the one open
// incident of one service, on dynalite: ns/op is per event; writes, capacity units (as DynamoDB
// reports them) and refused conditional writes per event say what an occurrence costs and how
// much the handlers contend. "occurrence-write" is the store as it is (an occurrence is one
// UpdateItem of the incident's occurrence item); "read-rewrite" the store before it (every
// occurrence reads and rewrites the scope item), measured side by side in the same run.
func BenchmarkConcurrentHandlers(b *testing.B) {
	for _, mode := range []struct {
		name string
		opts []dynamostore.Option
	}{
		{"read-rewrite", []dynamostore.Option{dynamostore.WithReadRewrite()}},
		{"occurrence-write", nil},
	} {
		b.Run(mode.name, func(b *testing.B) { benchHandlers(b, mode.opts...) })
	}
}

func benchHandlers(b *testing.B, opts ...dynamostore.Option) {
	clk := newClock()
	table, err := dynalite.NewTable(server.URL, createTable)
	if err != nil {
		b.Fatal(err)
	}
	st := dynamostore.New(dynalite.Client(server.URL, 3), table, append(opts, dynamostore.WithClock(clk.Now))...)
	m := incident.NewManager(st, incident.WithClock(clk.Now))
	ctx := context.Background()
	if _, err := m.Apply(ctx, incidenttest.Failure(classify.OOMKilled, -1, severity.P1)); err != nil {
		b.Fatal(err)
	}
	before := st.Stats()
	var next atomic.Int64
	b.SetParallelism(16) // 32 handlers on 2 CPUs
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			sig := incidenttest.Failure(classify.OOMKilled, int(next.Add(1)), severity.P1)
			for {
				_, err := m.Apply(ctx, sig)
				if errors.Is(err, incident.ErrConflict) {
					continue
				}
				if err != nil {
					b.Error(err)
					return
				}
				break
			}
		}
	})
	b.StopTimer()
	after := st.Stats()
	n := float64(b.N)
	b.ReportMetric(float64(after.Writes-before.Writes)/n, "writes/event")
	b.ReportMetric(float64(after.Reads+after.Queries-before.Reads-before.Queries)/n, "reads/event")
	b.ReportMetric((after.WriteUnits-before.WriteUnits)/n, "WCU/event")
	b.ReportMetric((after.ReadUnits-before.ReadUnits)/n, "RCU/event")
	b.ReportMetric(float64(after.ConditionFailures-before.ConditionFailures)/n, "refused/event")
	incs, err := st.List(ctx, incident.Filter{Active: true})
	if err != nil || len(incs) != 1 || incs[0].Occurrences.Count != b.N+1 {
		b.Fatalf("after %d events: %d incidents, %v", b.N, len(incs), err)
	}
}

// A handler that died after claiming an event's marks only delays its retry until the lease
// expires; one that died after applying is recognised as a duplicate.
func TestCrashWindows(t *testing.T) {
	t.Parallel()
	clk := newClock()
	st := newStore(t, server.URL, 3, clk.Now)
	m := incident.NewManager(st, incident.WithClock(clk.Now))
	ctx := context.Background()

	sig := incidenttest.Failure(classify.OOMKilled, 1, severity.P3)
	// Claim the marks and die: fn fails like a crash would, before anything is written.
	crash := errors.New("killed")
	err := st.Update(ctx, sig.Scope, sig.Marks, func([]*incident.Incident) ([]*incident.Incident, error) { return nil, crash })
	if !errors.Is(err, crash) {
		t.Fatal(err)
	}
	// A release was attempted; the retry goes through and counts the event once.
	out, err := m.Apply(ctx, sig)
	if err != nil || !out.Opened {
		t.Fatalf("retry after a crash: %+v %v", out, err)
	}
	if out, err := m.Apply(ctx, sig); err != nil || !out.Duplicate {
		t.Fatalf("redelivery: %+v %v", out, err)
	}
}

// proxy forwards to dynalite but answers the first n requests with an AWS error.
func proxy(t *testing.T, status int, typ string, n int32) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	target, _ := url.Parse(server.URL)
	rp := httputil.NewSingleHostReverseProxy(target)
	var left atomic.Int32
	left.Store(n)
	var failed atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if left.Add(-1) >= 0 {
			failed.Add(1)
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/x-amz-json-1.0")
			w.WriteHeader(status)
			fmt.Fprintf(w, `{"__type":"com.amazonaws.dynamodb.v20120810#%s","message":"injected"}`, typ)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &failed
}

func TestThrottledTableIsRetriedBySDK(t *testing.T) {
	t.Parallel()
	p, failed := proxy(t, 400, "ProvisionedThroughputExceededException", 2)
	clk := newClock()
	st := newStore(t, p.URL, 5, clk.Now)
	out, err := incident.NewManager(st, incident.WithClock(clk.Now)).Apply(context.Background(), incidenttest.Failure(classify.OOMKilled, 1, severity.P3))
	if err != nil || !out.Opened || failed.Load() != 2 {
		t.Fatalf("%+v %v (failed %d)", out, err, failed.Load())
	}
}

func TestFailingTableReturnsAnError(t *testing.T) {
	t.Parallel()
	p, _ := proxy(t, 500, "InternalServerError", 1000)
	clk := newClock()
	st := newStore(t, p.URL, 2, clk.Now)
	_, err := incident.NewManager(st, incident.WithClock(clk.Now)).Apply(context.Background(), incidenttest.Failure(classify.OOMKilled, 1, severity.P3))
	if err == nil || !strings.Contains(err.Error(), "InternalServerError") {
		t.Fatalf("a failing table must fail the handler so EventBridge retries: %v", err)
	}
}
