package runbook_test

// Each bound a runbook's front matter may ask of automation, pinned at its limits: the value at
// the limit is accepted, the next one refused, and a missing value takes its default.

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/ecs-medic/ecs-medic/internal/classify"
	"github.com/ecs-medic/ecs-medic/internal/runbook"
	"github.com/ecs-medic/ecs-medic/internal/severity"
)

// doc is a runbook whose fix is the given YAML (indented under fix:).
func doc(match, fix string) []byte {
	return []byte("---\nid: x\nmatch: " + match + "\nfix:\n" + fix + "---\n# Title\nsteps\n")
}

const (
	oomMatch   = "{ cause: oom-killed }"
	raiseFix   = "  action: raise-memory\n  mode: auto\n  params: { factor: 1.5, max_memory_mib: 4096 }\n"
	scaleFixOf = "  action: scale-out\n  mode: auto\n  params: { %s }\n"
)

func TestGuardrailBounds(t *testing.T) {
	for _, tc := range []struct {
		name, fix string
		says      string // "": accepted
	}{
		{"max_per_day 1", raiseFix + "  max_per_day: 1\n", ""},
		{"max_per_day 24", raiseFix + "  max_per_day: 24\n", ""},
		{"max_per_day 25", raiseFix + "  max_per_day: 25\n", "fix.max_per_day must be between 1 and 24"},
		{"max_per_day 240", raiseFix + "  max_per_day: 240\n", "fix.max_per_day"},
		{"max_per_day -1", raiseFix + "  max_per_day: -1\n", "fix.max_per_day"},
		{"cooldown 1m", raiseFix + "  cooldown: 1m\n", ""},
		{"cooldown 59s", raiseFix + "  cooldown: 59s\n", "fix.cooldown must be between 1m and 24h"},
		{"cooldown 24h", raiseFix + "  cooldown: 24h\n", ""},
		{"cooldown 24h1s", raiseFix + "  cooldown: 24h0m1s\n", "fix.cooldown"},
		{"cooldown negative", raiseFix + "  cooldown: -15m\n", "is negative"},
		{"cooldown a list", raiseFix + "  cooldown: [15m]\n", "is not a duration"},
		{"verify 1m", raiseFix + "  verify: 1m\n", ""},
		{"verify 59s", raiseFix + "  verify: 59s\n", "fix.verify must be between 1m and 2h"},
		{"verify 2h", raiseFix + "  verify: 2h\n", ""},
		{"verify 2h1s", raiseFix + "  verify: 2h0m1s\n", "fix.verify"},
		{"max_memory_mib 512", strings.Replace(raiseFix, "4096", "512", 1), ""},
		{"max_memory_mib 511", strings.Replace(raiseFix, "4096", "511", 1), "fix.params.max_memory_mib must be between 512 and 122880"},
		{"max_memory_mib 122880", strings.Replace(raiseFix, "4096", "122880", 1), ""},
		{"max_memory_mib 122881", strings.Replace(raiseFix, "4096", "122881", 1), "fix.params.max_memory_mib must be between"},
		{"max_memory_mib 1.2 TB", strings.Replace(raiseFix, "4096", "1228800", 1), "fix.params.max_memory_mib must be between"},
		{"max_memory_mib not whole", strings.Replace(raiseFix, "4096", "4096.5", 1), "fix.params.max_memory_mib must be a whole number"},
		{"max_memory_mib a string", strings.Replace(raiseFix, "4096", "lots", 1), "must be a whole number, not \"lots\""},
		{"factor 1", strings.Replace(raiseFix, "1.5", "1", 1), "fix.params.factor must be above 1 and at most 4"},
		{"factor 1.01", strings.Replace(raiseFix, "1.5", "1.01", 1), ""},
		{"factor 4", strings.Replace(raiseFix, "1.5", "4", 1), ""},
		{"factor 4.01", strings.Replace(raiseFix, "1.5", "4.01", 1), "fix.params.factor"},
		{"factor NaN", strings.Replace(raiseFix, "1.5", ".nan", 1), "fix.params.factor"},
		{"factor a word", strings.Replace(raiseFix, "1.5", "big", 1), "fix.params.factor must be a number"},
		{"allow_cpu_raise true", strings.Replace(raiseFix, "}", ", allow_cpu_raise: true }", 1), ""},
		{"allow_cpu_raise a word", strings.Replace(raiseFix, "}", ", allow_cpu_raise: yes please }", 1), "fix.params.allow_cpu_raise must be true or false"},
		{"max_tasks 1", fmt.Sprintf(scaleFixOf, "max_tasks: 1"), ""},
		{"max_tasks 0", fmt.Sprintf(scaleFixOf, "max_tasks: 0"), "fix.params.max_tasks must be between 1 and 5000"},
		{"max_tasks 5000", fmt.Sprintf(scaleFixOf, "max_tasks: 5000"), ""},
		{"max_tasks 5001", fmt.Sprintf(scaleFixOf, "max_tasks: 5001"), "fix.params.max_tasks"},
		{"max_tasks missing", fmt.Sprintf(scaleFixOf, "step: 1"), "fix.params.max_tasks is required by scale-out"},
		{"step 1", fmt.Sprintf(scaleFixOf, "step: 1, max_tasks: 200"), ""},
		{"step 0", fmt.Sprintf(scaleFixOf, "step: 0, max_tasks: 200"), "fix.params.step must be between 1 and 100"},
		{"step 100", fmt.Sprintf(scaleFixOf, "step: 100, max_tasks: 200"), ""},
		{"step 101", fmt.Sprintf(scaleFixOf, "step: 101, max_tasks: 200"), "fix.params.step"},
		{"step at max_tasks", fmt.Sprintf(scaleFixOf, "step: 5, max_tasks: 5"), ""},
		{"step above max_tasks", fmt.Sprintf(scaleFixOf, "step: 6, max_tasks: 5"), "not above max_tasks"},
		{"step not whole", fmt.Sprintf(scaleFixOf, "step: 1.5, max_tasks: 5"), "fix.params.step must be a whole number"},
		{"an unknown action", "  action: run-script\n  mode: auto\n", `fix.action "run-script" is not one of raise-memory, rollback, force-new-deployment, scale-out, none`},
		{"a parameter of another action", "  action: rollback\n  mode: auto\n  params: { step: 1 }\n", "fix.params.step is not a parameter of rollback"},
		{"max_memory_mib missing", "  action: raise-memory\n  mode: auto\n  params: { factor: 1.5 }\n", "fix.params.max_memory_mib is required by raise-memory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rb, err := runbook.Parse("x.md", doc(oomMatch, tc.fix))
			if tc.says == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.says) || !strings.HasPrefix(err.Error(), "x.md: ") {
				t.Fatalf("accepted %+v (%v), want an error naming %q", rb, err, tc.says)
			}
		})
	}
}

