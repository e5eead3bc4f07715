package runbook_test

import (
	"io/fs"
	"testing"
	"time"

	"github.com/ecs-medic/ecs-medic/internal/runbook"
	"github.com/ecs-medic/ecs-medic/runbooks"
)

// FuzzParse feeds any bytes to the runbook parser: it never panics, and whatever it accepts
// is within the guardrails' ranges.
func FuzzParse(f *testing.F) {
	names, _ := fs.Glob(runbooks.FS, "*.md")
	for _, n := range names {
		data, _ := fs.ReadFile(runbooks.FS, n)
		f.Add(data)
	}
	for _, s := range []string{
		"---\nid: x\nmatch: { alarm: \"*\" }\nfix: { action: rollback, mode: auto }\n---\n# T\n",
		"---\nid: x\nmatch: { cause: health-check }\nfix: { action: scale-out, mode: auto, params: { step: 1e9, max_tasks: -1 } }\n---\n# T\n",
		"---\nid: x\nmatch: { cause: oom-killed }\nfix: { action: raise-memory, mode: auto, cooldown: -1h, params: { factor: .nan, max_memory_mib: !!str 9 } }\n---\n# T\n",
		"---\n&a [*a]\n---\n# T\n",
		"---\n---\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rb, err := runbook.Parse("fuzz.md", data)
		if err != nil {
			return
		}
		fix := rb.Fix
		if rb.ID == "" || rb.Title == "" {
			t.Fatalf("accepted without id or title: %+v", rb)
		}
		if fix.Action == runbook.None {
			return
		}
		if fix.MaxPerDay < 1 || fix.MaxPerDay > 24 || fix.Cooldown.Duration < time.Minute || fix.Cooldown.Duration > 24*time.Hour {
			t.Fatalf("accepted out-of-range guardrails: %+v", fix)
		}
		if v, ok := fix.Float("max_tasks"); ok && (v < 1 || v > runbook.MaxTasks) {
			t.Fatalf("accepted max_tasks %v", v)
		}
		if v, ok := fix.Float("step"); ok && (v < 1 || v > runbook.MaxStep) {
			t.Fatalf("accepted step %v", v)
		}
		if v, ok := fix.Float("factor"); ok && !(v > 1 && v <= 4) {
			t.Fatalf("accepted factor %v", v)
		}
		if v, ok := fix.Float("max_memory_mib"); ok && (v < 512 || v > runbook.MaxMemoryMiB) {
			t.Fatalf("accepted max_memory_mib %v", v)
		}
	})
}
