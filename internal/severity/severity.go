// Package severity decides an incident's level, P1 to P3, from the service's real state (how many
// of its desired tasks run), and the time to respond each level allows (SLA). It is pure: no I/O
// and no clock; callers pass the state.
package severity

import (
	"fmt"
	"time"
)

// Level is an incident severity. Lower numbers are more severe.
type Level int

// The SOP-002 levels.
const (
	P1 Level = 1 // desired > 0 and running = 0: the service is down
	P2 Level = 2 // more than half of the desired tasks not running
	P3 Level = 3 // degraded: a task failed
)

func (l Level) String() string {
	if l < P1 || l > P3 {
		return fmt.Sprintf("P%d?", int(l))
	}
	return fmt.Sprintf("P%d", int(l))
}

// MarshalText writes "P1".."P3".
func (l Level) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// UnmarshalText reads "P1".."P3".
func (l *Level) UnmarshalText(b []byte) error {
	parsed, err := Parse(string(b))
	if err != nil {
		return err
	}
	*l = parsed
	return nil
}

// Parse reads "P1", "P2" or "P3".
func Parse(s string) (Level, error) {
	switch s {
	case "P1", "p1":
		return P1, nil
	case "P2", "p2":
		return P2, nil
	case "P3", "p3":
		return P3, nil
	}
	return 0, fmt.Errorf("severity %q: want P1, P2 or P3", s)
}

// Higher reports whether l is more severe than other.
func (l Level) Higher(other Level) bool { return l < other }

// SLA is how long a responder has to acknowledge an incident of this level (SOP-002).
func (l Level) SLA() time.Duration {
	switch l {
	case P1:
		return 15 * time.Minute
	case P2:
		return 30 * time.Minute
	default:
		return 2 * time.Hour
	}
}

// State is the part of a service's state severity is decided from.
type State struct {
	Desired int `json:"desired"`
	Running int `json:"running"`
	Pending int `json:"pending"`
}

// Assess applies SPEC §2 to a service's state.
func Assess(s State) Level {
	switch {
	case s.Desired > 0 && s.Running == 0:
		return P1
	// running < desired/2, in real numbers: 1 of 3 is P2, 2 of 4 is not.
	case 2*s.Running < s.Desired:
		return P2
	default:
		return P3
	}
}
