package event

import "strings"

// Names derived from the ARNs in an event. ECS has two ARN formats: the old one without the
// cluster in service and task ARNs (service/name, task/id) and the long one (service/cluster/name,
// task/cluster/id); both appear in real events.

// Cluster is the cluster name the event concerns, or "" for alarm events.
func (e *Event) Cluster() string {
	switch {
	case e.Task != nil:
		return ResourceName(e.Task.ClusterArn)
	case e.Service != nil && e.Service.ClusterArn != "":
		return ResourceName(e.Service.ClusterArn)
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
	return ResourceName(e.Task.TaskArn)
}

// TaskID returns the short id of a task ARN.
func TaskID(taskArn string) string { return ResourceName(taskArn) }

// ResourceName is the last segment of an ARN's resource, the name people use: "prod" for
// arn:aws:ecs:…:cluster/prod, "checkout:12" for …:task-definition/checkout:12, "api" for
// …:service/prod/api, "app-role" for arn:aws:iam::…:role/team/app-role. What is not an ARN
// ("checkout:12", "prod/api") gives what follows its last '/'. The resource is found as
// aws/arn.Parse finds it, after the fifth ':', but without its allocation: every event's cluster
// and task names come through here.
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html
func ResourceName(s string) string {
	if strings.HasPrefix(s, "arn:") {
		rest := s
		for range 5 {
			i := strings.IndexByte(rest, ':')
			if i < 0 {
				rest = s
				break
			}
			rest = rest[i+1:]
		}
		s = rest
	}
	return s[strings.LastIndexByte(s, '/')+1:]
}

// resourceParts splits the resource part of an ARN: "service/prod/api" -> [service prod api].
func resourceParts(arn string) []string {
	i := strings.LastIndexByte(arn, ':')
	if i < 0 {
		return nil
	}
	return strings.Split(arn[i+1:], "/")
}
