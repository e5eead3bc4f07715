package pipeline_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"

	"github.com/ecs-medic/ecs-medic/internal/boltstore"
	"github.com/ecs-medic/ecs-medic/internal/classify"
	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/metrics/prom"
	"github.com/ecs-medic/ecs-medic/internal/notify"
	"github.com/ecs-medic/ecs-medic/internal/pipeline"
	"github.com/ecs-medic/ecs-medic/internal/runbook"
	"github.com/ecs-medic/ecs-medic/internal/servicestate"
	"github.com/ecs-medic/ecs-medic/internal/testing/eventgen"
)

// Diagnoses are counted by cause, unknown and expected included, once per stopped task (not per
// delivery); the operator's rules from the runbook set decide before the built-in ones; the
// unknown texts can be listed from the store.
func TestDiagnosesCountedAndOperatorRulesApplied(t *testing.T) {
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "medic.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	rules, err := classify.ParseRules(classify.RulesFile, []byte("rules:\n  - {id: reaper, match: 'nightly reaper', cause: expected}\n"))
	if err != nil {
		t.Fatal(err)
	}
	m := prom.New()
	mgr := incident.NewManager(st)
	p := pipeline.New(mgr, servicestate.Unavailable{Reason: "test"}, notify.NewFanout(nil), zap.NewNop(), m,
		pipeline.WithRunbooks(&runbook.Set{Classifier: classify.New(rules)}))
	ctx := context.Background()
	handle := func(raw []byte) pipeline.Result {
		t.Helper()
		res, err := p.HandleRaw(ctx, raw)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	oom := eventgen.OOM("prod", "api", 1)
	handle(oom)
	if res := handle(oom); res.Outcome != pipeline.OutcomeDuplicate {
		t.Fatalf("redelivery: %+v", res)
	}
	handle(eventgen.ScaleIn("prod", "api", 2))
	odd := "Task stopped for a reason nobody has seen before"
	handle(eventgen.TaskStopped(eventgen.Task{Cluster: "prod", Service: "api", TaskN: 3, StoppedReason: odd}))
	if res := handle(eventgen.TaskStopped(eventgen.Task{Cluster: "prod", Service: "api", TaskN: 4,
		StoppedReason: "Stopped by the nightly reaper"})); res.Cause != "expected" || res.Incident != "" {
		t.Fatalf("operator rule: %+v", res)
	}
	for cause, want := range map[string]float64{"oom-killed": 1, "expected": 2, "unknown": 1, "image-pull": 0} {
		if got := testutil.ToFloat64(m.Diagnoses.WithLabelValues(cause).(prometheus.Collector)); got != want {
			t.Errorf("medic_diagnoses_total{cause=%q} = %v, want %v", cause, got, want)
		}
	}
	texts, err := mgr.UnknownTexts(ctx, 100, 10)
	if err != nil || len(texts) != 1 || texts[0].Text != odd {
		t.Fatalf("unknown texts %+v, %v", texts, err)
	}
}
