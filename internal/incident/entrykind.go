package incident

import "strings"

// EntryKind is what a timeline entry records. Receivers (PagerDuty, Slack) and the reports branch
// on it, so it is one typed set here rather than strings matched by prefix in each of them; its
// string is what the stores keep.
type EntryKind string

// The timeline entry kinds.
const (
	KindOpened            EntryKind = "opened"
	KindSignal            EntryKind = "signal"
	KindSeverity          EntryKind = "severity"
	KindSuppressed        EntryKind = "suppressed"
	KindNotified          EntryKind = "notified"
	KindNotifyFailed      EntryKind = "notify-failed"
	KindDeployment        EntryKind = "deployment"
	KindAcknowledged      EntryKind = "acknowledged"
	KindRecovering        EntryKind = "recovering"
	KindState             EntryKind = "state"
	KindRelapse           EntryKind = "relapse"
	KindFlapping          EntryKind = "flapping"
	KindEscalated         EntryKind = "escalated"
	KindAutomationStopped EntryKind = "automation-stopped"
	KindResolved          EntryKind = "resolved"
	KindLogs              EntryKind = "logs"

	// KindAction is a fix carried out; the other action kinds are a fix that failed, one planned
	// in a dry run, one skipped by a guardrail and one considered (a suggestion, or a fix not
	// announced).
	KindAction           EntryKind = "action"
	KindActionFailed     EntryKind = "action-failed"
	KindActionPlanned    EntryKind = "action-planned"
	KindActionSkipped    EntryKind = "action-skipped"
	KindActionConsidered EntryKind = "action-considered"
)

// IsAction reports whether the entry is about a fix: carried out, failed, planned, skipped or
// considered.
func (k EntryKind) IsAction() bool {
	return k == KindAction || strings.HasPrefix(string(k), string(KindAction)+"-")
}

// Announced reports whether a fix entry of this kind is announced to the receivers (the others
// are only recorded).
func (k EntryKind) Announced() bool {
	return k == KindAction || k == KindActionFailed || k == KindActionPlanned || k == KindActionSkipped
}
