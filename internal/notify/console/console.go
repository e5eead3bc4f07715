// Package console is the notifier used when no receiver is configured: it writes one readable
// line per notification, so the whole flow is visible on a laptop.
package console

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/ecs-medic/ecs-medic/internal/notify"
)

// Notifier writes notifications to a writer.
type Notifier struct {
	mu sync.Mutex
	w  io.Writer
}

var _ notify.Notifier = (*Notifier)(nil)

// New returns a console notifier writing to w.
func New(w io.Writer) *Notifier { return &Notifier{w: w} }

// Name implements notify.Notifier.
func (*Notifier) Name() string { return "console" }

// Notify implements notify.Notifier. A console write never benefits from a retry.
func (c *Notifier) Notify(_ context.Context, n notify.Notification) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, err := io.WriteString(c.w, Format(n)+"\n")
	return false, err
}

// Format renders a notification as one line.
func Format(n notify.Notification) string {
	inc := n.Incident
	if n.Kind == notify.Test {
		return "[TEST] " + inc.Title
	}
	var b strings.Builder
	fmt.Fprintf(&b, "[%s] %s %s %s — %s", inc.Severity, strings.ToUpper(string(n.Kind)), inc.ID, inc.Scope.Name(), inc.Title)
	if len(inc.Occurrences.Evidence) > 0 {
		fmt.Fprintf(&b, " | evidence: %q", inc.Occurrences.Evidence[0])
	}
	if inc.ServiceState != nil {
		fmt.Fprintf(&b, " | running %d/%d", inc.ServiceState.Running, inc.ServiceState.Desired)
	} else if inc.StateError != "" {
		b.WriteString(" | service state unknown")
	}
	fmt.Fprintf(&b, " | %d occurrence(s)", inc.Occurrences.Count)
	if inc.State.Active() {
		fmt.Fprintf(&b, " | respond by %s", inc.SLADeadline.UTC().Format(time.RFC3339))
	}
	return Clean(b.String())
}

// Clean makes one line of text safe for a terminal or a log file: control characters (a newline
// in a service name would forge a whole "[P1] OPENED" line; escape sequences would drive the
// terminal) and invisible formatting characters (bidi overrides) become spaces.
func Clean(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == unicode.ReplacementChar {
			return ' '
		}
		return r
	}, s)
}
