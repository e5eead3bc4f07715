// Package eventgen builds realistic EventBridge events (the shapes of the samples in
// testdata/events) for tests, load runs and demo scenarios.
package eventgen

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// Account and Region are the defaults generated events carry.
const (
	Account = "111122223333"
	Region  = "us-east-1"
)

// Task describes a stopped task to generate.
type Task struct {
	ID            string // event id; default derived from TaskN
	Cluster       string
	Service       string // empty: a standalone task of family Family
	Family        string
	TaskN         int // distinguishes tasks; the task id is derived from it
	Version       int64
	Revision      int
	StoppedReason string
	StopCode      string
	Container     string
	Reason        string // container reason
	ExitCode      *int
	CPU, Memory   string
	Time          time.Time
	LastStatus    string // default STOPPED
}

// Exit returns a pointer to an exit code.
func Exit(code int) *int { return &code }

// TaskID returns the 32-hex task id of task n in cluster.
func TaskID(n int) string { return fmt.Sprintf("%032x", n) }

// TaskStopped renders a task state change event.
func TaskStopped(t Task) []byte {
	if t.Cluster == "" {
		t.Cluster = "prod"
	}
	if t.Family == "" {
		t.Family = t.Service
	}
	if t.Container == "" {
		t.Container = "app"
	}
	if t.Version == 0 {
		t.Version = 5
	}
	if t.Revision == 0 {
		t.Revision = 1
	}
	if t.LastStatus == "" {
		t.LastStatus = "STOPPED"
	}
	if t.Time.IsZero() {
		t.Time = time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
	}
	if t.CPU == "" {
		t.CPU, t.Memory = "256", "512"
	}
	if t.ID == "" {
		t.ID = fmt.Sprintf("%08x-0000-4000-8000-%012x", t.TaskN, t.Version)
	}
	taskArn := fmt.Sprintf("arn:aws:ecs:%s:%s:task/%s/%s", Region, Account, t.Cluster, TaskID(t.TaskN))
	group := "service:" + t.Service
	if t.Service == "" {
		group = "family:" + t.Family
	}
	container := map[string]any{
		"containerArn": fmt.Sprintf("arn:aws:ecs:%s:%s:container/%s/%s/%s", Region, Account, t.Cluster, TaskID(t.TaskN), "c0ffee00"),
		"lastStatus":   "STOPPED", "name": t.Container, "taskArn": taskArn,
		"image": fmt.Sprintf("%s.dkr.ecr.%s.amazonaws.com/%s:v%d", Account, Region, t.Family, t.Revision),
	}
	if t.ExitCode != nil {
		container["exitCode"] = *t.ExitCode
	}
	if t.Reason != "" {
		container["reason"] = t.Reason
	}
	detail := map[string]any{
		"clusterArn":        fmt.Sprintf("arn:aws:ecs:%s:%s:cluster/%s", Region, Account, t.Cluster),
		"taskArn":           taskArn,
		"taskDefinitionArn": fmt.Sprintf("arn:aws:ecs:%s:%s:task-definition/%s:%d", Region, Account, t.Family, t.Revision),
		"group":             group,
		"launchType":        "FARGATE",
		"cpu":               t.CPU,
		"memory":            t.Memory,
		"lastStatus":        t.LastStatus,
		"desiredStatus":     "STOPPED",
		"containers":        []any{container},
		"createdAt":         t.Time.Add(-2 * time.Minute).Format(time.RFC3339Nano),
		"stoppedAt":         t.Time.Format(time.RFC3339Nano),
		"updatedAt":         t.Time.Format(time.RFC3339Nano),
		"version":           t.Version,
		"platformVersion":   "1.4.0",
	}
	if t.StoppedReason != "" {
		detail["stoppedReason"] = t.StoppedReason
	}
	if t.StopCode != "" {
		detail["stopCode"] = t.StopCode
	}
	return envelope(t.ID, "ECS Task State Change", "aws.ecs", t.Time, []string{taskArn}, detail)
}

// OOM is a task killed for memory, as ECS reports it.
func OOM(cluster, service string, n int) []byte {
	return TaskStopped(Task{Cluster: cluster, Service: service, TaskN: n, StoppedReason: "Essential container in task exited",
		StopCode: "EssentialContainerExited", Reason: "OutOfMemoryError: Container killed due to memory usage", ExitCode: Exit(137)})
}

// Crash is an essential container that exited with code 1.
func Crash(cluster, service string, n, revision int) []byte {
	return TaskStopped(Task{Cluster: cluster, Service: service, TaskN: n, Revision: revision,
		StoppedReason: "Essential container in task exited", StopCode: "EssentialContainerExited", ExitCode: Exit(1)})
}

