package pipeline_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"go.uber.org/zap"

	"github.com/ecs-medic/ecs-medic/internal/boltstore"
	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/metrics"
	"github.com/ecs-medic/ecs-medic/internal/metrics/prom"
	"github.com/ecs-medic/ecs-medic/internal/notify"
	"github.com/ecs-medic/ecs-medic/internal/pipeline"
	"github.com/ecs-medic/ecs-medic/internal/reconcile"
	"github.com/ecs-medic/ecs-medic/internal/runbook"
	"github.com/ecs-medic/ecs-medic/internal/servicestate"
	"github.com/ecs-medic/ecs-medic/internal/testing/eventgen"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakeecs"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakes"
	"github.com/ecs-medic/ecs-medic/runbooks"
)

func alarmRig(t *testing.T) (*pipeline.Pipeline, *boltstore.Store, *metrics.Metrics, *servicestate.Source) {
	t.Helper()
	fake := fakeecs.New(fakeecs.Service{Cluster: "prod", Name: "api", Desired: 4, Running: 4})
	t.Cleanup(fake.Close)
	client := ecs.NewFromConfig(fakes.AWSConfig(fake.URL))
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "medic.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	set, err := runbook.Load(runbooks.FS)
	if err != nil {
		t.Fatal(err)
	}
	m := prom.New()
	src := servicestate.New(client)
	p := pipeline.New(incident.NewManager(st), src, notify.NewFanout(nil), zap.NewNop(), m, pipeline.WithRunbooks(set))
	return p, st, m, src
}

// An alarm on an ECS service's own metric (or Container Insights') belongs to the service: its
// incident has the service's scope, beside the service's other incidents, with the alarm's
// runbook and fix; the alarm back to OK resolves it. Application Auto Scaling's target-tracking
// alarms open nothing.
func TestServiceAlarmsJoinTheServiceScope(t *testing.T) {
	p, st, _, states := alarmRig(t)
	ctx := context.Background()
	at := time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC)
	oom, err := p.HandleRaw(ctx, eventgen.OOM("prod", "api", 1))
	if err != nil || oom.Outcome != pipeline.OutcomeOpened {
		t.Fatalf("%+v %v", oom, err)
	}
	cpu, err := p.HandleRaw(ctx, eventgen.ServiceAlarm("a1", "prod-api-cpu-high", "AWS/ECS", "CPUUtilization", "prod", "api", "OK", "ALARM", "Threshold Crossed", at))
	if err != nil || cpu.Outcome != pipeline.OutcomeOpened || cpu.Cause != "alarm" || cpu.Cluster != "prod" || cpu.Service != "api" {
		t.Fatalf("%+v %v", cpu, err)
	}
	inc, _ := st.Get(ctx, cpu.Incident)
	if inc.Scope.Key() != "111122223333/us-east-1/prod/api" || !inc.Scope.IsService() || inc.Runbook != "cpu-high" || inc.Fix != "scale-out" ||
		inc.Facts.Alarm != "prod-api-cpu-high" || !strings.Contains(inc.Title, "prod-api-cpu-high") {
		t.Fatalf("alarm incident: %+v %s %s %s %q", inc.Scope, inc.Runbook, inc.Fix, inc.Facts.Alarm, inc.Title)
	}
	if inc.Severity.String() != "P3" {
		t.Fatalf("an alarm's severity is its runbook's, not the service's: %s", inc.Severity)
	}
	// A Container Insights alarm on the same service joins the same incident.
	ci, _ := p.HandleRaw(ctx, eventgen.ServiceAlarm("a2", "prod-api-cpu-insights", "ECS/ContainerInsights", "CpuUtilized", "prod", "api", "OK", "ALARM", "Threshold Crossed", at))
	if ci.Outcome != pipeline.OutcomeOccurrence || ci.Incident != cpu.Incident {
		t.Fatalf("second alarm: %+v", ci)
	}
	// Target tracking: ignored, and says so.
	tt, _ := p.HandleRaw(ctx, eventgen.ServiceAlarm("a3", "TargetTracking-service/prod/api-AlarmHigh-1b2c", "AWS/ECS", "CPUUtilization", "prod", "api", "OK", "ALARM", "Threshold Crossed", at))
	if tt.Outcome != pipeline.OutcomeIgnored || tt.Incident != "" || !strings.Contains(tt.Why, "scaling signal") || tt.Error != "" {
		t.Fatalf("target tracking: %+v", tt)
	}
	// The service runs every task: the reconciler resolves nothing of an alarm still in ALARM.
	rec := &reconcile.Reconciler{Manager: incident.NewManager(st), Guards: st, States: states, Sender: notify.NewFanout(nil), Quiet: 0, Log: zap.NewNop()}
	for range 2 {
		if _, err := rec.Run(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if still, _ := st.Get(ctx, cpu.Incident); !still.State.Active() {
		t.Fatal("the reconciler resolved an alarm's incident while the alarm is in ALARM")
	}
	// The first alarm back to OK: the other is still in ALARM. Then the second: resolved.
	ok1, _ := p.HandleRaw(ctx, eventgen.ServiceAlarm("a4", "prod-api-cpu-high", "AWS/ECS", "CPUUtilization", "prod", "api", "ALARM", "OK", "back", at))
	if ok1.Outcome == pipeline.OutcomeResolved {
		t.Fatalf("resolved while another alarm is in ALARM: %+v", ok1)
	}
	ok2, _ := p.HandleRaw(ctx, eventgen.ServiceAlarm("a5", "prod-api-cpu-insights", "ECS/ContainerInsights", "CpuUtilized", "prod", "api", "ALARM", "OK", "back", at))
	if ok2.Outcome != pipeline.OutcomeResolved || ok2.Incident != cpu.Incident {
		t.Fatalf("back to OK: %+v", ok2)
	}
	all, _ := st.List(ctx, incident.Filter{})
	if len(all) != 2 {
		t.Fatalf("%d incidents, want the OOM and the alarm", len(all))
	}
	// The OOM incident was resolved by the service's recovery (the reconciler), never by an alarm.
	o, _ := st.Get(ctx, oom.Incident)
	if last := o.Timeline[len(o.Timeline)-1]; last.Kind != "resolved" || !strings.Contains(last.Message, "running for") {
		t.Fatalf("the OOM incident: %+v", last)
	}
}

func TestTargetTrackingAlarmOpensNothing(t *testing.T) {
	p, st, m, _ := alarmRig(t)
	at := time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC)
	for i, state := range []string{"ALARM", "OK", "ALARM"} {
		res, err := p.HandleRaw(context.Background(), eventgen.ServiceAlarm(string(rune('a'+i)), "TargetTracking-service/prod/api-AlarmLow-9f8e",
			"AWS/ECS", "CPUUtilization", "prod", "api", "OK", state, "Threshold Crossed", at))
		if err != nil || res.Outcome != pipeline.OutcomeIgnored || res.Incident != "" {
			t.Fatalf("%+v %v", res, err)
		}
	}
	if all, _ := st.List(context.Background(), incident.Filter{}); len(all) != 0 {
		t.Fatalf("%d incidents", len(all))
	}
	if got := counter(t, m, `medic_suppressed_total{reason="scaling-alarm"}`); got != "3" {
		t.Fatalf("scaling alarms counted %q", got)
	}
}

// counter reads one sample from the metrics' Prometheus text.
func counter(t *testing.T, m *metrics.Metrics, sample string) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			return v
		}
	}
	return ""
}
