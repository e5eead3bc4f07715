package event

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// sameAsStrict fails when the fast decoder accepts what the strict one refuses, or decodes it
// differently. (The fast decoder may decline anything: the strict one then decides.)
func sameAsStrict(t *testing.T, raw []byte) {
	t.Helper()
	fast, ok := decodeFast(raw)
	if !ok {
		return
	}
	strict, err := decodeStrict(raw)
	if err != nil {
		t.Fatalf("fast decoder accepted what the strict one refuses (%v):\n%s", err, raw)
	}
	if !reflect.DeepEqual(fast, strict) {
		t.Fatalf("decoded differently:\nfast   %+v\nstrict %+v", fast, strict)
	}
}

func sampleEvents(t testing.TB) [][]byte {
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "events", "*.json"))
	var out [][]byte
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, raw); err != nil {
			t.Fatal(err)
		}
		out = append(out, raw, compact.Bytes())
	}
	return out
}

func TestFastMatchesStrict(t *testing.T) {
	// Every sample, as stored and as EventBridge delivers it (compact), takes the fast path.
	for _, raw := range sampleEvents(t) {
		sameAsStrict(t, raw)
		if _, err := decodeStrict(raw); err != nil {
			continue // the container instance sample: a kind ecs-medic does not handle
		}
		if _, ok := decodeFast(raw); !ok {
			t.Errorf("the fast decoder declined a sample:\n%.200s", raw)
		}
	}
	task := `{"id":"x","detail-type":"ECS Task State Change","time":"2026-11-27T03:00:00Z","detail":{"taskArn":"a","clusterArn":"c",%s}}`
	for _, tc := range []struct {
		name, extra string
		fast        bool // whether the fast decoder may take it
	}{
		{"plain", `"containers":[{"name":"app","exitCode":137,"reason":"OutOfMemoryError"}],"version":3`, true},
		{"escaped quote", `"stoppedReason":"exec: \"/app\": not found"`, true},
		{"null fields", `"containers":[null,{"exitCode":null}],"stoppedAt":null,"stopCode":null`, true},
		{"duplicate name", `"stopCode":"a","stopCode":"b"`, false},
		{"duplicate deep", `"overrides":{"x":1,"x":2}`, false},
		{"unicode escape", `"stoppedReason":"caf\u00e9"`, false},
		{"lone surrogate", `"stoppedReason":"\ud800"`, false},
		{"fraction", `"version":1.5`, false},
		{"exponent", `"version":1e2`, false},
		{"nan", `"version":NaN`, false},
		{"string for number", `"version":"3"`, false},
		{"number for string", `"stopCode":3`, false},
		{"bad time", `"stoppedAt":"yesterday"`, false},
		{"control char", "\"stoppedReason\":\"a\x01b\"", false},
		{"newline in a string with an escape", "\"stoppedReason\":\"a\n\\tb\"", false},
		{"invalid escape", `"stoppedReason":"a\qb"`, false},
		{"object for array", `"containers":{}`, false},
		{"leading zero elsewhere", `"overrides":{"n":01}`, false},
		{"bare minus elsewhere", `"overrides":{"n":-}`, false},
		{"dot without digits elsewhere", `"overrides":{"n":1.}`, false},
		{"plus sign elsewhere", `"overrides":{"n":+1}`, false},
		{"numbers elsewhere", `"overrides":{"a":-0,"b":1.5e-3,"c":[0,10,2E+2]}`, true},
		{"escapes", `"stoppedReason":"a\/b\\c\td\"e"`, true},
		{"escaped name", `"stop\/Code":"a"`, false},
		{"many containers", `"containers":[{"name":"a","reason":"r1","exitCode":1},{"name":"b"},{"name":"c","exitCode":0},{"name":"d","exitCode":2,"reason":"r\n4"},{"name":"e"}]`, true},
		{"empty containers", `"containers":[]`, true},
		{"container not an object", `"containers":[1]`, false},
		{"whitespace", " \"stopCode\" :\t\"x\" ,\n\"containers\" : [ { \"name\" : \"a\" } ] ", true},
		{"carriage returns", "\r\n\"stopCode\":\r\n\"x\"\r\n,\r\"group\":\"g\"\r", true},
		{"control byte between tokens", "\"stopCode\":\"x\",\x01\"group\":\"g\"", false},
		{"vertical tab between tokens", "\"stopCode\":\"x\"\x0b,\"group\":\"g\"", false},
		{"form feed before a value", "\"stopCode\":\x0c\"x\"", false},
		{"trailing comma", `"stopCode":"x",`, false},
		{"deep", `"overrides":` + strings.Repeat("[", 100) + strings.Repeat("]", 100), false},
		{"big integer", `"version":99999999999999999999`, false},
		{"negative zero", `"version":-0`, true},
		{"time with offset", `"stoppedAt":"2026-11-27T03:00:00.5+01:00"`, true},
		{"time null", `"stoppedAt":null`, true},
		{"true false null elsewhere", `"overrides":{"a":true,"b":false,"c":null}`, true},
		{"bad literal", `"overrides":{"a":tru}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := []byte(strings.Replace(task, "%s", tc.extra, 1))
			sameAsStrict(t, raw)
			if _, ok := decodeFast(raw); ok != tc.fast {
				t.Errorf("fast decoder took it: %v, want %v", ok, tc.fast)
			}
		})
	}
}

func TestFastMatchesStrictEnvelopes(t *testing.T) {
	for _, tc := range []struct {
		name, raw string
		fast      bool
	}{
		{"detail before detail-type", `{"detail":{"taskArn":"a","clusterArn":"c"},"id":"x","detail-type":"ECS Task State Change"}`, true},
		{"no detail", `{"id":"x","detail-type":"ECS Task State Change"}`, false},
		{"null detail", `{"id":"x","detail-type":"ECS Task State Change","detail":null}`, false},
		{"unsupported type", `{"id":"x","detail-type":"EC2 Instance State-change Notification","detail":{}}`, false},
		{"no id", `{"detail-type":"ECS Task State Change","detail":{"taskArn":"a","clusterArn":"c"}}`, false},
		{"trailing data", `{"id":"x","detail-type":"ECS Task State Change","detail":{"taskArn":"a","clusterArn":"c"}} x`, false},
		{"many resources", `{"id":"x","detail-type":"ECS Service Action","resources":["r1","arn:aws:ecs:r:1:service/c/s","r3"],"detail":{"eventName":"SERVICE_STEADY_STATE"}}`, true},
		{"empty resources", `{"id":"x","detail-type":"ECS Task State Change","resources":[],"detail":{"taskArn":"a","clusterArn":"c"}}`, true},
		{"service without a service ARN", `{"id":"x","detail-type":"ECS Service Action","resources":["r1"],"detail":{"eventName":"SERVICE_STEADY_STATE"}}`, false},
		{"deployment", `{"id":"x","detail-type":"ECS Deployment State Change","resources":["arn:aws:ecs:r:1:service/c/s"],"detail":{"eventName":"SERVICE_DEPLOYMENT_FAILED","updatedAt":"2026-11-27T03:00:00Z","reason":"r"}}`, true},
		{"alarm", `{"id":"x","detail-type":"CloudWatch Alarm State Change","detail":{"alarmName":"a","state":{"value":"ALARM"},"previousState":null,"configuration":{"metrics":[null,{"id":"m","metricStat":{"metric":{"namespace":"AWS/ECS","dimensions":{"ClusterName":"c","ServiceName":"s","X":null}}}},{"metricStat":null},{"metricStat":{"metric":null}}]}}}`, true},
		{"alarm empty dimensions", `{"id":"x","detail-type":"CloudWatch Alarm State Change","detail":{"alarmName":"a","configuration":{"metrics":[{"metricStat":{"metric":{"dimensions":{}}}}]}}}`, true},
		{"alarm number dimension", `{"id":"x","detail-type":"CloudWatch Alarm State Change","detail":{"alarmName":"a","configuration":{"metrics":[{"metricStat":{"metric":{"dimensions":{"N":1}}}}]}}}`, false},
		{"alarm duplicate dimension", `{"id":"x","detail-type":"CloudWatch Alarm State Change","detail":{"alarmName":"a","configuration":{"metrics":[{"metricStat":{"metric":{"dimensions":{"N":"1","N":"2"}}}}]}}}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sameAsStrict(t, []byte(tc.raw))
			if _, ok := decodeFast([]byte(tc.raw)); ok != tc.fast {
				t.Errorf("fast decoder took it: %v, want %v", ok, tc.fast)
			}
		})
	}
}

func FuzzFastMatchesStrict(f *testing.F) {
	for _, raw := range sampleEvents(f) {
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) { sameAsStrict(t, raw) })
}
