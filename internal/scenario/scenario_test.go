package scenario_test

import (
	"context"
	"testing"

	"github.com/ecs-medic/ecs-medic/internal/scenario"
)

// TestScenarios runs every scenario in its short form; the counts must hold exactly.
func TestScenarios(t *testing.T) {
	for _, sc := range scenario.All {
		t.Run(sc.Name, func(t *testing.T) {
			r := sc.Run(context.Background(), scenario.Short)
			for _, p := range r.Problems {
				t.Error(p)
			}
			for _, f := range r.Figures {
				t.Logf("%s: %s", f[0], f[1])
			}
		})
	}
}
