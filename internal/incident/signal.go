package incident

import (
	"time"

	"github.com/ecs-medic/ecs-medic/internal/classify"
	"github.com/ecs-medic/ecs-medic/internal/servicestate"
	"github.com/ecs-medic/ecs-medic/internal/severity"
)

// Kind says what a signal may do to incidents.
type Kind int

// Signal kinds.
const (
	// Failure opens an incident for its cause, or adds an occurrence to the open one.
	Failure Kind = iota
	// Corroborate attaches to any active incident of the scope (e.g. tasks failing to start while
	// an OOM incident is open); with none, it opens one for its own cause.
	Corroborate
	// Note attaches to active incidents of the scope as a timeline entry and never opens one.
	Note
	// Recover resolves the active incident of the scope with the signal's cause (alarm back to OK).
	Recover
)

// Signal is one diagnosed event, ready to be applied to incidents.
type Signal struct {
	Kind       Kind
	EventID    string
	DetailType string
	Time       time.Time
	Scope      Scope
	Cause      classify.Cause
	Sub        string
	Confidence classify.Confidence
	Diagnosis  *classify.Diagnosis
	Facts      Facts
	// Marks are the idempotency keys of the event: its EventBridge id, and for task events the
	// task ARN with detail.version.
	Marks []string
	// Severity assessed for the scope now; State and StateError what it was assessed from.
	Severity   severity.Level
	State      *servicestate.Snapshot
	StateError string
	// TaskID and Evidence feed the occurrence sample.
	TaskID   string
	Evidence string
	// Message is the timeline text for Corroborate, Note and Recover signals.
	Message string
	// Runbook and Page come from the runbook matching the signal.
	Runbook string
	Page    bool
	Fix     string
	// Alarm is the CloudWatch alarm the signal comes from (its scope may be the alarm's service).
	Alarm string
	// FlapThreshold and FlapWindow come from the runbook too (zero: the defaults).
	FlapThreshold int
	FlapWindow    time.Duration
}

// Outcome says what a signal did.
type Outcome struct {
	// Incident is the incident the signal landed on (nil when it touched none).
	Incident *Incident
	Opened   bool
	// Raised is set when the incident's severity rose.
	Raised bool
	// Relapsed is set when the cause recurred after a fix: automation stops and people are paged.
	Relapsed bool
	Resolved bool
	// Duplicate is set when the event had been handled before: nothing changed.
	Duplicate bool
	// Attached lists the incidents a Note or Corroborate signal was recorded on.
	Attached []*Incident
}
