// Package prom keeps ecs-medic's metrics in Prometheus, on a registry of its own (no globals),
// served by `medic serve` at GET /metrics.
package prom

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ecs-medic/ecs-medic/internal/metrics"
)

// New creates the metrics on a fresh registry, with the Go and process collectors beside them.
func New() *metrics.Metrics {
	reg := prometheus.NewRegistry()
	counter := func(name, help string, labels ...string) counterVec {
		v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
		reg.MustRegister(v)
		return counterVec{v}
	}
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "medic_event_duration_seconds", Help: "Time to handle one event.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"detail_type"})
	reg.MustRegister(duration, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &metrics.Metrics{
		Events:      counter("medic_events_total", "Events handled, by detail type and outcome.", "detail_type", "outcome"),
		EventErrors: counter("medic_event_errors_total", "Events that could not be handled, by reason.", "reason"),
		Opened:      counter("medic_incidents_opened_total", "Incidents opened, by cause and severity.", "cause", "severity"),
		Diagnoses: counter("medic_diagnoses_total",
			"Stopped tasks classified, by cause; unknown counts the reasons no rule knows (their texts are kept on the unknown incidents).", "cause"),
		Suppressed:    counter("medic_suppressed_total", "Things deliberately not done (no page, no incident), by reason.", "reason"),
		Refused:       counter("medic_events_refused_total", "Events refused before any handling (MEDIC_ACCOUNTS), by reason.", "reason"),
		Notifications: counter("medic_notifications_total", "Notifications delivered or failed, by notifier, kind and result.", "notifier", "kind", "result"),
		Duration:      histogramVec{duration},
		Serve:         promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
		CountFunc: func(name, help string, fn func() float64) {
			reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, fn))
		},
	}
}

type counterVec struct{ v *prometheus.CounterVec }

func (c counterVec) WithLabelValues(lvs ...string) metrics.Counter {
	return c.v.WithLabelValues(lvs...)
}

type histogramVec struct{ v *prometheus.HistogramVec }

func (h histogramVec) WithLabelValues(lvs ...string) metrics.Observer {
	return h.v.WithLabelValues(lvs...)
}
