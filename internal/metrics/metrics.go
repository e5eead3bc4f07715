// Package metrics holds the counters ecs-medic keeps, behind small interfaces: Prometheus
// (metrics/prom, on a registry of its own, served by `medic serve` at GET /metrics) or Nop, which
// counts nothing. The Lambda functions keep no metrics (nothing scrapes them; Lambda's own
// metrics and the logs say what they did), so they do not link Prometheus at all.
package metrics

import "net/http"

// Counter is one labelled counter.
type Counter interface{ Inc() }

// CounterVec is a counter per label values.
type CounterVec interface {
	WithLabelValues(lvs ...string) Counter
}

// Observer is one labelled histogram.
type Observer interface{ Observe(float64) }

// HistogramVec is a histogram per label values.
type HistogramVec interface {
	WithLabelValues(lvs ...string) Observer
}

// Metrics are the counters the pipeline and the App's notification sender update.
type Metrics struct {
	Events        CounterVec   // by detail_type and outcome
	EventErrors   CounterVec   // by reason: malformed, unsupported, too-large, store
	Opened        CounterVec   // incidents opened, by cause and severity
	Diagnoses     CounterVec   // stopped tasks classified, by cause (unknown and expected included)
	Suppressed    CounterVec   // by reason: duplicate, expected, ...
	Refused       CounterVec   // events refused, by reason: account-not-allowed
	Notifications CounterVec   // by notifier, kind and result
	Duration      HistogramVec // event handling time, by detail_type

	// Serve serves the metrics (GET /metrics); CountFunc exposes a counter read from elsewhere
	// (the ECS client's call count). Set by the implementation.
	Serve     http.Handler
	CountFunc func(name, help string, fn func() float64)
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler { return m.Serve }

// CounterFunc exposes a counter read from elsewhere (e.g. the ECS client's call count).
func (m *Metrics) CounterFunc(name, help string, fn func() float64) { m.CountFunc(name, help, fn) }

// Nop returns metrics that count nothing; GET /metrics answers 404 saying so.
func Nop() *Metrics {
	c, h := nopVec{}, nopHist{}
	return &Metrics{Events: c, EventErrors: c, Opened: c, Diagnoses: c, Suppressed: c, Refused: c, Notifications: c, Duration: h,
		Serve: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "metrics are not kept by this process", http.StatusNotFound)
		}),
		CountFunc: func(string, string, func() float64) {}}
}

type nopVec struct{}

func (nopVec) WithLabelValues(...string) Counter { return nop{} }

type nopHist struct{}

func (nopHist) WithLabelValues(...string) Observer { return nop{} }

type nop struct{}

func (nop) Inc()            {}
func (nop) Observe(float64) {}
