package incident

import (
	"context"
	"fmt"
	"time"

	"github.com/ecs-medic/ecs-medic/internal/deployment"
)

// Record appends a timeline entry to an incident (a notification sent, an action taken).
func (m *Manager) Record(ctx context.Context, id string, e Entry) (*Incident, error) {
	return m.modify(ctx, id, func(inc *Incident, now time.Time) bool {
		if e.At.IsZero() {
			e.At = now
		}
		inc.addEntry(e)
		return true
	})
}

// Delivered records what each receiver did with a notification: a timeline entry each, the
// receiver's handle, and a pending notice for the reconciler to re-send when delivery failed (or
// for a restart to re-queue while it waits in a background queue).
func (m *Manager) Delivered(ctx context.Context, id string, ds []Delivery) (*Incident, error) {
	return m.modify(ctx, id, func(inc *Incident, now time.Time) bool {
		if inc.Notices == nil {
			inc.Notices = map[string]*Notice{}
		}
		for _, d := range ds {
			n := inc.Notices[d.Notifier]
			if n == nil {
				n = &Notice{}
				inc.Notices[d.Notifier] = n
			}
			switch {
			case d.Queued:
				// No timeline entry: the delivery (or its failure) will say what happened.
				if n.Pending == "" {
					n.PendingSince = &now
				}
				n.Pending = d.Kind
			case d.Skipped != "":
				inc.suppress(d.Notifier + ": " + d.Skipped)
				inc.addEntry(Entry{At: now, Actor: d.Notifier, Kind: "suppressed", Message: fmt.Sprintf("%s: %s not sent: %s", d.Notifier, d.Kind, d.Skipped)})
				if n.Pending == d.Kind {
					n.Pending, n.PendingSince = "", nil
				}
			case d.Err != nil:
				if n.Pending == "" {
					n.PendingSince = &now
				}
				if !d.Superseded {
					n.Pending = d.Kind
				}
				inc.addEntry(Entry{At: now, Actor: d.Notifier, Kind: "notify-failed",
					Message: fmt.Sprintf("%s: %s not delivered after %d attempt(s), will retry: %v", d.Notifier, d.Kind, d.Attempts, d.Err)})
			default:
				if d.Ref != "" {
					n.Ref = d.Ref
				}
				n.Last = d.Kind
				if !d.Superseded {
					n.Pending, n.PendingSince = "", nil
				}
				inc.addEntry(Entry{At: now, Actor: d.Notifier, Kind: "notified", Message: fmt.Sprintf("%s: %s sent", d.Notifier, d.Kind)})
			}
		}
		return len(ds) > 0
	})
}

// LinkDeployment records the deployment an incident's failures most likely come from, once; the
// timeline says so, since it changes what a responder does first (roll back).
func (m *Manager) LinkDeployment(ctx context.Context, id string, l *deployment.Link) (*Incident, error) {
	return m.modify(ctx, id, func(inc *Incident, now time.Time) bool {
		if inc.Deployment != nil || l == nil {
			return false
		}
		inc.Deployment = l
		inc.addEntry(Entry{At: now, Actor: actorMedic, Kind: "deployment", Message: l.Summary()})
		return true
	})
}

// AttachLogs keeps the last lines of the failed container's log on the incident: at most
// MaxLogLines lines of at most MaxLogLine bytes each, the newest kept.
func (m *Manager) AttachLogs(ctx context.Context, id, group, stream string, lines []string, reason string) (*Incident, error) {
	if len(lines) > MaxLogLines {
		lines = lines[len(lines)-MaxLogLines:]
	}
	kept := make([]string, len(lines))
	for i, l := range lines {
		kept[i] = Clip(l, MaxLogLine)
	}
	return m.modify(ctx, id, func(inc *Incident, now time.Time) bool {
		inc.LogLines, inc.LogError = kept, Clip(reason, MaxText)
		inc.Facts.LogGroup, inc.Facts.LogStream = Clip(group, 512), Clip(stream, 512)
		return true
	})
}
