package runbook_test

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/ecs-medic/ecs-medic/internal/classify"
	"github.com/ecs-medic/ecs-medic/internal/runbook"
	"github.com/ecs-medic/ecs-medic/internal/severity"
	"github.com/ecs-medic/ecs-medic/runbooks"
)

func TestShippedRunbooks(t *testing.T) {
	set, err := runbook.Load(runbooks.FS)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range classify.Causes {
		if c == classify.Expected {
			continue
		}
		if set.For(c, "", "") == nil {
			t.Errorf("no runbook for cause %s", c)
		}
	}
	for _, alarm := range []string{"checkout-cpu-high", "checkout-alb-unhealthy-hosts"} {
		if set.For(classify.Alarm, "", alarm) == nil {
			t.Errorf("no runbook for alarm %s", alarm)
		}
	}
	oom := set.For(classify.OOMKilled, "", "")
	if oom.Fix.Action != runbook.RaiseMemory || oom.Fix.Mode != runbook.Suggest || oom.Title == "" {
		t.Fatalf("%+v", oom)
	}
	if v, _ := oom.Fix.Float("max_memory_mib"); v != 8192 {
		t.Fatalf("max_memory_mib %v", v)
	}
}

func TestStrictParsing(t *testing.T) {
	good := "---\nid: x\nmatch: { cause: oom-killed }\nfix:\n  action: raise-memory\n  mode: auto\n  params: { factor: 1.5, max_memory_mib: 4096 }\n---\n# Title\nsteps\n"
	for _, tc := range []struct{ name, text, says string }{
		{"no front matter", "# Title", "front matter"},
		{"unclosed", "---\nid: x\n", "not closed"},
		{"unknown key", strings.Replace(good, "id: x", "id: x\nshell: rm -rf /", 1), "shell"},
		{"unknown action", strings.Replace(good, "raise-memory", "run-script", 1), "run-script"},
		{"bad mode", strings.Replace(good, "mode: auto", "mode: yolo", 1), "yolo"},
		{"unknown cause", strings.Replace(good, "oom-killed", "oom", 1), "oom"},
		{"missing param", strings.Replace(good, "factor: 1.5, ", "", 1), "factor"},
		{"wrong param", strings.Replace(good, "factor: 1.5", "factor: 1.5, replicas: 3", 1), "replicas"},
		{"silly factor", strings.Replace(good, "1.5", "10", 1), "factor"},
		{"bad duration", strings.Replace(good, "mode: auto", "mode: auto\n  cooldown: soon", 1), "duration"},
		{"no title", strings.Replace(good, "# Title", "Title", 1), "title"},
		{"bad severity", strings.Replace(good, "id: x", "id: x\nseverity_floor: P5", 1), "P5"},
		{"flap threshold of one", strings.Replace(good, "id: x", "id: x\nflap: { threshold: 1 }", 1), "flap.threshold"},
		{"flap window too short", strings.Replace(good, "id: x", "id: x\nflap: { window: 1m }", 1), "flap.window"},
		{"flap window too long", strings.Replace(good, "id: x", "id: x\nflap: { window: 48h }", 1), "flap.window"},
		{"flap unknown key", strings.Replace(good, "id: x", "id: x\nflap: { count: 3 }", 1), "count"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := runbook.Parse("x.md", []byte(tc.text))
			if err == nil || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("%v, want an error naming %q", err, tc.says)
			}
		})
	}
	flap, err := runbook.Parse("x.md", []byte(strings.Replace(good, "id: x", "id: x\nflap: { threshold: 4, window: 45m }", 1)))
	if err != nil || flap.Flap.Threshold != 4 || flap.Flap.Window.Minutes() != 45 {
		t.Fatalf("flap: %+v %v", flap, err)
	}
	rb, err := runbook.Parse("x.md", []byte(good))
	if err != nil || rb.SeverityFloor != severity.P3 || rb.Fix.Cooldown.Minutes() != 15 || rb.Fix.MaxPerDay != 3 {
		t.Fatalf("defaults: %+v %v", rb, err)
	}
}

func TestLoadReportsEveryProblemAndDuplicates(t *testing.T) {
	ok := "---\nid: a\nmatch: { cause: unknown }\n---\n# A\n"
	fsys := fstest.MapFS{
		"a.md":      {Data: []byte(ok)},
		"b.md":      {Data: []byte(ok)},
		"c.md":      {Data: []byte("nope")},
		"README.md": {Data: []byte("not a runbook")},
	}
	_, err := runbook.Load(fsys)
	if err == nil || !strings.Contains(err.Error(), "b.md: id \"a\"") || !strings.Contains(err.Error(), "c.md") {
		t.Fatalf("%v", err)
	}
}

func TestSubCauseBeatsCause(t *testing.T) {
	set := &runbook.Set{Runbooks: []*runbook.Runbook{
		{ID: "generic", Match: runbook.Match{Cause: classify.ImagePull}},
		{ID: "rate", Match: runbook.Match{Cause: classify.ImagePull, Sub: "rate-limit"}},
	}}
	if set.For(classify.ImagePull, "rate-limit", "").ID != "rate" || set.For(classify.ImagePull, "auth", "").ID != "generic" {
		t.Fatal("wrong runbook chosen")
	}
}
