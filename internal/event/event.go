// Package event decodes the EventBridge events ecs-medic consumes: ECS task state changes, ECS
// service actions, ECS deployment state changes and CloudWatch alarm state changes.
//
// The detail structs are our own (aws-lambda-go leaves Detail raw and has no type for these), with
// explicit JSON tags and only the fields the pipeline reads, so that a field ECS adds tomorrow can
// never break decoding. Event shapes:
// https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_cwe_events.html and
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-and-eventbridge.html
package event

import (
	"time"
)

// Detail types of the EventBridge events ecs-medic handles.
const (
	TypeTaskStateChange       = "ECS Task State Change"
	TypeServiceAction         = "ECS Service Action"
	TypeDeploymentStateChange = "ECS Deployment State Change"
	TypeAlarmStateChange      = "CloudWatch Alarm State Change"
)

// Envelope is the EventBridge envelope common to every event.
type Envelope struct {
	Version    string    `json:"version"`
	ID         string    `json:"id"`
	DetailType string    `json:"detail-type"`
	Source     string    `json:"source"`
	Account    string    `json:"account"`
	Time       time.Time `json:"time"`
	Region     string    `json:"region"`
	Resources  []string  `json:"resources"`
}

// Event is one decoded event: the envelope and exactly one non-nil detail.
type Event struct {
	Envelope
	Task       *TaskDetail
	Service    *ServiceActionDetail
	Deployment *DeploymentDetail
	Alarm      *AlarmDetail
}

// TaskDetail is the detail of an ECS Task State Change event.
type TaskDetail struct {
	ClusterArn        string      `json:"clusterArn"`
	TaskArn           string      `json:"taskArn"`
	TaskDefinitionArn string      `json:"taskDefinitionArn"`
	Group             string      `json:"group"`
	LaunchType        string      `json:"launchType"`
	CapacityProvider  string      `json:"capacityProviderName"`
	PlatformVersion   string      `json:"platformVersion"`
	CPU               string      `json:"cpu"`
	Memory            string      `json:"memory"`
	LastStatus        string      `json:"lastStatus"`
	DesiredStatus     string      `json:"desiredStatus"`
	StopCode          string      `json:"stopCode"`
	StoppedReason     string      `json:"stoppedReason"`
	StartedBy         string      `json:"startedBy"`
	AvailabilityZone  string      `json:"availabilityZone"`
	ContainerInstance string      `json:"containerInstanceArn"`
	Containers        []Container `json:"containers"`
	CreatedAt         *time.Time  `json:"createdAt"`
	StartedAt         *time.Time  `json:"startedAt"`
	StoppingAt        *time.Time  `json:"stoppingAt"`
	StoppedAt         *time.Time  `json:"stoppedAt"`
	UpdatedAt         *time.Time  `json:"updatedAt"`
	// Version increases with every state change of the task; with the task ARN it identifies one
	// change, which is how a redelivery under a new event id is recognised.
	Version int64 `json:"version"`
}

// Container is one container of a task, as a task state change reports it.
type Container struct {
	Name       string `json:"name"`
	Image      string `json:"image"`
	LastStatus string `json:"lastStatus"`
	// ExitCode is nil when the container never ran (a pull or start failure).
	ExitCode     *int   `json:"exitCode"`
	Reason       string `json:"reason"`
	HealthStatus string `json:"healthStatus"`
	RuntimeID    string `json:"runtimeId"`
}

// ServiceActionDetail is the detail of an ECS Service Action event.
type ServiceActionDetail struct {
	EventType            string     `json:"eventType"`
	EventName            string     `json:"eventName"`
	ClusterArn           string     `json:"clusterArn"`
	CapacityProviderArns []string   `json:"capacityProviderArns"`
	Reason               string     `json:"reason"`
	DesiredCount         *int       `json:"desiredCount"`
	TaskArns             []string   `json:"taskArns"`
	CreatedAt            *time.Time `json:"createdAt"`
}

// DeploymentDetail is the detail of an ECS Deployment State Change event.
type DeploymentDetail struct {
	EventType    string     `json:"eventType"`
	EventName    string     `json:"eventName"`
	DeploymentID string     `json:"deploymentId"`
	Reason       string     `json:"reason"`
	UpdatedAt    *time.Time `json:"updatedAt"`
}

// AlarmDetail is the detail of a CloudWatch Alarm State Change event.
type AlarmDetail struct {
	AlarmName     string     `json:"alarmName"`
	State         AlarmState `json:"state"`
	PreviousState AlarmState `json:"previousState"`
	Configuration struct {
		Description string `json:"description"`
		AlarmRule   string `json:"alarmRule"`
		// Metrics are the alarm's metrics (one, or several for metric math).
		Metrics []AlarmMetric `json:"metrics"`
	} `json:"configuration"`
}

// AlarmMetric is one metric of an alarm. Dimensions are kept loosely typed: an odd value must not
// make the whole event unreadable.
type AlarmMetric struct {
	ID         string `json:"id"`
	MetricStat *struct {
		Metric struct {
			Namespace  string         `json:"namespace"`
			Name       string         `json:"name"`
			Dimensions map[string]any `json:"dimensions"`
		} `json:"metric"`
	} `json:"metricStat"`
}

// AlarmState is an alarm's state with the reason CloudWatch gave.
type AlarmState struct {
	Value     string `json:"value"`
	Reason    string `json:"reason"`
	Timestamp string `json:"timestamp"`
}
