package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// The fast decoder's own limits and cuts, each at its bound. Where the fast path gives up the
// strict decoder decides, so every case also checks that the two agree (sameAsStrict) and, where
// it matters, which path took the event.

const fastTask = `{"id":"x","detail-type":"ECS Task State Change","time":"2026-11-27T03:00:00Z","detail":{"taskArn":"a","clusterArn":"c",%s}}`

func withDetail(extra string) []byte { return []byte(strings.Replace(fastTask, "%s", extra, 1)) }

// fastCase checks one input: the fast path takes it or not, and the two decoders agree.
func fastCase(t *testing.T, raw []byte, fast bool) *Event {
	t.Helper()
	sameAsStrict(t, raw)
	ev, ok := decodeFast(raw)
	if ok != fast {
		t.Errorf("fast decoder took it: %v, want %v", ok, fast)
	}
	return ev
}

// Nesting up to maxDepth (the event's own object and its detail count) is read by the fast path,
// one level more goes to the strict decoder, which reads it the same; siblings add no depth.
func TestFastDepthBound(t *testing.T) {
	objects := func(n int) string { return strings.Repeat(`{"a":`, n-1) + `{}` + strings.Repeat(`}`, n-1) }
	arrays := func(n int) string { return strings.Repeat(`[`, n) + strings.Repeat(`]`, n) }
	siblings := func(v string, n int) string { return `[` + strings.TrimSuffix(strings.Repeat(v+",", n), ",") + `]` }
	for _, tc := range []struct {
		name, overrides string
		fast            bool
	}{
		{"objects to the bound", objects(maxDepth - 2), true},
		{"objects past the bound", objects(maxDepth - 1), false},
		{"arrays to the bound", arrays(maxDepth - 2), true},
		{"arrays past the bound", arrays(maxDepth - 1), false},
		{"many sibling objects", siblings(`{"a":{"b":{}}}`, 3*maxDepth), true},
		{"many sibling arrays", siblings(`[[[]]]`, 3*maxDepth), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := withDetail(`"overrides":` + tc.overrides)
			fastCase(t, raw, tc.fast)
			if _, err := Decode(raw); err != nil {
				t.Errorf("Decode: %v", err)
			}
		})
	}
}

// An event with more strings than the decoder notes inline (and more containers than its block
// holds) is read whole: every container, its name, reason and exit code.
func TestFastManyContainers(t *testing.T) {
	var cs []string
	for i := range 100 {
		cs = append(cs, fmt.Sprintf(`{"name":"c%d","reason":"r\t%d","exitCode":%d}`, i, i, i))
	}
	ev := fastCase(t, withDetail(`"containers":[`+strings.Join(cs, ",")+`]`), true)
	if ev == nil || len(ev.Task.Containers) != 100 {
		t.Fatalf("decoded %+v", ev)
	}
	for i, c := range ev.Task.Containers {
		if c.Name != fmt.Sprintf("c%d", i) || c.Reason != fmt.Sprintf("r\t%d", i) || c.ExitCode == nil || *c.ExitCode != i {
			t.Fatalf("container %d: %+v", i, c)
		}
	}
}

// Every proper prefix of an event is refused as malformed, by both paths, without a panic: the
// input may end inside a literal, a number, an escape, a string or between tokens.
func TestTruncatedEventsRefused(t *testing.T) {
	built := withDetail(`"stoppedReason":"exec: \"/app\": not found\\","version":-12,"overrides":{"t":true,"f":false,"n":null,"e":[1.5e+3,2E-2,0]},` +
		`"stoppedAt":"2026-11-27T03:00:00.123+01:00","containers":[{"name":"app","exitCode":137}]`)
	events := [][]byte{built}
	for _, raw := range sampleEvents(t) {
		if !bytes.Contains(raw, []byte("\n")) { // the compact form of each sample
			events = append(events, raw)
		}
	}
	for i, raw := range events {
		step := 1 // every cut of the built event, every fifth of the samples
		if i > 0 {
			step = 5
		}
		for n := 0; n < len(raw); n += step {
			// a copy: the decoder must not read past the end of its input, even where the
			// input's array goes on
			if _, ok := decodeFast(bytes.Clone(raw[:n])); ok {
				t.Fatalf("fast decoder took a prefix:\n%s", raw[:n])
			}
		}
	}
	// the strict decoder's words (it is slower: on the event built with every kind of value)
	for n := 0; n < len(built); n++ {
		if _, err := Decode(bytes.Clone(built[:n])); !errors.Is(err, ErrMalformed) {
			t.Fatalf("prefix of %d bytes: %v", n, err)
		}
	}
}

