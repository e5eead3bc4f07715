package route

import (
	"context"
	"slices"

	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/notify"
)

// Sender delivers each incident's notifications to the receivers of the route the incident
// recorded when it opened (incident.Route): its page, message, thread replies, acknowledgement,
// resolution and escalation all reach the same team. Routes have receivers of their own (their
// own fan-out), so a route whose key or channel fails delays no other route's page.
type Sender struct {
	routes   map[string]notify.Sender
	fallback notify.Sender
	names    []string
}

var _ notify.Sender = (*Sender)(nil)

// NewSender returns a Sender over each route's receivers (by route name); fallback serves the
// default route and any name it does not know.
func NewSender(routes map[string]notify.Sender, fallback notify.Sender) *Sender {
	s := &Sender{routes: routes, fallback: fallback}
	for _, r := range append([]notify.Sender{fallback}, values(routes)...) {
		for _, n := range r.Names() {
			if !slices.Contains(s.names, n) {
				s.names = append(s.names, n)
			}
		}
	}
	return s
}

func values(m map[string]notify.Sender) []notify.Sender {
	out := make([]notify.Sender, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func (s *Sender) pick(inc *incident.Incident) notify.Sender {
	if inc != nil {
		if r, ok := s.routes[inc.Route]; ok {
			return r
		}
	}
	return s.fallback
}

// Send implements notify.Sender: the notification goes to its incident's route only.
func (s *Sender) Send(ctx context.Context, n notify.Notification, only ...string) []notify.Result {
	return s.pick(n.Incident).Send(ctx, n, only...)
}

// Names implements notify.Sender: every receiver name any route has.
func (s *Sender) Names() []string { return s.names }

// NamesFor returns the receivers of an incident's route.
func (s *Sender) NamesFor(inc *incident.Incident) []string { return s.pick(inc).Names() }

// Broken is a receiver that cannot be set up (its route's key could not be read at start): every
// notification to it fails, not retried, saying why, so the incident's timeline and the logs
// carry the reason while other routes deliver.
type Broken struct {
	Receiver string
	Err      error
}

var _ notify.Notifier = Broken{}

// Name implements notify.Notifier.
func (b Broken) Name() string { return b.Receiver }

// Notify implements notify.Notifier.
func (b Broken) Notify(context.Context, notify.Notification) (bool, error) { return false, b.Err }
