package event

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
)

func readSample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "events", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeSamples(t *testing.T) {
	for _, tc := range []struct {
		file, cluster, service string
		check                  func(*Event) bool
	}{
		{"ecs-task-state-change-stopped-essential-container-exited.json", "crossfeed-staging-worker", "",
			func(e *Event) bool {
				c := e.Task.Containers[0]
				return e.Task.StopCode == "EssentialContainerExited" && c.Name == "main" && *c.ExitCode == 1 && e.Task.Version == 5 && e.TaskID() == "eeccdb34-d8cf-49e7-b379-1cf4f123c0ee"
			}},
		{"ecs-task-state-change-stopped-elb-health-check.json", "sin-web_cluster-dev", "sin-web_service-dev",
			func(e *Event) bool { return *e.Task.Containers[0].ExitCode == 143 && e.Task.StoppedAt != nil }},
		{"ecs-task-state-change-running-fargate.json", "FargateCluster", "", func(e *Event) bool { return e.Task.LastStatus == "RUNNING" }},
		{"ecs-service-action-task-start-impaired.json", "default", "servicetest", func(e *Event) bool { return e.Service.EventName == "SERVICE_TASK_START_IMPAIRED" }},
		{"ecs-service-action-task-placement-failure.json", "default", "servicetest", func(e *Event) bool { return e.Service.Reason == "RESOURCE:FARGATE" }},
		{"ecs-deployment-state-change-failed.json", "default", "servicetest", func(e *Event) bool { return e.Deployment.DeploymentID == "ecs-svc/123" }},
		{"cloudwatch-alarm-state-change-single-metric.json", "", "", func(e *Event) bool {
			return e.Alarm.AlarmName == "ServerCpuTooHigh" && e.Alarm.State.Value == "ALARM" && e.Alarm.PreviousState.Value == "OK"
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			ev, err := Decode(readSample(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if ev.Cluster() != tc.cluster || ev.ServiceName() != tc.service {
				t.Errorf("cluster %q service %q", ev.Cluster(), ev.ServiceName())
			}
			if !tc.check(ev) {
				t.Errorf("decoded wrongly: %+v", ev)
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	task := string(readSample(t, "ecs-task-state-change-stopped-essential-container-exited.json"))
	for _, tc := range []struct {
		name, input string
		kind        error
		id          string
		says        string
	}{
		{"empty", "", ErrMalformed, "", "truncated"},
		{"not json", "hello", ErrMalformed, "", "invalid JSON"},
		{"truncated", task[:len(task)/2], ErrMalformed, "", "truncated"},
		{"array", "[1,2]", ErrMalformed, "", "want"},
		{"missing detail", `{"id":"e1","detail-type":"ECS Task State Change","source":"aws.ecs"}`, ErrMalformed, "e1", "no detail"},
		{"null detail", `{"id":"e1","detail-type":"ECS Task State Change","detail":null}`, ErrMalformed, "e1", "no detail"},
		{"detail string", `{"id":"e1","detail-type":"ECS Task State Change","detail":"x"}`, ErrMalformed, "e1", "not a JSON object"},
		{"wrong type", `{"id":"e2","detail-type":"ECS Task State Change","detail":{"taskArn":"a","clusterArn":"c","version":"five"}}`, ErrMalformed, "e2", "version"},
		{"wrong exit code type", `{"id":"e3","detail-type":"ECS Task State Change","detail":{"taskArn":"a","clusterArn":"c","containers":[{"exitCode":"1"}]}}`, ErrMalformed, "e3", "exitCode"},
		{"no task arn", `{"id":"e4","detail-type":"ECS Task State Change","detail":{"clusterArn":"c"}}`, ErrMalformed, "e4", "taskArn"},
		{"bad time", `{"id":"e5","detail-type":"ECS Task State Change","time":"yesterday","detail":{"taskArn":"a","clusterArn":"c"}}`, ErrMalformed, "e5", "time"},
		{"unknown type", `{"id":"e6","detail-type":"EC2 Instance State-change Notification","source":"aws.ec2","detail":{}}`, ErrUnsupported, "e6", "EC2 Instance"},
		{"no id", `{"detail-type":"ECS Task State Change","detail":{}}`, ErrMalformed, "", "no event id"},
		{"service action without service", `{"id":"e7","detail-type":"ECS Service Action","detail":{"eventName":"SERVICE_STEADY_STATE"}}`, ErrMalformed, "e7", "service ARN"},
		{"alarm payload", string(readSample(t, "../non-eventbridge/cloudwatch-alarm-lambda-action-metric.json")), ErrMalformed, "", "not an EventBridge event"},
		{"1 MB of garbage", strings.Repeat("\x00garbage", 1<<17), ErrTooLarge, "", "limit"},
		{"big but wrong id type", `{"id":5,"detail-type":"x"}`, ErrMalformed, "", "id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := Decode([]byte(tc.input))
			if err == nil {
				t.Fatalf("accepted: %+v", ev)
			}
			if !errors.Is(err, tc.kind) {
				t.Errorf("kind: %v, want %v", err, tc.kind)
			}
			var de *DecodeError
			if !errors.As(err, &de) || de.ID != tc.id {
				t.Errorf("id %q, want %q (%v)", de.ID, tc.id, err)
			}
			if !strings.Contains(err.Error(), tc.says) {
				t.Errorf("error %q does not say %q", err, tc.says)
			}
		})
	}
}

func TestSplit(t *testing.T) {
	a := readSample(t, "ecs-task-state-change-stopped-essential-container-exited.json")
	b := readSample(t, "ecs-service-action-task-start-impaired.json")
	oneLine := func(x []byte) []byte {
		var buf bytes.Buffer
		for _, l := range bytes.Split(x, []byte("\n")) {
			buf.Write(bytes.TrimSpace(l))
		}
		return buf.Bytes()
	}
	for _, tc := range []struct {
		name  string
		input []byte
		n     int
	}{
		{"object", a, 1},
		{"array", append(append(append([]byte("["), a...), ','), append(b, ']')...), 2},
		{"concatenated", append(append([]byte{}, a...), b...), 2},
		{"json lines", bytes.Join([][]byte{oneLine(a), oneLine(b)}, []byte("\n")), 2},
		{"json lines with a broken line", bytes.Join([][]byte{oneLine(a), []byte(`{"id": "broken`), oneLine(b)}, []byte("\n")), 3},
		{"blank", []byte("  \n"), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raws, err := Split(tc.input)
			if err != nil || len(raws) != tc.n {
				t.Fatalf("%d messages, %v; want %d", len(raws), err, tc.n)
			}
		})
	}
	if _, err := Split([]byte(`[{"id":1},`)); err == nil {
		t.Error("broken array accepted")
	}
}

// FuzzDecode: no input makes Decode panic, and every failure is a DecodeError of a known kind.
func FuzzDecode(f *testing.F) {
	entries, _ := os.ReadDir(filepath.Join("..", "..", "testdata", "events"))
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".json") {
			f.Add(readSample(f, e.Name()))
		}
	}
	f.Add([]byte(`{"id":"x","detail-type":"ECS Task State Change","detail":{"taskArn":"a","clusterArn":"c","containers":[{}]}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		ev, err := Decode(raw)
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error is not a DecodeError: %v", err)
			}
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupported) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("unknown error kind: %v", err)
			}
			return
		}
		// A decoded event has exactly one detail, and names derive without panicking.
		n := 0
		for _, d := range []bool{ev.Task != nil, ev.Service != nil, ev.Deployment != nil, ev.Alarm != nil} {
			if d {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%d details", n)
		}
		_, _, _ = ev.Cluster(), ev.ServiceName(), ev.TaskID()
	})
}

// FuzzSplit: Split never panics, and never loses a whole well-formed line of a JSON-lines input.
func FuzzSplit(f *testing.F) {
	f.Add([]byte("[{}]"))
	f.Add([]byte("{}\n{\"a\":1}\n{"))
	f.Add([]byte("{\"id\":\"a\"}\n{broken\n{\"id\":\"b\"}"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		parts, err := Split(raw)
		if err != nil {
			return // a broken array: refused as a whole, with a reason
		}
		// Nothing is invented and nothing is empty: every message is a piece of the input.
		for i, p := range parts {
			if len(bytes.TrimSpace(p)) == 0 || !bytes.Contains(raw, p) {
				t.Fatalf("part %d %q is empty or not from the input %q", i, p, raw)
			}
		}
		// One object is one message, whole.
		trimmed := bytes.TrimSpace(raw)
		if len(trimmed) > 0 && trimmed[0] == '{' && jsontext.Value(trimmed).IsValid() && (len(parts) != 1 || !bytes.Equal(parts[0], trimmed)) {
			t.Fatalf("one object %q split into %q", trimmed, parts)
		}
	})
}