// Strings are checked eight bytes at a time: a control byte, a quote or a backslash is found at
// every offset of a long string, and every other byte is kept as it is.
func TestFastStringBytes(t *testing.T) {
	// (lower-case letters and upper-case ones sit on either side of 0x60, which the eight-byte
	// test treats differently)
	for at := 0; at < 40; at++ {
		fill := "a"
		if at >= 20 {
			fill = "A"
		}
		pre, post := strings.Repeat(fill, at%20), strings.Repeat(fill, 20)
		for c := 0; c < 0x20; c++ {
			raw := withDetail(`"stoppedReason":"` + pre + string(rune(c)) + post + `"`)
			fastCase(t, raw, false)
			if _, err := Decode(raw); !errors.Is(err, ErrMalformed) {
				t.Fatalf("control byte %#x at %d: %v", c, at, err)
			}
		}
		for _, tc := range []struct{ json, want string }{
			{`\"`, `"`}, {`\\`, `\`}, {`\/`, `/`}, {`\n`, "\n"}, {`\t`, "\t"}, {` `, " "}, {`!`, "!"}, {`#`, "#"},
			{"\x7f", "\x7f"}, {`[`, "["}, {`]`, "]"}, {"é", "é"},
		} {
			raw := withDetail(`"stoppedReason":"` + pre + tc.json + post + `"`)
			ev := fastCase(t, raw, true)
			if ev != nil && ev.Task.StoppedReason != pre+tc.want+post {
				t.Fatalf("%q at %d: decoded %q", tc.json, at, ev.Task.StoppedReason)
			}
		}
	}
}

// Numbers: plain integers (every digit) are read by the fast path, exactly; any other number
// the strict decoder reads; a malformed one is refused.
func TestFastNumbers(t *testing.T) {
	raw := withDetail(`"version":9876543210,"containers":[{"name":"a","exitCode":139},{"name":"b","exitCode":-9},{"name":"c","exitCode":0}],` +
		`"overrides":{"n":[9,-9,99.9e9,0.9,19E+9,9e-9,-0.0]}`)
	ev := fastCase(t, raw, true)
	if ev == nil || ev.Task.Version != 9876543210 || *ev.Task.Containers[0].ExitCode != 139 || *ev.Task.Containers[1].ExitCode != -9 ||
		*ev.Task.Containers[2].ExitCode != 0 {
		t.Fatalf("decoded %+v", ev)
	}
	for _, n := range []string{"1e", "1e+", "1E-", "-", "1.", ".5", "01", "+1", "1.e5", "--1", "1e5.5"} {
		t.Run(n, func(t *testing.T) {
			raw := withDetail(`"overrides":{"n":` + n + `}`)
			fastCase(t, raw, false)
			if _, err := Decode(raw); !errors.Is(err, ErrMalformed) {
				t.Errorf("Decode: %v", err)
			}
		})
	}
}

// Times: RFC 3339 with a zone in range; the hour and minute of an offset at their bounds.
func TestFastTimes(t *testing.T) {
	for _, tc := range []struct {
		at   string
		fast bool
	}{
		{"2026-11-27T03:00:00Z", true},
		{"2026-11-27T03:00:00.123456789Z", true},
		{"2026-11-27T03:00:00+23:59", true},
		{"2026-11-27T03:00:00-23:59", true},
		{"2026-11-27T03:00:00+09:30", true},
		{"2026-11-27T03:00:00+24:00", false},
		{"2026-11-27T03:00:00+19:00", true},
		{"2026-11-27T03:00:00+00:60", false},
		{"2026-11-27T03:00:00+00:59", true},
		{"2026-11-27T03:00:00.123", false},
		{"2026-11-27T03:00:00.", false},
		{"2026-11-27T03:00:00.Z", false},
		{"2026-11-27T3:00:00Z", false},
		{"2026-11-27T03:00:00", false},
		{"2026-11-27 03:00:00Z", false},
	} {
		t.Run(tc.at, func(t *testing.T) {
			raw := withDetail(`"stoppedAt":"` + tc.at + `"`)
			ev := fastCase(t, raw, tc.fast)
			strict, err := decodeStrict(raw)
			if tc.fast && (err != nil || ev == nil || !ev.Task.StoppedAt.Equal(*strict.Task.StoppedAt)) {
				t.Errorf("decoded %v, strict %v", ev, err)
			}
		})
	}
}

// The envelope: resources absent, null, empty, one, several; a service event needs a resource
// that is a service ARN, and only a resource counts.
func TestFastResources(t *testing.T) {
	const svc = "arn:aws:ecs:us-east-1:111122223333:service/prod/api"
	service := func(resources string, extra string) []byte {
		return []byte(`{"id":"x","detail-type":"ECS Service Action"` + resources + extra + `,"detail":{"eventName":"SERVICE_STEADY_STATE"}}`)
	}
	for _, tc := range []struct {
		name string
		raw  []byte
		fast bool
		want []string // nil: Resources is nil
	}{
		{"no resources", withDetail(`"lastStatus":"STOPPED"`), true, nil},
		{"null resources", []byte(`{"id":"x","detail-type":"ECS Task State Change","resources":null,"detail":{"taskArn":"a","clusterArn":"c"}}`), true, nil},
		{"empty resources", []byte(`{"id":"x","detail-type":"ECS Task State Change","resources":[],"detail":{"taskArn":"a","clusterArn":"c"}}`), true, []string{}},
		{"a service ARN", service(`,"resources":["`+svc+`"]`, ""), true, []string{svc}},
		{"a service ARN among others", service(`,"resources":["arn:aws:ecs:us-east-1:111122223333:cluster/prod","`+svc+`"]`, ""), true,
			[]string{"arn:aws:ecs:us-east-1:111122223333:cluster/prod", svc}},
		{"as many resources as the fast path keeps", service(`,"resources":["r1","r2","r3","`+svc+`"]`, ""), true, []string{"r1", "r2", "r3", svc}},
		{"more resources than the fast path keeps", service(`,"resources":["r1","r2","r3","r4","`+svc+`"]`, ""), false, []string{"r1", "r2", "r3", "r4", svc}},
		{"a cluster ARN is no service ARN", service(`,"resources":["arn:aws:ecs:us-east-1:111122223333:cluster/prod"]`, ""), false, nil},
		{"a service ARN after the resources does not count", service(`,"resources":["arn:aws:ecs:us-east-1:111122223333:cluster/prod"]`, `,"x":"`+svc+`"`), false, nil},
		{"nor one right after them", service(`,"resources":["arn:aws:ecs:us-east-1:111122223333:cluster/prod"]`, `,"a":":service/"`), false, nil},
		{"a resource that ends in :service/", service(`,"resources":["arn:aws:ecs:us-east-1:111122223333:service/"]`, ""), true,
			[]string{"arn:aws:ecs:us-east-1:111122223333:service/"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fastCase(t, tc.raw, tc.fast)
			ev, err := Decode(tc.raw)
			if err != nil {
				if tc.want != nil || !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "without a service ARN") {
					t.Fatalf("Decode: %v", err)
				}
				return
			}
			if (ev.Resources == nil) != (tc.want == nil) || fmt.Sprint(ev.Resources) != fmt.Sprint(tc.want) {
				t.Errorf("resources %#v, want %#v", ev.Resources, tc.want)
			}
		})
	}
}

