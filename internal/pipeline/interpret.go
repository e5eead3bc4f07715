package pipeline

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/ecs-medic/ecs-medic/internal/classify"
	"github.com/ecs-medic/ecs-medic/internal/event"
	"github.com/ecs-medic/ecs-medic/internal/incident"
)

// Interpretation is what an event means, before any state is read: whether it concerns an
// incident, of which cause, with what evidence. It is pure, and is all `medic classify` prints.
type Interpretation struct {
	// Relevant is false for events that are not failures and touch no incident (a RUNNING task,
	// an expected stop, an informational service action with nothing open).
	Relevant bool
	// Opens reports whether the event may open an incident.
	Opens     bool
	Signal    incident.Signal
	Diagnosis *classify.Diagnosis
	// Why says, for an irrelevant event, why it was ignored.
	Why string
}

// Interpret maps a decoded event to the signal it carries, classifying stopped tasks with the
// built-in rules.
func Interpret(ev *event.Event) Interpretation { return InterpretWith(ev, nil) }

// InterpretWith is Interpret with a classifier that may carry the operator's rules (nil: the
// built-in rules only).
func InterpretWith(ev *event.Event, c *classify.Classifier) Interpretation {
	sig := incident.Signal{
		EventID:    ev.ID,
		DetailType: ev.DetailType,
		Time:       ev.Time,
		Marks:      append(make([]string, 0, 2), "evt#"+ev.ID), // a task's change adds its own
		Facts:      incident.Facts{EventID: ev.ID, DetailType: ev.DetailType},
	}
	switch {
	case ev.Task != nil:
		return interpretTask(ev, sig, c)
	case ev.Service != nil:
		return interpretServiceAction(ev, sig)
	case ev.Deployment != nil:
		return interpretDeployment(ev, sig)
	case ev.Alarm != nil:
		return interpretAlarm(ev, sig)
	}
	return Interpretation{Why: "no detail"}
}

func serviceScope(ev *event.Event) incident.Scope {
	s := incident.Scope{Account: ev.Account, Region: ev.Region, Cluster: ev.Cluster(), Service: ev.ServiceName()}
	if s.Service == "" && ev.Task != nil {
		s.Service = ev.Task.Group // "family:<name>" for standalone tasks
	}
	return s
}

func interpretTask(ev *event.Event, sig incident.Signal, c *classify.Classifier) Interpretation {
	t := ev.Task
	sig.Scope = serviceScope(ev)
	if t.LastStatus != "STOPPED" {
		return Interpretation{Signal: sig, Why: "task is " + t.LastStatus + ", not STOPPED"}
	}
	d := c.Task(t)
	sig.Kind = incident.Failure
	sig.Cause, sig.Sub, sig.Confidence, sig.Diagnosis = d.Cause, d.Sub, d.Confidence, &d
	sig.Marks = append(sig.Marks, "task#"+t.TaskArn+"#"+strconv.FormatInt(t.Version, 10))
	sig.TaskID = event.TaskID(t.TaskArn)
	sig.Evidence = d.Primary()
	sig.Facts.TaskArn = t.TaskArn
	sig.Facts.TaskDefinition = t.TaskDefinitionArn
	sig.Facts.Group = t.Group
	sig.Facts.LaunchType = t.LaunchType
	sig.Facts.CPU, sig.Facts.Memory = t.CPU, t.Memory
	sig.Facts.StoppedAt = t.StoppedAt
	sig.Facts.StoppedReason, sig.Facts.StopCode = t.StoppedReason, t.StopCode
	in := Interpretation{Signal: sig, Diagnosis: &d}
	if !d.Cause.OpensIncident() {
		in.Why = "expected stop: " + d.Primary()
		return in
	}
	in.Relevant, in.Opens = true, true
	return in
}

func interpretServiceAction(ev *event.Event, sig incident.Signal) Interpretation {
	s := ev.Service
	sig.Scope = serviceScope(ev)
	sig.Facts.Reason = s.Reason
	sig.Message = fmt.Sprintf("ECS service action %s (%s)", s.EventName, s.EventType)
	if s.Reason != "" {
		sig.Message += ": " + s.Reason
	}
	sig.Evidence = s.EventName
	if s.Reason != "" {
		sig.Evidence += " " + s.Reason
	}
	sig.Confidence = classify.Confirmed
	switch s.EventName {
	case "SERVICE_TASK_START_IMPAIRED":
		sig.Kind, sig.Cause = incident.Corroborate, classify.StartImpaired
		return Interpretation{Relevant: true, Opens: true, Signal: sig}
	case "SERVICE_TASK_PLACEMENT_FAILURE":
		sig.Kind, sig.Cause = incident.Failure, classify.PlacementFailure
		if strings.HasPrefix(s.Reason, "RESOURCE:") {
			sig.Sub = strings.ToLower(strings.TrimPrefix(s.Reason, "RESOURCE:"))
		}
		return Interpretation{Relevant: true, Opens: true, Signal: sig}
	default:
		// SERVICE_STEADY_STATE, CAPACITY_PROVIDER_STEADY_STATE, discovery health, ...: context for
		// open incidents, never a reason to open one.
		sig.Kind = incident.Note
		return Interpretation{Relevant: true, Signal: sig}
	}
}

