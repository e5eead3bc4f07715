package server_test

import (
	"bytes"
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
