package event

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// MaxEventSize is the largest event Decode accepts. EventBridge refuses events over 256 KB
// (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html), so anything
// larger did not come from it.
const MaxEventSize = 256 * 1024

// Sentinel errors a caller can branch on with errors.Is.
var (
	// ErrMalformed means the bytes are not a JSON event of the expected shape.
	ErrMalformed = errors.New("malformed event")
	// ErrUnsupported means a well-formed event of a kind ecs-medic does not handle.
	ErrUnsupported = errors.New("unsupported event")
	// ErrTooLarge means the event is larger than MaxEventSize.
	ErrTooLarge = errors.New("event too large")
)

// DecodeError says why one event could not be decoded, naming the event id when it could be read.
type DecodeError struct {
	ID     string
	Reason string
	Kind   error // ErrMalformed, ErrUnsupported or ErrTooLarge
}

func (e *DecodeError) Error() string {
	if e.ID != "" {
		return fmt.Sprintf("event %s: %s: %s", e.ID, e.Kind, e.Reason)
	}
	return fmt.Sprintf("%s: %s", e.Kind, e.Reason)
}

// Unwrap lets errors.Is match the kind.
func (e *DecodeError) Unwrap() error { return e.Kind }

// Decode parses one EventBridge event and its detail.
func Decode(raw []byte) (*Event, error) {
	if len(raw) > MaxEventSize {
		return nil, &DecodeError{Kind: ErrTooLarge, Reason: fmt.Sprintf("%d bytes, the limit is %d", len(raw), MaxEventSize)}
	}
	if ev, ok := decodeFast(raw); ok && ev.checkLengths() == "" {
		return ev, nil
	}
	return decodeStrict(raw) // which words every error, names too long included
}

