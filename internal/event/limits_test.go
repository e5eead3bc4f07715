package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// The decoder's limits, each at its bound: these tests use only Decode and the names it derives, so
// they hold whichever decoder (fast or strict) takes an event.

// taskEvent builds a task state change with the given fields; slow adds a field only the strict
// decoder reads (a \u escape), so each case is tried down both paths.
func taskEvent(id, account, region, clusterArn, taskArn, group, taskDef string, resources []string, slow bool) []byte {
	detail := map[string]any{"clusterArn": clusterArn, "taskArn": taskArn, "group": group, "taskDefinitionArn": taskDef, "lastStatus": "STOPPED", "version": 3}
	env := map[string]any{"version": "0", "id": id, "detail-type": TypeTaskStateChange, "source": "aws.ecs", "account": account,
		"time": "2026-11-27T03:00:00Z", "region": region, "resources": resources, "detail": detail}
	raw, _ := json.Marshal(env)
	if slow {
		raw = bytes.Replace(raw, []byte(`"lastStatus":"STOPPED"`), []byte(`"lastStatus":"STOPPED","stoppedReason":"caf\u00e9"`), 1)
	}
	return raw
}

func TestDecodeSizeLimit(t *testing.T) {
	if MaxEventSize != 256*1024 {
		t.Fatalf("MaxEventSize %d: EventBridge's limit is 256 KiB", MaxEventSize)
	}
	base := taskEvent("e1", "111122223333", "us-east-1", "arn:aws:ecs:us-east-1:111122223333:cluster/prod",
		"arn:aws:ecs:us-east-1:111122223333:task/prod/abc", "service:checkout", "", nil, false)
	pad := func(n int) []byte { return append(bytes.Clone(base), bytes.Repeat([]byte(" "), n-len(base))...) }
	ev, err := Decode(pad(MaxEventSize))
	if err != nil || ev.Task == nil || ev.ServiceName() != "checkout" {
		t.Fatalf("an event of exactly %d bytes: %v", MaxEventSize, err)
	}
	_, err = Decode(pad(MaxEventSize + 1))
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), fmt.Sprintf("%d bytes, the limit is %d", MaxEventSize+1, MaxEventSize)) {
		t.Fatalf("one byte over: %v", err)
	}
}

func TestDecodeLengthLimits(t *testing.T) {
	arn := func(n int) string { // an ARN of exactly n characters
		p := "arn:aws:ecs:us-east-1:111122223333:task/prod/"
		return p + strings.Repeat("a", n-len(p))
	}
	clusterArn := func(nameLen int) string {
		return "arn:aws:ecs:us-east-1:111122223333:cluster/" + strings.Repeat("c", nameLen)
	}
	type fields struct {
		id, account, region, clusterArn, taskArn, group, taskDef string
		resources                                                []string
	}
	ok := fields{"e1", "111122223333", "us-east-1", clusterArn(4), arn(60), "service:checkout", "", nil}
	for _, tc := range []struct {
		name     string
		change   func(f *fields)
		accepted bool
		says     string
	}{
		{"id of 256", func(f *fields) { f.id = strings.Repeat("i", 256) }, true, ""},
		{"id of 257", func(f *fields) { f.id = strings.Repeat("i", 257) }, false, "id is 257 characters"},
		{"account of 64", func(f *fields) { f.account = strings.Repeat("1", 64) }, true, ""},
		{"account of 65", func(f *fields) { f.account = strings.Repeat("1", 65) }, false, "account is 65"},
		{"region of 64", func(f *fields) { f.region = strings.Repeat("r", 64) }, true, ""},
		{"region of 65", func(f *fields) { f.region = strings.Repeat("r", 65) }, false, "region is 65"},
		{"cluster name of 255", func(f *fields) { f.clusterArn = clusterArn(255) }, true, ""},
		{"cluster name of 256", func(f *fields) { f.clusterArn = clusterArn(256) }, false, "cluster name is 256"},
		{"service name of 255", func(f *fields) { f.group = "service:" + strings.Repeat("s", 255) }, true, ""},
		{"service name of 256", func(f *fields) { f.group = "service:" + strings.Repeat("s", 256) }, false, "service name is 256"},
		{"group of 271", func(f *fields) { f.group = "family:" + strings.Repeat("f", 264) }, true, ""},
		{"group of 272", func(f *fields) { f.group = "family:" + strings.Repeat("f", 265) }, false, "group is 272"},
		{"taskArn of 2048", func(f *fields) { f.taskArn = arn(2048) }, true, ""},
		{"taskArn of 2049", func(f *fields) { f.taskArn = arn(2049) }, false, "taskArn is 2049"},
		{"clusterArn of 2048", func(f *fields) { f.clusterArn = strings.Repeat("x", 2048-201) + "/" + strings.Repeat("c", 200) }, true, ""},
		{"clusterArn of 2049", func(f *fields) { f.clusterArn = strings.Repeat("x", 2049-201) + "/" + strings.Repeat("c", 200) }, false, "clusterArn is 2049"},
		{"taskDefinitionArn of 2048", func(f *fields) { f.taskDef = arn(2048) }, true, ""},
		{"taskDefinitionArn of 2049", func(f *fields) { f.taskDef = arn(2049) }, false, "taskDefinitionArn is 2049"},
		{"resource of 2048", func(f *fields) { f.resources = []string{"x", arn(2048)} }, true, ""},
		{"resource of 2049", func(f *fields) { f.resources = []string{"x", arn(2049)} }, false, "resource ARN is 2049"},
	} {
		for _, slow := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/strict=%v", tc.name, slow), func(t *testing.T) {
				f := ok
				tc.change(&f)
				raw := taskEvent(f.id, f.account, f.region, f.clusterArn, f.taskArn, f.group, f.taskDef, f.resources, slow)
				ev, err := Decode(raw)
				if tc.accepted {
					if err != nil || ev.Task == nil {
						t.Fatalf("refused: %v", err)
					}
					return
				}
				if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.says) {
					t.Fatalf("got %v, want a malformed event saying %q", err, tc.says)
				}
				var de *DecodeError
				if errors.As(err, &de) && len(de.ID) > 64+len("…") {
					t.Fatalf("an oversized id is quoted whole in the error (%d bytes)", len(de.ID))
				}
			})
		}
	}
	// An alarm name is bounded like a cluster name.
	alarm := func(n int) []byte {
		return []byte(fmt.Sprintf(`{"id":"a1","detail-type":%q,"source":"aws.cloudwatch","account":"1","region":"r","detail":{"alarmName":%q,"state":{"value":"ALARM"}}}`,
			TypeAlarmStateChange, strings.Repeat("n", n)))
	}
	if _, err := Decode(alarm(255)); err != nil {
		t.Errorf("alarm name of 255: %v", err)
	}
	if _, err := Decode(alarm(256)); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "alarmName is 256") {
		t.Errorf("alarm name of 256: %v", err)
	}
}

