package metrics_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ecs-medic/ecs-medic/internal/metrics"
	"github.com/ecs-medic/ecs-medic/internal/metrics/prom"
)

// Nop counts nothing and says so at /metrics; prom counts and serves the Prometheus text.
func TestNopAndProm(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    *metrics.Metrics
		code int
		want string
	}{
		{"nop", metrics.Nop(), http.StatusNotFound, "not kept"},
		{"prom", prom.New(), http.StatusOK, `medic_notifications_total{kind="opened",notifier="slack",result="sent"} 1`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.m.Notifications.WithLabelValues("slack", "opened", "sent").Inc()
			tc.m.Duration.WithLabelValues("ECS Task State Change").Observe(0.001)
			tc.m.CounterFunc("medic_test_calls_total", "Calls.", func() float64 { return 2 })
			rec := httptest.NewRecorder()
			tc.m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
			if rec.Code != tc.code || !strings.Contains(rec.Body.String(), tc.want) {
				t.Fatalf("%d %s", rec.Code, rec.Body.String())
			}
		})
	}
}
