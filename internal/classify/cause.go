// Package classify diagnoses why an ECS task stopped: one cause of the cause table in
// docs/classification.md, a sub-cause where the text is clear, how sure it is, the container that
// decided it and the verbatim evidence. It reads a reason's structure (message.go) with the
// built-in rules (rules.go), after the operator's own (operator.go). It is pure: no I/O, no clock,
// safe for concurrent use.
package classify

// Cause is one of the cause slugs of docs/classification.md, or a signal kind for events that are not stopped
// tasks.
type Cause string

// The causes a stopped task can be given (docs/classification.md).
const (
	OOMKilled        Cause = "oom-killed"
	EssentialExit    Cause = "essential-exit"
	ResourceInit     Cause = "resource-init"
	ImagePull        Cause = "image-pull"
	HealthCheck      Cause = "health-check"
	StartFailure     Cause = "start-failure"
	SpotInterruption Cause = "spot-interruption"
	HostLost         Cause = "host-lost"
	Expected         Cause = "expected"
	Unknown          Cause = "unknown"
)

// Signal kinds: incidents opened by events other than a stopped task. They share the cause field
// of an incident so that "one open incident per service and cause" covers them too.
const (
	// StartImpaired is ECS's SERVICE_TASK_START_IMPAIRED: tasks of the service keep failing to start.
	StartImpaired Cause = "start-impaired"
	// PlacementFailure is SERVICE_TASK_PLACEMENT_FAILURE: no capacity to place the service's tasks.
	PlacementFailure Cause = "placement-failure"
	// DeploymentFailed is SERVICE_DEPLOYMENT_FAILED: the deployment circuit breaker gave up.
	DeploymentFailed Cause = "deployment-failed"
	// Alarm is a CloudWatch alarm in ALARM.
	Alarm Cause = "alarm"
	// Degraded is a service found below its desired count, not trying to start tasks, with no
	// incident open: the events that should have reported it were lost.
	Degraded Cause = "service-degraded"
)

// Confidence says how directly the evidence names the cause.
type Confidence string

// Confidence levels.
const (
	// Confirmed: the text names the cause.
	Confirmed Confidence = "confirmed"
	// Suspected: only indirect evidence points at it (e.g. exit 137 without a memory reason).
	Suspected Confidence = "suspected"
)

// Causes lists every cause slug a stopped task can get, in the cause table's order.
var Causes = []Cause{OOMKilled, EssentialExit, ResourceInit, ImagePull, HealthCheck, StartFailure,
	SpotInterruption, HostLost, Expected, Unknown}

// SOPItem is the SOP-002 checklist line a cause corresponds to, "" where the SOP has none.
func (c Cause) SOPItem() string {
	switch c {
	case OOMKilled:
		return "OOMKilled"
	case EssentialExit:
		return "Essential container exited"
	case ResourceInit:
		return "ResourceInitializationError"
	case ImagePull:
		return "CannotPullContainerError"
	}
	return ""
}

// Title is the cause in words, for people.
func (c Cause) Title() string {
	switch c {
	case OOMKilled:
		return "container ran out of memory (OOMKilled)"
	case EssentialExit:
		return "essential container exited"
	case ResourceInit:
		return "task resources failed to initialize"
	case ImagePull:
		return "container image could not be pulled"
	case HealthCheck:
		return "task failed health checks"
	case StartFailure:
		return "container failed to start"
	case SpotInterruption:
		return "Spot capacity interrupted the task"
	case HostLost:
		return "host or infrastructure lost"
	case Expected:
		return "expected stop"
	case StartImpaired:
		return "tasks are failing to start"
	case PlacementFailure:
		return "tasks cannot be placed"
	case DeploymentFailed:
		return "deployment failed"
	case Alarm:
		return "CloudWatch alarm"
	case Degraded:
		return "service below its desired count"
	}
	return "unknown stop reason"
}

// OpensIncident reports whether a stopped task of this cause is a failure worth an incident.
func (c Cause) OpensIncident() bool { return c != Expected }