// ImagePull is a task whose image could not be pulled.
func ImagePull(cluster, service string, n int) []byte {
	return TaskStopped(Task{Cluster: cluster, Service: service, TaskN: n, StopCode: "TaskFailedToStart",
		StoppedReason: "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref " + Account + ".dkr.ecr.us-east-1.amazonaws.com/" + service + ":v9: " + Account + ".dkr.ecr.us-east-1.amazonaws.com/" + service + ":v9: not found"})
}

// ScaleIn is an expected stop from a deployment scaling in.
func ScaleIn(cluster, service string, n int) []byte {
	return TaskStopped(Task{Cluster: cluster, Service: service, TaskN: n, StopCode: "ServiceSchedulerInitiated",
		StoppedReason: "Scaling activity initiated by (deployment ecs-svc/4893270921123456789)", ExitCode: Exit(143)})
}

// ServiceAction renders an ECS Service Action event.
func ServiceAction(id, cluster, service, name, reason string, at time.Time) []byte {
	detail := map[string]any{
		"eventType": "WARN", "eventName": name,
		"clusterArn": fmt.Sprintf("arn:aws:ecs:%s:%s:cluster/%s", Region, Account, cluster),
		"createdAt":  at.Format(time.RFC3339Nano),
	}
	if reason != "" {
		detail["reason"] = reason
	}
	return envelope(id, "ECS Service Action", "aws.ecs", at,
		[]string{fmt.Sprintf("arn:aws:ecs:%s:%s:service/%s/%s", Region, Account, cluster, service)}, detail)
}

// Deployment renders an ECS Deployment State Change event.
func Deployment(id, cluster, service, name, reason string, at time.Time) []byte {
	return envelope(id, "ECS Deployment State Change", "aws.ecs", at,
		[]string{fmt.Sprintf("arn:aws:ecs:%s:%s:service/%s/%s", Region, Account, cluster, service)},
		map[string]any{"eventType": "ERROR", "eventName": name, "deploymentId": "ecs-svc/4893270921123456789",
			"updatedAt": at.Format(time.RFC3339Nano), "reason": reason})
}

// Alarm renders a CloudWatch Alarm State Change event.
func Alarm(id, name, from, to, reason string, at time.Time) []byte {
	return envelope(id, "CloudWatch Alarm State Change", "aws.cloudwatch", at,
		[]string{fmt.Sprintf("arn:aws:cloudwatch:%s:%s:alarm:%s", Region, Account, name)},
		map[string]any{"alarmName": name,
			"state":         map[string]any{"value": to, "reason": reason, "timestamp": at.Format("2006-01-02T15:04:05.000-0700")},
			"previousState": map[string]any{"value": from, "reason": "", "timestamp": at.Add(-time.Hour).Format("2006-01-02T15:04:05.000-0700")},
			"configuration": map[string]any{"description": name}})
}

func envelope(id, detailType, source string, at time.Time, resources []string, detail map[string]any) []byte {
	// Maps of strings, numbers and times' text cannot fail to marshal.
	b, _ := json.Marshal(map[string]any{
		"version": "0", "id": id, "detail-type": detailType, "source": source, "account": Account,
		"time": at.UTC().Format(time.RFC3339), "region": Region, "resources": resources, "detail": detail,
	})
	return b
}

// InAccount moves a generated event to another account: its envelope and every ARN in it.
func InAccount(raw []byte, account string) []byte {
	return bytes.ReplaceAll(raw, []byte(Account), []byte(account))
}

// ServiceAlarm renders a CloudWatch Alarm State Change of a metric alarm whose dimensions name an
// ECS service (namespace AWS/ECS or ECS/ContainerInsights).
func ServiceAlarm(id, name, namespace, metric, cluster, service, from, to, reason string, at time.Time) []byte {
	return envelope(id, "CloudWatch Alarm State Change", "aws.cloudwatch", at,
		[]string{fmt.Sprintf("arn:aws:cloudwatch:%s:%s:alarm:%s", Region, Account, name)},
		map[string]any{"alarmName": name,
			"state":         map[string]any{"value": to, "reason": reason, "timestamp": at.Format("2006-01-02T15:04:05.000-0700")},
			"previousState": map[string]any{"value": from, "reason": "", "timestamp": at.Add(-time.Hour).Format("2006-01-02T15:04:05.000-0700")},
			"configuration": map[string]any{"description": name, "metrics": []any{map[string]any{
				"id": "m1", "returnData": true,
				"metricStat": map[string]any{"period": 60, "stat": "Average", "metric": map[string]any{
					"namespace": namespace, "name": metric,
					"dimensions": map[string]any{"ClusterName": cluster, "ServiceName": service}}}}}}})
}