// Flap awareness is bounded too: 2 to 100 relapses, a window of 5 minutes to 24 hours.
func TestFlapBounds(t *testing.T) {
	for _, tc := range []struct {
		flap, says string
	}{
		{"{ threshold: 2 }", ""},
		{"{ threshold: 1 }", "flap.threshold 1: must be between 2 and 100 relapses"},
		{"{ threshold: 100 }", ""},
		{"{ threshold: 101 }", "flap.threshold 101"},
		{"{ window: 5m }", ""},
		{"{ window: 4m59s }", "flap.window 4m59s: must be between 5m and 24h"},
		{"{ window: 24h }", ""},
		{"{ window: 24h0m1s }", "flap.window 24h0m1s"},
	} {
		t.Run(tc.flap, func(t *testing.T) {
			rb, err := runbook.Parse("x.md", []byte("---\nid: x\nmatch: { cause: oom-killed }\nflap: "+tc.flap+"\n---\n# T\n"))
			if tc.says == "" {
				if err != nil || (rb.Flap.Threshold == 0 && rb.Flap.Window.Duration == 0) {
					t.Fatalf("%+v %v", rb, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("%v, want an error naming %q", err, tc.says)
			}
		})
	}
}

// What a runbook leaves out takes the contract's defaults; a fix of none has no guardrails to
// default.
func TestGuardrailDefaults(t *testing.T) {
	rb, err := runbook.Parse("x.md", doc(oomMatch, raiseFix))
	if err != nil {
		t.Fatal(err)
	}
	if rb.Fix.Cooldown.Duration != 15*time.Minute || rb.Fix.MaxPerDay != 3 || rb.Fix.Verify.Duration != 10*time.Minute || rb.SeverityFloor != severity.P3 {
		t.Fatalf("defaults: cooldown %s, max_per_day %d, verify %s, floor %s", rb.Fix.Cooldown, rb.Fix.MaxPerDay, rb.Fix.Verify, rb.SeverityFloor)
	}
	given, err := runbook.Parse("x.md", doc(oomMatch, raiseFix+"  cooldown: 40m\n  max_per_day: 5\n  verify: 20m\n"))
	if err != nil || given.Fix.Cooldown.Duration != 40*time.Minute || given.Fix.MaxPerDay != 5 || given.Fix.Verify.Duration != 20*time.Minute {
		t.Fatalf("given values: %+v %v", given, err)
	}
	zero, err := runbook.Parse("x.md", doc(oomMatch, raiseFix+"  cooldown: 0s\n  verify: 0s\n  max_per_day: 0\n"))
	if err != nil || zero.Fix.Cooldown.Duration != 15*time.Minute || zero.Fix.Verify.Duration != 10*time.Minute || zero.Fix.MaxPerDay != 3 {
		t.Fatalf("zero values take the defaults: %+v %v", zero, err)
	}
	none, err := runbook.Parse("x.md", []byte("---\nid: x\nmatch: { cause: unknown }\nseverity_floor: P1\n---\n# T\n"))
	if err != nil {
		t.Fatal(err)
	}
	if none.Fix.Action != runbook.None || none.Fix.Mode != runbook.Off || none.Fix.Cooldown.Duration != 0 || none.Fix.MaxPerDay != 0 || none.Fix.Verify.Duration != 0 || none.SeverityFloor != severity.P1 {
		t.Fatalf("no fix: %+v", none)
	}
	if none.Title != "T" {
		t.Fatalf("title %q", none.Title)
	}
}

func TestMatchRules(t *testing.T) {
	for _, tc := range []struct {
		name, match, fix string
		says             string
	}{
		{"an alarm glob", `{ alarm: "checkout-*" }`, raiseFix, ""},
		{"cause and alarm", `{ cause: oom-killed, alarm: "x" }`, raiseFix, "match names a cause or an alarm, not both"},
		{"neither", `{ sub: x }`, raiseFix, "match needs a cause or an alarm"},
		{"a bad glob", `{ alarm: "[" }`, raiseFix, "is not a valid glob"},
		{"expected is not a cause to act on", `{ cause: expected }`, raiseFix, "is not a cause ecs-medic gives"},
		{"a service-level cause", `{ cause: start-impaired }`, raiseFix, ""},
		{"placement failure", `{ cause: placement-failure }`, raiseFix, ""},
		{"deployment failed", `{ cause: deployment-failed }`, raiseFix, ""},
		{"service degraded", `{ cause: service-degraded }`, raiseFix, ""},
		{"every alarm, automatically", `{ alarm: "*" }`, raiseFix, "matches every alarm, so fix.mode auto would let any alarm"},
		{"every alarm, by a class", `{ alarm: "?*" }`, raiseFix, "matches every alarm"},
		{"every alarm, suggested", `{ alarm: "*" }`, strings.Replace(raiseFix, "mode: auto", "mode: suggest", 1), ""},
		{"every alarm, no fix", `{ alarm: "*" }`, "  action: none\n  mode: auto\n", ""},
		{"a literal in the glob", `{ alarm: "*cpu*" }`, raiseFix, ""},
		{"an unknown mode", oomMatch, strings.Replace(raiseFix, "mode: auto", "mode: always", 1), `fix.mode "always" is not off, suggest or auto`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := runbook.Parse("x.md", doc(tc.match, tc.fix))
			if tc.says == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("%v, want an error naming %q", err, tc.says)
			}
		})
	}
}

