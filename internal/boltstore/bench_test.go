package boltstore_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/ecs-medic/ecs-medic/internal/boltstore"
	"github.com/ecs-medic/ecs-medic/internal/classify"
	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/incident/incidenttest"
	"github.com/ecs-medic/ecs-medic/internal/severity"
)

// BenchmarkOccurrence is one failure event applied to the open incident of its service (the
// Manager and the store, no HTTP): ns/op and B/op are per event; log-records/op and
// bbolt-commits/op say what it wrote. "serial" is one handler; "16-services" is concurrent
// handlers spread over 16 services, "1-service" concurrent handlers all on one (the storm's worst
// case: one scope, one lock).
func BenchmarkOccurrence(b *testing.B) {
	for _, c := range []struct {
		name     string
		parallel bool
		services int
	}{{"serial", false, 1}, {"16-services", true, 16}, {"1-service", true, 1}} {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			st, err := boltstore.Open(filepath.Join(b.TempDir(), "medic.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			m := incident.NewManager(st)
			sig := func(n int) incident.Signal {
				s := incidenttest.Failure(classify.OOMKilled, n, severity.P2)
				s.Scope.Service = fmt.Sprintf("svc-%02d", n%c.services)
				s.Marks = []string{fmt.Sprintf("evt#b-%d", n), fmt.Sprintf("task#b-%d#5", n)}
				return s
			}
			for i := range c.services { // the incidents are open before the clock starts
				if _, err := m.Apply(ctx, sig(-1-i)); err != nil {
					b.Fatal(err)
				}
			}
			w0, c0, l0 := st.Writes(), st.Commits(), st.LogBytes()
			var next atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			if c.parallel {
				b.SetParallelism(8) // 8 handlers per CPU: 16 on this 2-core machine
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := m.Apply(ctx, sig(int(next.Add(1)))); err != nil {
							b.Error(err)
							return
						}
					}
				})
			} else {
				for i := 0; b.Loop(); i++ {
					if _, err := m.Apply(ctx, sig(i)); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(st.Writes()-w0)/float64(b.N), "log-records/op")
			b.ReportMetric(float64(st.Commits()-c0)/float64(b.N), "bbolt-commits/op")
			b.ReportMetric(float64(st.LogBytes()-l0)/float64(b.N), "log-B/op")
		})
	}
}
