package pipeline_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/ecs-medic/ecs-medic/internal/event"
	"github.com/ecs-medic/ecs-medic/internal/pipeline"
)

// BenchmarkDecodeClassify measures decode + classify per event over every EventBridge sample in
// testdata/events (ns/op and allocs/op are per event): "compact" as EventBridge delivers events
// (one line, no indentation), "pretty" as the samples are stored for reading.
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
	for _, in := range []struct {
		name string
		raws [][]byte
	}{{"compact", compact}, {"pretty", pretty}} {
		b.Run(in.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				ev, err := event.Decode(in.raws[i%len(in.raws)])
				if err != nil {
					b.Fatal(err)
				}
				_ = pipeline.Interpret(ev)
			}
		})
	}
}