func interpretDeployment(ev *event.Event, sig incident.Signal) Interpretation {
	d := ev.Deployment
	sig.Scope = serviceScope(ev)
	sig.Facts.Reason = d.Reason
	sig.Message = fmt.Sprintf("ECS deployment %s %s", d.DeploymentID, d.EventName)
	if d.Reason != "" {
		sig.Message += ": " + d.Reason
	}
	sig.Evidence = d.Reason
	sig.Confidence = classify.Confirmed
	if d.EventName == "SERVICE_DEPLOYMENT_FAILED" {
		sig.Kind, sig.Cause = incident.Corroborate, classify.DeploymentFailed
		return Interpretation{Relevant: true, Opens: true, Signal: sig}
	}
	// In progress (including a circuit-breaker rollback) and completed are context.
	sig.Kind = incident.Note
	return Interpretation{Relevant: true, Signal: sig}
}

// ScalingAlarmPrefix starts the names of the alarms Application Auto Scaling creates for target
// tracking policies: scaling signals that go to ALARM by design, not incidents.
// https://docs.aws.amazon.com/autoscaling/application/userguide/application-auto-scaling-target-tracking.html
const ScalingAlarmPrefix = "TargetTracking-"

// ServiceNamespaces are the metric namespaces whose ClusterName and ServiceName dimensions name an
// ECS service: ECS's own metrics and Container Insights.
var ServiceNamespaces = []string{"AWS/ECS", "ECS/ContainerInsights"}

// AlarmService returns the ECS service an alarm's metrics belong to: the ClusterName and
// ServiceName dimensions of an ECS or Container Insights metric. ok is false when no metric names
// a service, or when its metrics name more than one.
func AlarmService(a *event.AlarmDetail) (cluster, service string, ok bool) {
	for _, m := range a.Configuration.Metrics {
		if m.MetricStat == nil {
			continue
		}
		met := m.MetricStat.Metric
		if !slices.Contains(ServiceNamespaces, met.Namespace) {
			continue
		}
		c, _ := met.Dimensions["ClusterName"].(string)
		s, _ := met.Dimensions["ServiceName"].(string)
		if c == "" || s == "" {
			continue
		}
		if ok && (c != cluster || s != service) {
			return "", "", false
		}
		cluster, service, ok = c, s, true
	}
	return cluster, service, ok
}

func interpretAlarm(ev *event.Event, sig incident.Signal) Interpretation {
	a := ev.Alarm
	sig.Scope = incident.Scope{Account: ev.Account, Region: ev.Region, Alarm: a.AlarmName}
	if cluster, service, ok := AlarmService(a); ok {
		// The alarm belongs to the service: its incident sits in the service's scope, beside the
		// service's other incidents, so the service's runbooks and fixes apply.
		sig.Scope = incident.Scope{Account: ev.Account, Region: ev.Region, Cluster: cluster, Service: service}
	}
	sig.Alarm = a.AlarmName
	sig.Facts.Alarm = a.AlarmName
	sig.Cause = classify.Alarm
	sig.Confidence = classify.Confirmed
	if strings.HasPrefix(a.AlarmName, ScalingAlarmPrefix) {
		return Interpretation{Signal: sig, Why: "Application Auto Scaling's target-tracking alarm: a scaling signal, not an incident"}
	}
	sig.Facts.Reason = a.State.Reason
	sig.Evidence = a.State.Reason
	sig.Message = fmt.Sprintf("alarm %s %s → %s: %s", a.AlarmName, a.PreviousState.Value, a.State.Value, a.State.Reason)
	switch a.State.Value {
	case "ALARM":
		sig.Kind = incident.Failure
		return Interpretation{Relevant: true, Opens: true, Signal: sig}
	case "OK":
		sig.Kind = incident.Recover
		return Interpretation{Relevant: true, Signal: sig}
	default:
		sig.Kind = incident.Note
		return Interpretation{Relevant: true, Signal: sig}
	}
}