// decodeStrict decodes with the reflective JSON decoder: the reference for what is accepted, and
// the one that words every error.
func decodeStrict(raw []byte) (*Event, error) {
	// The envelope is read with its time left raw, so that a bad time or a payload that is not
	// an EventBridge event at all gets a precise error rather than a time-parsing one.
	var env struct {
		Envelope
		Time   jsontext.Value `json:"time"`
		Detail jsontext.Value `json:"detail"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		return nil, &DecodeError{ID: peekID(raw), Kind: ErrMalformed, Reason: jsonReason(err)}
	}
	if env.ID == "" && env.DetailType == "" {
		return nil, &DecodeError{Kind: ErrMalformed, Reason: "not an EventBridge event (no id and no detail-type); " +
			"CloudWatch alarm-action and SNS payloads are not accepted: route alarms through an EventBridge rule"}
	}
	ev := Event{Envelope: env.Envelope}
	fail := func(kind error, format string, args ...any) (*Event, error) {
		return nil, &DecodeError{ID: ev.ID, Kind: kind, Reason: fmt.Sprintf(format, args...)}
	}
	if ev.ID == "" {
		return fail(ErrMalformed, "no event id")
	}
	if ev.DetailType == "" {
		return fail(ErrMalformed, "no detail-type")
	}
	if len(env.Time) > 0 && string(env.Time) != "null" {
		if err := json.Unmarshal(env.Time, &ev.Time); err != nil {
			return fail(ErrMalformed, "field time: %s", err)
		}
	}
	detail := bytes.TrimSpace(env.Detail)
	if len(detail) == 0 || bytes.Equal(detail, []byte("null")) {
		return fail(ErrMalformed, "%q event has no detail", ev.DetailType)
	}
	if detail[0] != '{' {
		return fail(ErrMalformed, "detail is not a JSON object")
	}
	var target any
	switch ev.DetailType {
	case TypeTaskStateChange:
		ev.Task = &TaskDetail{}
		target = ev.Task
	case TypeServiceAction:
		ev.Service = &ServiceActionDetail{}
		target = ev.Service
	case TypeDeploymentStateChange:
		ev.Deployment = &DeploymentDetail{}
		target = ev.Deployment
	case TypeAlarmStateChange:
		ev.Alarm = &AlarmDetail{}
		target = ev.Alarm
	default:
		return fail(ErrUnsupported, "detail-type %q (source %q) is not one ecs-medic handles", ev.DetailType, ev.Source)
	}
	if err := json.Unmarshal(detail, target); err != nil {
		return fail(ErrMalformed, "%s detail: %s", ev.DetailType, jsonReason(err))
	}
	switch {
	case ev.Task != nil && ev.Task.TaskArn == "":
		return fail(ErrMalformed, "task state change without taskArn")
	case ev.Task != nil && ev.Task.ClusterArn == "":
		return fail(ErrMalformed, "task state change without clusterArn")
	case ev.Service != nil && ev.Service.EventName == "":
		return fail(ErrMalformed, "service action without eventName")
	case ev.Deployment != nil && ev.Deployment.EventName == "":
		return fail(ErrMalformed, "deployment state change without eventName")
	case ev.Alarm != nil && ev.Alarm.AlarmName == "":
		return fail(ErrMalformed, "alarm state change without alarmName")
	case (ev.Service != nil || ev.Deployment != nil) && ev.ServiceArn() == "":
		return fail(ErrMalformed, "%s without a service ARN in resources", ev.DetailType)
	}
	if err := ev.checkLengths(); err != "" {
		ev.ID = clip(ev.ID)
		return fail(ErrMalformed, "%s", err)
	}
	return &ev, nil
}

// Longest values AWS produces: an ARN is at most 2048 characters, cluster, service and alarm
// names at most 255, an account id 12 digits, an EventBridge id is a UUID. Anything longer did
// not come from AWS, and could not be kept as a store key: it is refused as malformed (400),
// never answered "retry" as if the store had failed.
// https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CreateService.html
const (
	maxID   = 256
	maxName = 255
	maxARN  = 2048
)

func (ev *Event) checkLengths() string {
	// Every event passes here: the checks come first and the words only for a value too long.
	type check struct {
		what, v string
		n       int
	}
	checks := [...]check{
		{"id", ev.ID, maxID}, {"account", ev.Account, 64}, {"region", ev.Region, 64},
		{"cluster name", ev.Cluster(), maxName}, {"service name", ev.ServiceName(), maxName},
		{}, {}, {}, {}, {},
	}
	if ev.Task != nil {
		checks[5] = check{"taskArn", ev.Task.TaskArn, maxARN}
		checks[6] = check{"clusterArn", ev.Task.ClusterArn, maxARN}
		checks[7] = check{"group", ev.Task.Group, maxName + 16}
		checks[8] = check{"taskDefinitionArn", ev.Task.TaskDefinitionArn, maxARN}
	}
	if ev.Alarm != nil {
		checks[9] = check{"alarmName", ev.Alarm.AlarmName, maxName}
	}
	long := func(what, v string, n int) string {
		return fmt.Sprintf("%s is %d characters, longer than AWS allows (%d)", what, len(v), n)
	}
	for _, c := range checks {
		if c.what != "" && len(c.v) > c.n {
			return long(c.what, c.v, c.n)
		}
	}
	for _, r := range ev.Resources {
		if len(r) > maxARN {
			return long("resource ARN", r, maxARN)
		}
	}
	return ""
}

// clip keeps an oversized id short enough to quote in an error.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// peekID digs the id out of an event that failed to decode as a whole, so the error can name it.
func peekID(raw []byte) string {
	var probe struct {
		ID jsontext.Value `json:"id"`
	}
	if json.Unmarshal(raw, &probe) != nil {
		return ""
	}
	var id string
	if json.Unmarshal(probe.ID, &id) != nil {
		return ""
	}
	return id
}

// jsonReason turns the JSON decoder's errors into a short reason naming the field or offset.
func jsonReason(err error) string {
	var sem *json.SemanticError
	var syn *jsontext.SyntacticError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return "truncated JSON: the input ends before the event does"
	case errors.As(err, &sem):
		field := string(sem.JSONPointer)
		if field == "" {
			field = "(top level)"
		}
		if sem.GoType != nil && sem.JSONKind != 0 {
			return fmt.Sprintf("field %s: want %s, got JSON %s", field, sem.GoType, kindName(sem.JSONKind))
		}
		return fmt.Sprintf("field %s: %v", field, sem.Err)
	case errors.As(err, &syn):
		return fmt.Sprintf("invalid JSON at byte %d: %v", syn.ByteOffset, syn.Err)
	default:
		return err.Error()
	}
}

func kindName(k jsontext.Kind) string {
	switch k {
	case 'n':
		return "null"
	case 'f', 't':
		return "boolean"
	case '"':
		return "string"
	case '0':
		return "number"
	case '{':
		return "object"
	case '[':
		return "array"
	}
	return k.String()
}
