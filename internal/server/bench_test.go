package server_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"go.uber.org/zap"

	"github.com/ecs-medic/ecs-medic/internal/boltstore"
	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/metrics"
	"github.com/ecs-medic/ecs-medic/internal/notify"
	"github.com/ecs-medic/ecs-medic/internal/pipeline"
	"github.com/ecs-medic/ecs-medic/internal/server"
	"github.com/ecs-medic/ecs-medic/internal/servicestate"
	"github.com/ecs-medic/ecs-medic/internal/testing/eventgen"
)

// BenchmarkPostEvents posts the same crash loop one event per request and in arrays of 25, the
// way a batching sender would: ns/event and B/event per event; log-records/event and
// bbolt-commits/event are what the store wrote for them (an array costs no commit of its own:
// its events are appended to the log and folded with everything else).
func BenchmarkPostEvents(b *testing.B) {
	for _, size := range []int{1, 25} {
		name := "single"
		if size > 1 {
			name = "array-25"
		}
		b.Run(name, func(b *testing.B) {
			st, err := boltstore.Open(filepath.Join(b.TempDir(), "medic.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			m := metrics.Nop()
			p := pipeline.New(incident.NewManager(st), servicestate.Unavailable{Reason: "benchmark"}, notify.NewFanout(nil), zap.NewNop(), m)
			srv := httptest.NewServer(server.New(p, st, m, zap.NewNop(), nil))
			defer srv.Close()
			n := 0
			body := func() []byte {
				if size == 1 {
					n++
					return eventgen.OOM("prod", "checkout", n)
				}
				var buf bytes.Buffer
				buf.WriteByte('[')
				for i := range size {
					if i > 0 {
						buf.WriteByte(',')
					}
					n++
					buf.Write(eventgen.OOM("prod", "checkout", n))
				}
				buf.WriteByte(']')
				return buf.Bytes()
			}
			bodies := make([][]byte, b.N/size+1)
			for i := range bodies {
				bodies[i] = body()
			}
			w0, c0 := st.Writes(), st.Commits()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < len(bodies) && i*size < b.N; i++ {
				resp, err := http.Post(srv.URL+"/events", "application/json", bytes.NewReader(bodies[i]))
				if err != nil {
					b.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("HTTP %d", resp.StatusCode)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(st.Writes()-w0)/float64(b.N), "log-records/event")
			b.ReportMetric(float64(st.Commits()-c0)/float64(b.N), "bbolt-commits/event")
		})
	}
}

// nopReceiver takes every notification (a stand-in for Slack behind its queue).
type nopReceiver struct{}

func (nopReceiver) Name() string                                              { return "slack" }
func (nopReceiver) Notify(context.Context, notify.Notification) (bool, error) { return false, nil }

// BenchmarkIngest is the in-process path of one event, without the network: the HTTP handler,
// the body read, decode, classify, the incident occurrence in the store, and the notification
// queued for Slack's background delivery (an OOM crash loop over 20 services, so 20 incidents
// open and every other event is an occurrence). B/op and allocs/op are per event; the whole
// storm through loopback (cmd/medic-load) adds net/http's client and connection costs.
func BenchmarkIngest(b *testing.B) {
	st, err := boltstore.Open(filepath.Join(b.TempDir(), "medic.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	m := metrics.Nop()
	mgr := incident.NewManager(st)
	q := notify.NewQueue(nopReceiver{}, zap.NewNop())
	q.Start(queueStore{mgr, st})
	defer q.Stop(context.Background())
	p := pipeline.New(mgr, servicestate.Unavailable{Reason: "benchmark"}, notify.NewFanout([]notify.Notifier{q}), zap.NewNop(), m)
	h := server.New(p, st, m, zap.NewNop(), nil)
	bodies := make([][]byte, b.N)
	for i := range bodies {
		bodies[i] = eventgen.OOM("prod", fmt.Sprintf("svc-%02d", i%20), i)
	}
	// One request and one response writer, reset per event: what is measured is the handler's
	// own allocation, not the test's (net/http's request parsing is in medic-load's figure).
	body := bytes.NewReader(nil)
	req, err := http.NewRequest(http.MethodPost, "http://127.0.0.1/events", io.NopCloser(body))
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.RemoteAddr = "127.0.0.1:40000"
	w := &discard{header: http.Header{}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		body.Reset(bodies[i])
		req.ContentLength = int64(len(bodies[i]))
		clear(w.header)
		w.status = 0
		h.ServeHTTP(w, req)
		if w.status != http.StatusOK {
			b.Fatalf("HTTP %d", w.status)
		}
	}
}

// discard is a response writer that keeps only the status.
type discard struct {
	header http.Header
	status int
}

func (d *discard) Header() http.Header         { return d.header }
func (d *discard) WriteHeader(status int)      { d.status = status }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }

type queueStore struct {
	m  *incident.Manager
	st *boltstore.Store
}

func (s queueStore) Delivered(ctx context.Context, id string, ds []incident.Delivery) (*incident.Incident, error) {
	return s.m.Delivered(ctx, id, ds)
}

func (s queueStore) Get(ctx context.Context, id string) (*incident.Incident, error) {
	return s.st.Get(ctx, id)
}
