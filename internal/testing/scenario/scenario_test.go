package scenario_test

import (
	"context"
	"os"
	"testing"

	"github.com/ecs-medic/ecs-medic/internal/testing/dynalite"
	"github.com/ecs-medic/ecs-medic/internal/testing/scenario"
)

var db *dynalite.Server

func TestMain(m *testing.M) {
	os.Exit(dynalite.Main(m, &db))
}

// TestScenarios runs every scenario in its short form; the counts must hold exactly.
func TestScenarios(t *testing.T) {
	short := scenario.Short
	short.DynamoURL = db.URL
	for _, sc := range scenario.All {
		t.Run(sc.Name, func(t *testing.T) {
			r := sc.Run(context.Background(), short)
			for _, p := range r.Problems {
				t.Error(p)
			}
			for _, f := range r.Figures {
				t.Logf("%s: %s", f[0], f[1])
			}
		})
	}
}
