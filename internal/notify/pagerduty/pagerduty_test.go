package pagerduty_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ecs-medic/ecs-medic/internal/classify"
	"github.com/ecs-medic/ecs-medic/internal/config"
	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/notify"
	"github.com/ecs-medic/ecs-medic/internal/notify/notifytest"
	"github.com/ecs-medic/ecs-medic/internal/notify/pagerduty"
	"github.com/ecs-medic/ecs-medic/internal/severity"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakepagerduty"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakes"
)

const routingKey = "R0UTINGKEY0123456789abcdefABCDEF"

func newFakePD(t *testing.T, script ...int) *fakepagerduty.Server {
	f := fakepagerduty.New(routingKey)
	f.Fail(fakepagerduty.Statuses(script...)...)
	t.Cleanup(f.Close)
	return f
}

func validate(ev map[string]any) string { return fakepagerduty.Validate(ev, routingKey) }

func newNotifier(f *fakepagerduty.Server) *pagerduty.Notifier {
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
	evs := f.Events("")
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
	if res[0].Err != nil || res[0].Attempts != 4 || len(f.Events("")) != 1 {
		t.Fatalf("%+v, %d accepted", res[0], len(f.Events("")))
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
	if len(f.Events("")) != 1 {
		t.Fatalf("%d events", len(f.Events("")))
	}
	// With P3 paging on, a P3 pages at "warning".
	g := newFakePD(t)
	p3 := pagerduty.New(config.Secret(routingKey), pagerduty.WithEndpoint(g.URL), pagerduty.WithP3())
	if r := fanout(p3).Send(context.Background(), notify.Notification{Kind: notify.Opened, Incident: notifytest.Incident(classify.HostLost)}); r[0].Err != nil {
		t.Fatal(r[0].Err)
	}
	if sev := g.Events("")[0]["payload"].(map[string]any)["severity"]; sev != "warning" {
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

// A fix refused at the cap updates the open alert with the reason, without a new page.
func TestActionUpdatesTheAlert(t *testing.T) {
	f := newFakePD(t)
	fan := fanout(newNotifier(f))
	inc := notifytest.Incident(classify.OOMKilled)
	if r := fan.Send(context.Background(), notify.Notification{Kind: notify.Action, Incident: inc}); r[0].Skipped == "" {
		t.Fatalf("an unpaged incident's action was sent: %+v", r[0])
	}
	inc.Notices = map[string]*incident.Notice{"pagerduty": {Ref: inc.ID}}
	inc.Timeline = append(inc.Timeline, incident.Entry{Actor: "ecs-medic", Kind: "action-skipped",
		Message: "raise-memory not done: memory is 8192 MiB, already at the runbook's cap max_memory_mib 8192"})
	if r := fan.Send(context.Background(), notify.Notification{Kind: notify.Action, Incident: inc}); r[0].Err != nil {
		t.Fatal(r[0].Err)
	}
	evs := f.Events("trigger")
	if len(evs) != 1 || evs[0]["dedup_key"] != inc.ID {
		t.Fatalf("%v", evs)
	}
	details := evs[0]["payload"].(map[string]any)["custom_details"].(map[string]any)
	if !strings.Contains(details["automation"].(string), "already at the runbook's cap") {
		t.Fatalf("the alert does not say why: %v", details)
	}
}

// Escalation moves the PagerDuty incident up its escalation policy through the REST API, found by
// its incident key; it never re-triggers. Past the policy's last level, or without a token, it is
// a recorded skip, not a failure re-sent every minute.
func TestEscalationThroughTheRESTAPI(t *testing.T) {
	const apiToken = "u+REST-API-TOKEN-0123"
	f := newFakePD(t).WithAPIToken(apiToken)
	fan := fanout(pagerduty.New(config.Secret(routingKey), pagerduty.WithEndpoint(f.URL), pagerduty.WithAPI(config.Secret(apiToken), "", f.URL)))
	inc := notifytest.Incident(classify.OOMKilled)
	res := fan.Send(context.Background(), notify.Notification{Kind: notify.Opened, Incident: inc})
	if res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	inc.Notices = map[string]*incident.Notice{"pagerduty": {Ref: res[0].Ref}}
	for want := uint(2); want <= 3; want++ {
		r := fan.Send(context.Background(), notify.Notification{Kind: notify.Escalated, Incident: inc})
		esc := f.Escalations()
		if r[0].Err != nil || r[0].Skipped != "" || len(esc) != int(want-1) || esc[len(esc)-1].Level != want || esc[len(esc)-1].Key != inc.ID {
			t.Fatalf("escalation to level %d: %+v, %+v", want, r[0], esc)
		}
	}
	r := fan.Send(context.Background(), notify.Notification{Kind: notify.Escalated, Incident: inc})
	if r[0].Err != nil || !strings.Contains(r[0].Skipped, "no further level") || r[0].Attempts != 1 {
		t.Fatalf("past the last level: %+v", r[0])
	}
	if n := len(f.Events("trigger")); n != 1 {
		t.Fatalf("%d triggers: an escalation re-triggered", n)
	}
	// Acknowledged in PagerDuty meanwhile: nothing to escalate.
	fan.Send(context.Background(), notify.Notification{Kind: notify.Acknowledged, Incident: inc})
	if r := fan.Send(context.Background(), notify.Notification{Kind: notify.Escalated, Incident: inc}); !strings.Contains(r[0].Skipped, "acknowledged") {
		t.Fatalf("after an acknowledgement: %+v", r[0])
	}
	// Without a REST token: a recorded skip that says what would make it work.
	plain := fanout(newNotifier(f))
	if r := plain.Send(context.Background(), notify.Notification{Kind: notify.Escalated, Incident: inc}); !strings.Contains(r[0].Skipped, "MEDIC_PAGERDUTY_API_TOKEN") {
		t.Fatalf("without a token: %+v", r[0])
	}
	// A wrong token is an error PagerDuty will keep refusing: not retried.
	wrong := fanout(pagerduty.New(config.Secret(routingKey), pagerduty.WithEndpoint(f.URL), pagerduty.WithAPI(config.Secret("nope"), "", f.URL)))
	if r := wrong.Send(context.Background(), notify.Notification{Kind: notify.Escalated, Incident: inc}); r[0].Err == nil || r[0].Attempts != 1 {
		t.Fatalf("wrong token: %+v", r[0])
	}
}

// Retryability comes from the answer's status and the error's type: 429 and 5xx (also from a proxy
// answering HTML) and a dropped connection are retried until accepted, 400 never is.
func TestRetryableByStatusAndType(t *testing.T) {
	for _, tc := range []struct {
		name     string
		fault    fakes.Fault
		attempts int
		ok       bool
	}{
		{"429 rate limited", fakes.Fault{Status: 429, RetryAfter: "1"}, 2, true},
		{"500", fakes.Fault{Status: 500}, 2, true},
		{"502 from a proxy, HTML", fakes.Fault{Status: 502}, 2, true},
		{"dropped connection", fakes.Fault{Drop: true}, 2, true},
		{"400 invalid", fakes.Fault{Status: 400}, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakePD(t)
			f.Fail(tc.fault)
			res := fanout(newNotifier(f)).Send(context.Background(), notify.Notification{Kind: notify.Opened, Incident: notifytest.Incident(classify.OOMKilled)})
			if res[0].Attempts != tc.attempts || (res[0].Err == nil) != tc.ok {
				t.Fatalf("%d attempts, err %v; want %d attempts, accepted %v", res[0].Attempts, res[0].Err, tc.attempts, tc.ok)
			}
			if want := map[bool]int{true: 1, false: 0}[tc.ok]; len(f.Events("trigger")) != want {
				t.Fatalf("%d triggers accepted, want %d", len(f.Events("trigger")), want)
			}
		})
	}
}

// A request that got no answer fails with a *TransportError that keeps the network's error.
func TestDroppedConnectionIsATransportError(t *testing.T) {
	f := newFakePD(t)
	f.Fail(fakes.Fault{Drop: true})
	retry, err := newNotifier(f).Notify(context.Background(), notify.Notification{Kind: notify.Opened, Incident: notifytest.Incident(classify.OOMKilled)})
	var te *pagerduty.TransportError
	if !retry || !errors.As(err, &te) {
		t.Fatalf("retry %v, %T %v", retry, err, err)
	}
	// A caller that gave up does not want another attempt.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if retry, err := newNotifier(f).Notify(ctx, notify.Notification{Kind: notify.Opened, Incident: notifytest.Incident(classify.OOMKilled)}); retry || err == nil {
		t.Fatalf("cancelled: retry %v, %v", retry, err)
	}
}