func TestModesRank(t *testing.T) {
	if !(runbook.Off.Rank() < runbook.Suggest.Rank() && runbook.Suggest.Rank() < runbook.Auto.Rank()) || runbook.Mode("x").Rank() != 0 {
		t.Fatal("modes out of order")
	}
}

// Every problem is reported, each naming the file.
func TestEveryProblemNamesTheFile(t *testing.T) {
	_, err := runbook.Parse("bad.md", doc(oomMatch, "  action: raise-memory\n  mode: auto\n  params: { factor: 9, max_memory_mib: 1 }\n  max_per_day: 99\n"))
	if err == nil {
		t.Fatal("accepted")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d problems reported, want 3: %v", len(lines), err)
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "bad.md: ") {
			t.Fatalf("%q does not name the file", l)
		}
	}
	_, err = runbook.Parse("bad.md", []byte("---\nid: x\nnope: 1\nalso: 2\n---\n# T\n"))
	if err == nil || strings.Count(err.Error(), "bad.md: ") != 2 || strings.Contains(err.Error(), "unmarshal errors") {
		t.Fatalf("%v", err)
	}
	_, err = runbook.Parse("bad.md", []byte("---\nid: [\n---\n# T\n"))
	if err == nil || !strings.HasPrefix(err.Error(), "bad.md: ") {
		t.Fatalf("%v", err)
	}
}