// An oversized id is quoted cut, an id that fits whole.
func TestDecodeErrorID(t *testing.T) {
	long := strings.Repeat("i", 300)
	_, err := Decode(taskEvent(long, "1", "r", "arn:aws:ecs:r:1:cluster/c", "arn:aws:ecs:r:1:task/c/t", "", "", nil, true))
	var de *DecodeError
	if !errors.As(err, &de) || de.ID != long[:64]+"…" {
		t.Fatalf("id in the error: %q (%v)", de.ID, err)
	}
	if !strings.HasPrefix(err.Error(), "event "+long[:64]+"…: malformed event: id is 300 characters") {
		t.Errorf("error text %q", err)
	}
	_, err = Decode([]byte(`{"id":"e9","detail-type":"ECS Task State Change","detail":{"clusterArn":"c"}}`))
	if err == nil || err.Error() != "event e9: malformed event: task state change without taskArn" {
		t.Errorf("error text %v", err)
	}
	_, err = Decode([]byte(`nope`))
	if errors.As(err, &de); err == nil || de.ID != "" || !strings.HasPrefix(err.Error(), "malformed event: invalid JSON at byte") {
		t.Errorf("error without an id: %v", err)
	}
}

func TestDecodeRequiredFields(t *testing.T) {
	for _, tc := range []struct {
		name, raw, says string
	}{
		{"task without clusterArn", `{"id":"e","detail-type":"ECS Task State Change","detail":{"taskArn":"t"}}`, "without clusterArn"},
		{"service action without eventName", `{"id":"e","detail-type":"ECS Service Action","resources":["arn:aws:ecs:r:1:service/c/s"],"detail":{}}`, "without eventName"},
		{"deployment without eventName", `{"id":"e","detail-type":"ECS Deployment State Change","resources":["arn:aws:ecs:r:1:service/c/s"],"detail":{}}`, "without eventName"},
		{"deployment without service", `{"id":"e","detail-type":"ECS Deployment State Change","detail":{"eventName":"SERVICE_DEPLOYMENT_FAILED"}}`, "without a service ARN"},
		{"alarm without alarmName", `{"id":"e","detail-type":"CloudWatch Alarm State Change","detail":{"state":{"value":"ALARM"}}}`, "without alarmName"},
		{"no detail-type", `{"id":"e","detail":{}}`, "no detail-type"},
		{"detail an array", `{"id":"e","detail-type":"ECS Task State Change","detail":[]}`, "not a JSON object"},
		{"string for object", `{"id":"e","detail-type":"ECS Task State Change","detail":{"taskArn":"t","clusterArn":"c","containers":[{"name":true}]}}`, "got JSON boolean"},
		{"array for string", `{"id":"e","detail-type":"ECS Task State Change","detail":{"taskArn":[],"clusterArn":"c"}}`, "got JSON array"},
		{"object for string", `{"id":"e","detail-type":"ECS Task State Change","detail":{"taskArn":{},"clusterArn":"c"}}`, "got JSON object"},
		{"number for string", `{"id":"e","detail-type":"ECS Task State Change","detail":{"taskArn":1,"clusterArn":"c"}}`, "got JSON number"},
		{"string for number", `{"id":"e","detail-type":"ECS Task State Change","detail":{"taskArn":"t","clusterArn":"c","version":"1"}}`, "got JSON string"},
	} {
		_, err := Decode([]byte(tc.raw))
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.says)
		}
	}
	// Each detail type decodes into its own detail, and only that one.
	for _, tc := range []struct{ raw, want string }{
		{`{"id":"e","detail-type":"ECS Service Action","resources":["arn:aws:ecs:r:1:service/c/s"],"detail":{"eventName":"SERVICE_STEADY_STATE"}}`, "service"},
		{`{"id":"e","detail-type":"ECS Deployment State Change","resources":["arn:aws:ecs:r:1:service/c/s"],"detail":{"eventName":"SERVICE_DEPLOYMENT_FAILED"}}`, "deployment"},
		{`{"id":"e","detail-type":"CloudWatch Alarm State Change","detail":{"alarmName":"a"}}`, "alarm"},
		{`{"id":"e","detail-type":"ECS Task State Change","detail":{"taskArn":"t","clusterArn":"c"}}`, "task"},
	} {
		ev, err := Decode([]byte(tc.raw))
		if err != nil {
			t.Fatalf("%s: %v", tc.want, err)
		}
		got := []string{}
		for name, set := range map[string]bool{"task": ev.Task != nil, "service": ev.Service != nil, "deployment": ev.Deployment != nil, "alarm": ev.Alarm != nil} {
			if set {
				got = append(got, name)
			}
		}
		if len(got) != 1 || got[0] != tc.want {
			t.Errorf("%s event decoded as %v", tc.want, got)
		}
	}
}