// A malformed event whose id can be read is named by it in the error.
func TestMalformedEnvelopeNamesItsID(t *testing.T) {
	_, err := Decode([]byte(`{"id":"e8","detail-type":5,"detail":{}}`))
	var de *DecodeError
	if !errors.As(err, &de) || de.ID != "e8" || !errors.Is(err, ErrMalformed) || !strings.HasPrefix(err.Error(), "event e8: ") {
		t.Fatalf("error %v", err)
	}
}

// An id of exactly 64 bytes is quoted whole when another field is too long.
func TestErrorQuotesAShortIDWhole(t *testing.T) {
	id := strings.Repeat("i", 64)
	raw, _ := json.Marshal(map[string]any{"id": id, "detail-type": TypeTaskStateChange,
		"detail": map[string]any{"taskArn": "a", "clusterArn": "arn:aws:ecs:r:1:cluster/" + strings.Repeat("c", maxName+1)}})
	_, err := Decode(raw)
	var de *DecodeError
	if !errors.As(err, &de) || de.ID != id || !strings.Contains(err.Error(), "cluster name is 256 characters") {
		t.Fatalf("error %v", err)
	}
}

// A name hashes the same wherever it sits: read as a word with bytes after it, or a byte at a
// time at the end of the input; names of up to seven bytes never collide, longer ones differ too.
func TestNameHashSameWhereverTheNameSits(t *testing.T) {
	seen := map[uint64]string{}
	for _, name := range []string{"", "x", "id", "xy", "yx", "abc", "name", "image", "reason", "exitCode",
		"exitCodf", "lastStatus", "lastStatut", "containers", "x\x00", "taskDefinitionArn", "taskDefinitionArm",
		"containerInstanceArn", "0123456789abcdef", "0123456789abcdeF", "0123456789abcdef0"} {
		mid := []byte(`"` + name + `":"0123456789"`)
		end := []byte(`"` + name)
		h := nameHash(mid, 1, 1+len(name))
		if got := nameHash(end, 1, 1+len(name)); got != h {
			t.Errorf("%q: %#x at the end of the input, %#x inside it", name, got, h)
		}
		if other, dup := seen[h]; dup {
			t.Errorf("%q and %q hash alike", name, other)
		}
		seen[h] = name
	}
}
