// Package metrics holds ecs-medic's Prometheus metrics, on a registry of their own (no globals),
// served by `medic serve` at GET /metrics.
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the counters the pipeline updates.
type Metrics struct {
	Registry *prometheus.Registry

	Events        *prometheus.CounterVec   // by detail_type and outcome
	EventErrors   *prometheus.CounterVec   // by reason: malformed, unsupported, too-large, store
	Opened        *prometheus.CounterVec   // incidents opened, by cause and severity
	Diagnoses     *prometheus.CounterVec   // stopped tasks classified, by cause (unknown and expected included)
	Suppressed    *prometheus.CounterVec   // by reason: duplicate, expected, ...
	Refused       *prometheus.CounterVec   // events refused, by reason: account-not-allowed
	Notifications *prometheus.CounterVec   // by notifier, kind and result
	Duration      *prometheus.HistogramVec // event handling time, by detail_type
}

// New creates the metrics on a fresh registry. extra collectors (e.g. the ECS call counter) are
// registered beside them.
func New(extra ...prometheus.Collector) *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		Events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "medic_events_total", Help: "Events handled, by detail type and outcome.",
		}, []string{"detail_type", "outcome"}),
		EventErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "medic_event_errors_total", Help: "Events that could not be handled, by reason.",
		}, []string{"reason"}),
		Opened: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "medic_incidents_opened_total", Help: "Incidents opened, by cause and severity.",
		}, []string{"cause", "severity"}),
		Diagnoses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "medic_diagnoses_total",
			Help: "Stopped tasks classified, by cause; unknown counts the reasons no rule knows (their texts are kept on the unknown incidents).",
		}, []string{"cause"}),
		Suppressed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "medic_suppressed_total", Help: "Things deliberately not done (no page, no incident), by reason.",
		}, []string{"reason"}),
		Refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "medic_events_refused_total", Help: "Events refused before any handling (MEDIC_ACCOUNTS), by reason.",
		}, []string{"reason"}),
		Notifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "medic_notifications_total", Help: "Notifications delivered or failed, by notifier, kind and result.",
		}, []string{"notifier", "kind", "result"}),
		Duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "medic_event_duration_seconds", Help: "Time to handle one event.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"detail_type"}),
	}
	m.Registry.MustRegister(m.Events, m.EventErrors, m.Opened, m.Diagnoses, m.Suppressed, m.Refused, m.Notifications, m.Duration,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, c := range extra {
		m.Registry.MustRegister(c)
	}
	return m
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})
}

// CounterFunc exposes a counter read from elsewhere (e.g. the ECS client's call count).
func CounterFunc(name, help string, fn func() float64) prometheus.Collector {
	return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, fn)
}