// Names come from both ARN formats ECS uses.
func TestNames(t *testing.T) {
	for _, tc := range []struct {
		name, raw                   string
		cluster, service, arn, task string
	}{
		{"task, long ARN", `{"id":"e","detail-type":"ECS Task State Change","detail":{"taskArn":"arn:aws:ecs:r:1:task/prod/abc123","clusterArn":"arn:aws:ecs:r:1:cluster/prod","group":"service:checkout"}}`,
			"prod", "checkout", "", "abc123"},
		{"task outside a service", `{"id":"e","detail-type":"ECS Task State Change","detail":{"taskArn":"arn:aws:ecs:r:1:task/abc123","clusterArn":"arn:aws:ecs:r:1:cluster/prod","group":"family:batch"}}`,
			"prod", "", "", "abc123"},
		{"service action with its cluster", `{"id":"e","detail-type":"ECS Service Action","resources":["arn:aws:ecs:r:1:cluster/x","arn:aws:ecs:r:1:service/prod/api"],"detail":{"eventName":"E","clusterArn":"arn:aws:ecs:r:1:cluster/prod"}}`,
			"prod", "api", "arn:aws:ecs:r:1:service/prod/api", ""},
		{"service action, old service ARN, cluster from its clusterArn", `{"id":"e","detail-type":"ECS Service Action","resources":["arn:aws:ecs:r:1:service/api"],"detail":{"eventName":"E","clusterArn":"arn:aws:ecs:r:1:cluster/prod"}}`,
			"prod", "api", "arn:aws:ecs:r:1:service/api", ""},
		{"service action without clusterArn", `{"id":"e","detail-type":"ECS Service Action","resources":["arn:aws:ecs:r:1:service/prod/api"],"detail":{"eventName":"E"}}`,
			"prod", "api", "arn:aws:ecs:r:1:service/prod/api", ""},
		{"deployment, long service ARN", `{"id":"e","detail-type":"ECS Deployment State Change","resources":["arn:aws:ecs:r:1:service/prod/api"],"detail":{"eventName":"E"}}`,
			"prod", "api", "arn:aws:ecs:r:1:service/prod/api", ""},
		{"deployment, old service ARN", `{"id":"e","detail-type":"ECS Deployment State Change","resources":["arn:aws:ecs:r:1:service/api"],"detail":{"eventName":"E"}}`,
			"", "api", "arn:aws:ecs:r:1:service/api", ""},
		{"alarm", `{"id":"e","detail-type":"CloudWatch Alarm State Change","resources":["arn:aws:cloudwatch:r:1:alarm:a"],"detail":{"alarmName":"a"}}`,
			"", "", "", ""},
	} {
		ev, err := Decode([]byte(tc.raw))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if ev.Cluster() != tc.cluster || ev.ServiceName() != tc.service || ev.ServiceArn() != tc.arn || ev.TaskID() != tc.task {
			t.Errorf("%s: cluster %q service %q arn %q task %q", tc.name, ev.Cluster(), ev.ServiceName(), ev.ServiceArn(), ev.TaskID())
		}
	}
	if TaskID("arn:aws:ecs:r:1:task/prod/xyz") != "xyz" || TaskID("xyz") != "xyz" || TaskID("") != "" {
		t.Error("TaskID")
	}
}
