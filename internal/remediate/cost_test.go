package remediate_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/ecs-medic/ecs-medic/internal/classify"
	"github.com/ecs-medic/ecs-medic/internal/cost"
	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/notify"
)

// A fix says what it costs: in the plan a human reads (suggest), in the action recorded, and as a
// figure on the timeline entry the report adds up.
func TestFixesSayWhatTheyCost(t *testing.T) {
	t.Run("raise memory on Fargate", func(t *testing.T) {
		g := newRig(t, checkout(0), "oom-killed")
		g.r.Prices = cost.Default()
		inc := g.open(t, classify.OOMKilled, "oom-killed", td12, 1)
		out := g.fix(t, inc.ID)
		// 256/512 → 256/1024 for 4 ARM tasks: 4 × 0.5 GB × 0.00356 USD × 730 h.
		if !out.Done || out.CostUSD == nil || *out.CostUSD < 5.19 || *out.CostUSD > 5.21 ||
			!strings.Contains(out.Plan, "cost: +$5.20/month for 4 task(s) on Fargate in us-east-1") {
			t.Fatalf("%+v (cost %v)", out, out.CostUSD)
		}
		got, err := g.m.Get(context.Background(), inc.ID)
		if err != nil {
			t.Fatal(err)
		}
		var entry *incident.Entry
		for i := range got.Timeline {
			if got.Timeline[i].Kind == "action" {
				entry = &got.Timeline[i]
			}
		}
		if entry == nil || entry.CostUSD == nil || *entry.CostUSD != *out.CostUSD || !strings.Contains(entry.Message, "+$5.20/month") {
			t.Fatalf("timeline entry %+v", entry)
		}
	})
	t.Run("scale out on Fargate Spot", func(t *testing.T) {
		svc := checkout(4)
		svc.MaxCapacity, svc.Spot = 6, true
		g := newRig(t, svc, "cpu-high")
		g.r.Prices = cost.Default()
		// Two more 256/512 ARM tasks on Spot: 2 × (0.25 × 0.03238 + 0.5 × 0.00356) × 730 × 0.3.
		sig := incident.Signal{Kind: incident.Failure, EventID: "a1", Scope: incident.Scope{Account: "111122223333", Region: "us-east-1", Cluster: "prod", Service: "checkout"},
			Cause: classify.Alarm, Runbook: "cpu-high", Marks: []string{"evt#a1"}, Time: g.clk.Now()}
		opened, _ := g.m.Apply(context.Background(), sig)
		out := g.fix(t, opened.Incident.ID)
		if !out.Done || out.CostUSD == nil || *out.CostUSD < 4.32 || *out.CostUSD > 4.33 ||
			!strings.Contains(out.Plan, "cost: +$4.33/month for 6 task(s) on Fargate Spot in us-east-1 (the Spot discount is an estimate)") {
			t.Fatalf("%+v (cost %v)", out, out.CostUSD)
		}
	})
	t.Run("no price table, no estimate", func(t *testing.T) {
		g := newRig(t, checkout(0), "oom-killed")
		inc := g.open(t, classify.OOMKilled, "oom-killed", td12, 1)
		if out := g.fix(t, inc.ID); !out.Done || out.CostUSD != nil || strings.Contains(out.Plan, "cost") {
			t.Fatalf("%+v", out)
		}
	})
}

// kinds is a receiver that records the kinds of notification it was sent.
type kinds struct {
	mu  sync.Mutex
	got []notify.Kind
}

func (k *kinds) Name() string { return "recorder" }

func (k *kinds) Notify(_ context.Context, n notify.Notification) (bool, error) {
	k.mu.Lock()
	k.got = append(k.got, n.Kind)
	k.mu.Unlock()
	return false, nil
}

// A suggestion updates the incident's message with the plan and its cost, without a thread reply
// or a page: the message is where the Run fix button is.
func TestSuggestionUpdatesTheMessage(t *testing.T) {
	g := newRig(t, checkout(0))
	g.r.Prices = cost.Default()
	sent := &kinds{}
	g.r.Sender = notify.NewFanout([]notify.Notifier{sent})
	inc := g.open(t, classify.OOMKilled, "oom-killed", td12, 1)
	out := g.fix(t, inc.ID)
	if out.Done || out.CostUSD == nil {
		t.Fatalf("%+v", out)
	}
	if len(sent.got) != 1 || sent.got[0] != notify.Suggested {
		t.Fatalf("notifications %v, want one suggested", sent.got)
	}
	got, _ := g.m.Get(context.Background(), inc.ID)
	var suggestion *incident.Entry
	for i := range got.Timeline {
		if got.Timeline[i].Kind == "action-considered" {
			suggestion = &got.Timeline[i]
		}
	}
	if suggestion == nil || suggestion.CostUSD == nil || !strings.Contains(suggestion.Message, "+$5.20/month") {
		t.Errorf("suggestion entry %+v", suggestion)
	}
}
