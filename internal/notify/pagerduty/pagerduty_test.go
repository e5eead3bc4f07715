package pagerduty_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecs-medic/ecs-medic/internal/classify"
	"github.com/ecs-medic/ecs-medic/internal/config"
	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/notify"
	"github.com/ecs-medic/ecs-medic/internal/notify/notifytest"
	"github.com/ecs-medic/ecs-medic/internal/notify/pagerduty"
	"github.com/ecs-medic/ecs-medic/internal/severity"
)

const routingKey = "R0UTINGKEY0123456789abcdefABCDEF"

// fakePD is an Events API v2 endpoint that validates every event as PagerDuty does and answers
// with a scripted status.
type fakePD struct {
	*httptest.Server
	mu       sync.Mutex
	accepted []map[string]any
	script   []int // statuses to answer before accepting, in order
	invalid  []string
}

func newFakePD(t *testing.T, script ...int) *fakePD {
	f := &fakePD{script: script}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if r.URL.Path != "/v2/enqueue" || r.Method != http.MethodPost {
			http.Error(w, "not found", 404)
			return
		}
		body, _ := io.ReadAll(r.Body)
		var ev map[string]any
		if err := json.Unmarshal(body, &ev); err != nil {
			f.invalid = append(f.invalid, "not JSON")
			w.WriteHeader(400)
			return
		}
		if problem := validate(ev); problem != "" {
			f.invalid = append(f.invalid, problem)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(400)
			fmt.Fprintf(w, `{"status":"invalid event","message":"Event object is invalid","errors":[%q]}`, problem)
			return
		}
		if len(f.script) > 0 {
			status := f.script[0]
			f.script = f.script[1:]
			if status == 502 { // a load balancer's HTML error page
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(status)
				fmt.Fprint(w, "<html>Bad Gateway</html>")
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			fmt.Fprint(w, `{"status":"throttle or failure","message":"try again"}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		f.accepted = append(f.accepted, ev)
		w.WriteHeader(202)
		fmt.Fprintf(w, `{"status":"success","message":"Event processed","dedup_key":%q}`, ev["dedup_key"])
	}))
	t.Cleanup(f.Close)
	return f
}

// validate applies the Events API v2 rules
// (https://developer.pagerduty.com/docs/events-api-v2/trigger-events/).
func validate(ev map[string]any) string {
	if ev["routing_key"] != routingKey {
		return "routing_key"
	}
	action, _ := ev["event_action"].(string)
	if action != "trigger" && action != "acknowledge" && action != "resolve" {
		return "event_action"
	}
	if k, _ := ev["dedup_key"].(string); k == "" || len(k) > 255 {
		return "dedup_key"
	}
	if action != "trigger" {
		return ""
	}
	p, ok := ev["payload"].(map[string]any)
	if !ok {
		return "payload"
	}
	if s, _ := p["summary"].(string); s == "" || len(s) > 1024 {
		return "payload.summary"
	}
	if s, _ := p["source"].(string); s == "" {
		return "payload.source"
	}
	switch p["severity"] {
	case "critical", "error", "warning", "info":
	default:
		return "payload.severity"
	}
	if ts, ok := p["timestamp"].(string); ok {
		if _, err := time.Parse(time.RFC3339, ts); err != nil {
			return "payload.timestamp"
		}
	}
	for _, l := range ev["links"].([]any) {
		if m := l.(map[string]any); !strings.HasPrefix(m["href"].(string), "https://") {
			return "links.href"
		}
	}
	return ""
}

func (f *fakePD) events() []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]map[string]any(nil), f.accepted...)
}

func newNotifier(f *fakePD) *pagerduty.Notifier {
	return pagerduty.New(config.Secret(routingKey), pagerduty.WithEndpoint(f.URL))
}

func fanout(n notify.Notifier) *notify.Fanout {
	return notify.NewFanout([]notify.Notifier{n}, notify.WithRetry(4, time.Millisecond),
		notify.WithSleep(func(context.Context, time.Duration) error { return nil }))
}

func TestTriggerAcknowledgeResolve(t *testing.T) {
	f := newFakePD(t)
	fan := fanout(newNotifier(f))
	inc := notifytest.Incident(classify.OOMKilled)
	res := fan.Send(context.Background(), notify.Notification{Kind: notify.Opened, Incident: inc})
	if res[0].Err != nil || res[0].Ref != inc.ID {
		t.Fatalf("trigger: %+v", res[0])
	}
	inc.Notices = map[string]*incident.Notice{"pagerduty": {Ref: res[0].Ref}}
	for _, k := range []notify.Kind{notify.Acknowledged, notify.Resolved} {
		if r := fan.Send(context.Background(), notify.Notification{Kind: k, Incident: inc}); r[0].Err != nil {
			t.Fatalf("%s: %v", k, r[0].Err)
		}
	}
	evs := f.events()
	if len(evs) != 3 || evs[0]["event_action"] != "trigger" || evs[1]["event_action"] != "acknowledge" || evs[2]["event_action"] != "resolve" {
		t.Fatalf("%v", evs)
	}
	for _, ev := range evs {
		if ev["dedup_key"] != inc.ID {
			t.Fatalf("dedup_key %v, want the incident id", ev["dedup_key"])
		}
	}
	p := evs[0]["payload"].(map[string]any)
	if p["summary"] != "checkout (prod): all 4 tasks down — OOMKilled, container api, memory 512 MiB" || p["severity"] != "critical" {
		t.Fatalf("payload %v", p)
	}
}

func TestRetriesThenOneTrigger(t *testing.T) {
	f := newFakePD(t, 429, 500, 502)
	res := fanout(newNotifier(f)).Send(context.Background(), notify.Notification{Kind: notify.Opened, Incident: notifytest.Incident(classify.OOMKilled)})
	if res[0].Err != nil || res[0].Attempts != 4 || len(f.events()) != 1 {
		t.Fatalf("%+v, %d accepted", res[0], len(f.events()))
	}
}

func TestBadRequestIsNotRetried(t *testing.T) {
	f := newFakePD(t)
	n := pagerduty.New(config.Secret("wrong-key"), pagerduty.WithEndpoint(f.URL))
	res := fanout(n).Send(context.Background(), notify.Notification{Kind: notify.Opened, Incident: notifytest.Incident(classify.OOMKilled)})
	if res[0].Err == nil || res[0].Attempts != 1 {
		t.Fatalf("a 400 was retried or hidden: %+v", res[0])
	}
	if strings.Contains(res[0].Err.Error(), "wrong-key") {
		t.Fatal("the routing key is in the error")
	}
}

func TestUnreachableIsRetried(t *testing.T) {
	n := pagerduty.New(config.Secret(routingKey), pagerduty.WithEndpoint("http://127.0.0.1:1"))
	res := fanout(n).Send(context.Background(), notify.Notification{Kind: notify.Opened, Incident: notifytest.Incident(classify.OOMKilled)})
	if res[0].Err == nil || res[0].Attempts != 4 {
		t.Fatalf("%+v", res[0])
	}
}

func TestP3AndUnpagedAreSkipped(t *testing.T) {
	f := newFakePD(t)
	fan := fanout(newNotifier(f))
	inc := notifytest.Incident(classify.HostLost) // P3
	if r := fan.Send(context.Background(), notify.Notification{Kind: notify.Opened, Incident: inc}); r[0].Skipped == "" || r[0].Err != nil {
		t.Fatalf("P3 paged: %+v", r[0])
	}
	if r := fan.Send(context.Background(), notify.Notification{Kind: notify.Resolved, Incident: inc}); r[0].Skipped == "" {
		t.Fatalf("resolve of an unpaged incident sent: %+v", r[0])
	}
	// Raised to P1 later: now it pages.
	inc.Severity = severity.P1
	if r := fan.Send(context.Background(), notify.Notification{Kind: notify.Raised, Incident: inc}); r[0].Err != nil || r[0].Skipped != "" {
		t.Fatalf("raised: %+v", r[0])
	}
	if len(f.events()) != 1 {
		t.Fatalf("%d events", len(f.events()))
	}
	// With P3 paging on, a P3 pages at "warning".
	g := newFakePD(t)
	p3 := pagerduty.New(config.Secret(routingKey), pagerduty.WithEndpoint(g.URL), pagerduty.WithP3())
	if r := fanout(p3).Send(context.Background(), notify.Notification{Kind: notify.Opened, Incident: notifytest.Incident(classify.HostLost)}); r[0].Err != nil {
		t.Fatal(r[0].Err)
	}
	if sev := g.events()[0]["payload"].(map[string]any)["severity"]; sev != "warning" {
		t.Fatalf("P3 severity %v", sev)
	}
}

func TestGoldenPayloads(t *testing.T) {
	for _, c := range notifytest.Causes {
		t.Run(string(c), func(t *testing.T) {
			ev := pagerduty.Event("<routing-key>", "trigger", notify.Opened, notifytest.Incident(c))
			b, err := json.MarshalIndent(ev, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			if problem := validate(mustMap(t, b, routingKey)); problem != "" {
				t.Fatalf("invalid event: %s", problem)
			}
			notifytest.Golden(t, "pagerduty/"+string(c)+".json", append(b, '\n'))
		})
	}
}

func mustMap(t *testing.T, b []byte, key string) map[string]any {
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	m["routing_key"] = key
	return m
}
