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
	taskOK := 0
	for _, raw := range sampleEvents(t) {
		sameAsStrict(t, raw)
		if ev, ok := decodeFast(raw); ok && ev.Task != nil {
			taskOK++
		}
	}
	// The compact forms of the three task samples.
	if taskOK != 3 {
		t.Fatalf("the fast decoder took %d task events, want 3: it is not used as EventBridge delivers events", taskOK)
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

func FuzzFastMatchesStrict(f *testing.F) {
	for _, raw := range sampleEvents(f) {
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) { sameAsStrict(t, raw) })
}
