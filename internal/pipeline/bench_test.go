package pipeline_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ecs-medic/ecs-medic/internal/event"
	"github.com/ecs-medic/ecs-medic/internal/pipeline"
)

// BenchmarkDecodeClassify measures decode + classify per event over every EventBridge sample in
// testdata/events (ns/op and allocs/op are per event).
func BenchmarkDecodeClassify(b *testing.B) {
	files, _ := filepath.Glob("../../testdata/events/*.json")
	var raws [][]byte
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := event.Decode(raw); err == nil {
			raws = append(raws, raw)
		}
	}
	if len(raws) == 0 {
		b.Fatal("no samples")
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		ev, err := event.Decode(raws[i%len(raws)])
		if err != nil {
			b.Fatal(err)
		}
		_ = pipeline.Interpret(ev)
	}
}
