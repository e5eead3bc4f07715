package pipeline_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/ecs-medic/ecs-medic/internal/event"
	"github.com/ecs-medic/ecs-medic/internal/pipeline"
)

// BenchmarkDecodeClassify measures decode + classify per event over every EventBridge sample in
// testdata/events (ns/op and allocs/op are per event): "compact" as EventBridge delivers events
// (one line, no indentation), "pretty" as the samples are stored for reading; "tasks" the
// stopped-task samples alone, compact, the events that are classified. Decode and Interpret are
// what the pipeline runs on every event before it reads any state.
//
// cpu-ns/op is the process's CPU time (getrusage: user + system, the garbage collector's work
// included) per event: on a shared machine it moves far less with the load than ns/op does.
func BenchmarkDecodeClassify(b *testing.B) {
	files, _ := filepath.Glob("../../testdata/events/*.json")
	var pretty, compact [][]byte
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := event.Decode(raw); err != nil {
			continue
		}
		var c bytes.Buffer
		if err := json.Compact(&c, raw); err != nil {
			b.Fatal(err)
		}
		pretty, compact = append(pretty, raw), append(compact, c.Bytes())
	}
	if len(pretty) == 0 {
		b.Fatal("no samples")
	}
	var tasks [][]byte
	for _, raw := range compact {
		if ev, _ := event.Decode(raw); ev.Task != nil && ev.Task.LastStatus == "STOPPED" {
			tasks = append(tasks, raw)
			_ = pipeline.Interpret(ev) // the classifier's phrase automaton is built once, here
		}
	}
	for _, in := range []struct {
		name string
		raws [][]byte
	}{{"compact", compact}, {"pretty", pretty}, {"tasks", tasks}} {
		b.Run(in.name, func(b *testing.B) {
			b.ReportAllocs()
			cpu0 := cpuTime()
			for i := 0; b.Loop(); i++ {
				ev, err := event.Decode(in.raws[i%len(in.raws)])
				if err != nil {
					b.Fatal(err)
				}
				_ = pipeline.Interpret(ev)
			}
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// cpuTime is the CPU time the process has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
