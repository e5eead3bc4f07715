package event

import "strings"

// Names derived from the ARNs in an event. ECS has two ARN formats: the old one without the
// cluster in service and task ARNs (service/name, task/id) and the long one (service/cluster/name,
// task/cluster/id); both appear in real events.

// Cluster is the cluster name the event concerns, or "" for alarm events.
func (e *Event) Cluster() string {
	switch {
	case e.Task != nil:
		return lastSegment(e.Task.ClusterArn)
	case e.Service != nil && e.Service.ClusterArn != "":
		return lastSegment(e.Service.ClusterArn)
	case e.Service != nil || e.Deployment != nil:
		if parts := resourceParts(e.ServiceArn()); len(parts) == 3 {
			return parts[1]
		}
	}
	return ""
}

// ServiceName is the ECS service the event concerns. For a task outside a service it is "".
func (e *Event) ServiceName() string {
	switch {
	case e.Task != nil:
		if name, ok := strings.CutPrefix(e.Task.Group, "service:"); ok {
			return name
		}
	case e.Service != nil || e.Deployment != nil:
		if parts := resourceParts(e.ServiceArn()); len(parts) >= 2 {
			return parts[len(parts)-1]
		}
	}
	return ""
}

// ServiceArn is the service ARN named in the event's resources, if any.
func (e *Event) ServiceArn() string {
	for _, r := range e.Resources {
		if strings.Contains(r, ":service/") {
			return r
		}
	}
	return ""
}

// TaskID is the short id of the task (the last segment of its ARN).
func (e *Event) TaskID() string {
	if e.Task == nil {
		return ""
	}
	return lastSegment(e.Task.TaskArn)
}

// TaskID returns the short id of a task ARN.
func TaskID(taskArn string) string { return lastSegment(taskArn) }

// lastSegment returns what follows the last '/' of an ARN ("arn:...:cluster/prod" -> "prod").
func lastSegment(arn string) string {
	if i := strings.LastIndexByte(arn, '/'); i >= 0 {
		return arn[i+1:]
	}
	return arn
}

// resourceParts splits the resource part of an ARN: "service/prod/api" -> [service prod api].
func resourceParts(arn string) []string {
	i := strings.LastIndexByte(arn, ':')
	if i < 0 {
		return nil
	}
	return strings.Split(arn[i+1:], "/")
}
