package app

import (
	"context"

	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/metrics"
	"github.com/ecs-medic/ecs-medic/internal/notify"
)

// counted is the App's one Sender: it counts every notification's outcome per receiver
// (medic_notifications_total, and medic_suppressed_total for a receiver's deliberate skip),
// whoever sends it: the pipeline, the reconciler (recoveries, escalations, re-sends), a fix, a
// Slack command.
type counted struct {
	next    notify.Sender
	metrics *metrics.Metrics
}

var _ notify.Sender = counted{}

// Send implements notify.Sender.
func (c counted) Send(ctx context.Context, n notify.Notification, only ...string) []notify.Result {
	results := c.next.Send(ctx, n, only...)
	c.count(n.Kind, results)
	return results
}

// Held counts the receivers a silence held back (notify.Announce tells it).
func (c counted) Held(kind notify.Kind, results []notify.Result) { c.count(kind, results) }

func (c counted) count(kind notify.Kind, results []notify.Result) {
	for _, r := range results {
		result := "sent"
		switch {
		case r.Deferred:
			result = "queued" // its background delivery is counted when it happens
		case r.Err != nil:
			result = "failed"
		case r.Skipped != "":
			result = "skipped"
			c.metrics.Suppressed.WithLabelValues(r.Notifier + "-skip").Inc()
		}
		c.metrics.Notifications.WithLabelValues(r.Notifier, string(kind), result).Inc()
	}
}

// Names implements notify.Sender.
func (c counted) Names() []string { return c.next.Names() }

// NamesFor keeps the route-aware receiver names of the sender underneath (route.Sender), which
// notify.Announce asks for when a silence holds some receivers back.
func (c counted) NamesFor(inc *incident.Incident) []string {
	if r, ok := c.next.(interface {
		NamesFor(*incident.Incident) []string
	}); ok {
		return r.NamesFor(inc)
	}
	return c.next.Names()
}