// Runbook files are bounded and must be plain files; a folder without one is an error.
func TestLoadBounds(t *testing.T) {
	ok := func(id string) []byte { return []byte("---\nid: " + id + "\nmatch: { cause: unknown }\n---\n# A\n") }
	// Exactly the limit, its title the last bytes: read whole.
	head := "---\nid: big\nmatch: { cause: unknown }\n---\n"
	atLimit := []byte(head + strings.Repeat("x", runbook.MaxFileSize-len(head)-6) + "\n# Big")
	set, err := runbook.Load(fstest.MapFS{"big.md": {Data: atLimit}, "readme.md": {Data: []byte("prose")}})
	if err != nil || len(set.Runbooks) != 1 || set.Runbooks[0].Title != "Big" || len(atLimit) != runbook.MaxFileSize {
		t.Fatalf("a runbook of exactly %d bytes: %v", runbook.MaxFileSize, err)
	}
	_, err = runbook.Load(fstest.MapFS{"big.md": {Data: append(atLimit, 'x')}})
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%d bytes, the limit is %d", runbook.MaxFileSize+1, runbook.MaxFileSize)) {
		t.Fatalf("one byte over: %v", err)
	}
	_, err = runbook.Load(fstest.MapFS{"dir.md": {Mode: fs.ModeDir}, "a.md": {Data: ok("a")}})
	if err == nil || !strings.Contains(err.Error(), "dir.md: not a regular file") {
		t.Fatalf("a directory: %v", err)
	}
	_, err = runbook.Load(fstest.MapFS{"notes.txt": {Data: []byte("x")}})
	if !errors.Is(err, runbook.ErrEmpty) {
		t.Fatalf("no runbook: %v", err)
	}
	set, err = runbook.Load(fstest.MapFS{"a.md": {Data: ok("a")}, "b.md": {Data: ok("b")}})
	if err != nil || len(set.Runbooks) != 2 || set.ByID("b") == nil || set.ByID("") != nil || set.ByID("c") != nil {
		t.Fatalf("%+v %v", set, err)
	}
	var nilSet *runbook.Set
	if nilSet.ByID("a") != nil || nilSet.For(classify.Unknown, "", "") != nil {
		t.Fatal("a nil set has runbooks")
	}
}

// The operator's classification rules beside the runbooks are read with them, strictly.
func TestLoadReadsClassificationRules(t *testing.T) {
	rb := []byte("---\nid: a\nmatch: { cause: unknown }\n---\n# A\n")
	rules := "rules:\n  - {id: r1, match: 'vault .* denied', cause: resource-init}\n"
	set, err := runbook.Load(fstest.MapFS{"a.md": {Data: rb}, "classify.yaml": {Data: []byte(rules)}})
	if err != nil || set.Classifier == nil {
		t.Fatalf("rules not read: %+v %v", set, err)
	}
	set, err = runbook.Load(fstest.MapFS{"a.md": {Data: rb}})
	if err != nil || set.Classifier != nil {
		t.Fatalf("no rules file: %+v %v", set, err)
	}
	_, err = runbook.Load(fstest.MapFS{"a.md": {Data: rb}, "classify.yaml": {Data: []byte("rules:\n  - {id: r1, match: 'a(b', cause: oom-killed}\n")}})
	if err == nil || !strings.Contains(err.Error(), "classify.yaml") {
		t.Fatalf("a bad rules file: %v", err)
	}
	_, err = runbook.Load(fstest.MapFS{"a.md": {Data: rb}, "classify.yaml": {Mode: fs.ModeDir}})
	if err == nil || !strings.Contains(err.Error(), "classify.yaml: not a regular file") {
		t.Fatalf("a rules file that is a folder: %v", err)
	}
}

// An alarm runbook matches only alarms, the first matching one wins; a cause runbook never
// matches an alarm incident of another cause.
func TestForAlarms(t *testing.T) {
	set := &runbook.Set{Runbooks: []*runbook.Runbook{
		{ID: "cpu", Match: runbook.Match{Alarm: "*cpu*"}},
		{ID: "checkout-cpu", Match: runbook.Match{Alarm: "checkout-cpu*"}},
		{ID: "oom", Match: runbook.Match{Cause: classify.OOMKilled}},
	}}
	for _, tc := range []struct {
		cause classify.Cause
		alarm string
		want  string
	}{
		{classify.Alarm, "checkout-cpu-high", "cpu"},
		{classify.Alarm, "checkout-memory", ""},
		{classify.Alarm, "", ""},
		{classify.OOMKilled, "", "oom"},
		{classify.OOMKilled, "checkout-cpu-high", "cpu"},
	} {
		got := set.For(tc.cause, "", tc.alarm)
		if (got == nil) != (tc.want == "") || (got != nil && got.ID != tc.want) {
			t.Errorf("%s %q: %+v, want %q", tc.cause, tc.alarm, got, tc.want)
		}
	}
	// A glob that matches even the empty name never catches an incident that has no alarm.
	wide := &runbook.Set{Runbooks: []*runbook.Runbook{
		{ID: "any-alarm", Match: runbook.Match{Alarm: "*"}},
		{ID: "oom", Match: runbook.Match{Cause: classify.OOMKilled}},
	}}
	if got := wide.For(classify.OOMKilled, "", ""); got == nil || got.ID != "oom" {
		t.Fatalf("an OOM incident got %+v", got)
	}
	if got := wide.For(classify.Alarm, "", "x"); got == nil || got.ID != "any-alarm" {
		t.Fatalf("an alarm incident got %+v", got)
	}
}

func TestParams(t *testing.T) {
	f := runbook.Fix{Params: map[string]any{"i": 3, "f": 1.5, "s": "x", "b": true}}
	if v, ok := f.Float("i"); !ok || v != 3 {
		t.Fatal("int")
	}
	if v, ok := f.Float("f"); !ok || v != 1.5 {
		t.Fatal("float")
	}
	if _, ok := f.Float("s"); ok {
		t.Fatal("a string read as a number")
	}
	if !f.Bool("b") || f.Bool("s") || f.Bool("none") {
		t.Fatal("bool")
	}
}
