package chatops_test

import (
	"bytes"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/ecs-medic/ecs-medic/internal/chatops"
	"github.com/ecs-medic/ecs-medic/internal/config"
	"github.com/ecs-medic/ecs-medic/internal/notify/notifytest"
	"github.com/ecs-medic/ecs-medic/internal/notify/pagerduty"
	"github.com/ecs-medic/ecs-medic/internal/route"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakeoncall"
)

const (
	pdToken = "u+Sx8eRvFakeRestToken0123"
	// Events API v2 routing keys: 32 characters each.
	keyCheckout = "R0CHECKOUT000000000000000000000A"
	keyPayments = "R0PAYMENTS000000000000000000000B"
	keyOrphan   = "R0ORPHAN00000000000000000000000C"
	keyArchive  = "R0ARCHIVE0000000000000000000000D"
)

const onCallRoutes = `
routes:
  - name: payments
    match: {service: "payments*"}
    pagerduty_routing_key: ` + keyPayments + `
  - name: checkout-oom
    match: {cluster: prod, service: checkout, cause: oom-killed}
    pagerduty_routing_key: ` + keyPayments + `
  - name: legacy
    match: {cluster: legacy}
    pagerduty_routing_key: ` + keyOrphan + `
  - name: archive
    match: {cluster: archive}
    pagerduty_routing_key: ` + keyArchive + `
  - name: batch
    match: {cluster: batch}
    slack_channel: "#batch"
  - name: broken
    match: {cluster: broken}
    pagerduty_routing_key_arn: arn:aws:secretsmanager:us-east-1:111122223333:secret:pd-broken
default:
  pagerduty_routing_key: ` + keyCheckout + `
`

// pdFake is a PagerDuty account: two teams' services among others, pages of two so that every
// listing takes several requests.
func pdFake(t *testing.T) *fakeoncall.Server {
	t.Helper()
	pd := fakeoncall.New(pdToken)
	t.Cleanup(pd.Close)
	pd.MaxLimit = 2
	monday := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	pd.Add([]fakeoncall.Service{
		{ID: "PSEARCH", Name: "Search", Policy: "PEPSEARCH", Keys: []string{"R0SEARCH000000000000000000000000"}},
		{ID: "PWEB", Name: "Website", Policy: "PEPSEARCH"},
		{ID: "PCHECKOUT", Name: "Checkout API", Policy: "PEPCHECKOUT", Keys: []string{"R0OTHER0000000000000000000000000", keyCheckout}},
		{ID: "PPAY", Name: "Payments", Policy: "PEPPAY", Keys: []string{keyPayments}},
		{ID: "PARCHIVE", Name: "Archive", Policy: "PEPNOBODY", Disabled: true, Keys: []string{keyArchive}},
	}, []fakeoncall.Policy{{ID: "PEPCHECKOUT", Name: "Checkout on-call"}, {ID: "PEPPAY", Name: "Payments & Billing"}, {ID: "PEPSEARCH", Name: "Search"},
		{ID: "PEPNOBODY", Name: "Nobody"}},
		[]fakeoncall.OnCall{
			{Policy: "PEPSEARCH", Level: 1, UserID: "PUSEARCH", User: "Sam Search", ScheduleID: "PSSEARCH", Schedule: "Search", Start: monday.Add(-7 * 24 * time.Hour), End: monday},
			{Policy: "PEPCHECKOUT", Level: 1, UserID: "PUALICE", User: "Alice Example", ScheduleID: "PSPRIMARY", Schedule: "Checkout primary", Start: monday.Add(-7 * 24 * time.Hour), End: monday},
			{Policy: "PEPCHECKOUT", Level: 2, UserID: "PUCAROL", User: "Carol <Lead>"},
			{Policy: "PEPCHECKOUT", Level: 1, UserID: "PUBOB", User: "Bob Builder", ScheduleID: "PSFOLLOW", Schedule: "Checkout follow-the-sun", Start: monday.Add(-3 * 24 * time.Hour), End: time.Date(2026, 11, 27, 17, 0, 0, 0, time.UTC)},
			{Policy: "PEPPAY", Level: 1, UserID: "PUDAN", User: "Dan Payments", ScheduleID: "PSPAY", Schedule: "Payments weekly", Start: monday.Add(-7 * 24 * time.Hour), End: monday},
		})
	return pd
}

func onCallRig(t *testing.T, pd *fakeoncall.Server, token string) (*rig, *bytes.Buffer) {
	t.Helper()
	g := newRig(t)
	routes, err := route.Parse("routes.yaml", []byte(onCallRoutes))
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	g.h.Log = zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(&logs), zap.DebugLevel))
	g.h.OnCall = &chatops.OnCall{Finder: pagerduty.NewDirectory(config.Secret(token), pd.URL), Routes: routes,
		Keys:      map[string]config.Secret{"payments": keyPayments, "checkout-oom": keyPayments, "legacy": keyOrphan, "archive": keyArchive, route.DefaultName: keyCheckout},
		KeyErrors: map[string]string{"broken": "route broken: pagerduty_routing_key: read secret arn:aws:secretsmanager:us-east-1:111122223333:secret:pd-broken: AccessDeniedException"}}
	return g, &logs
}

// ask sends `/medic <text>`, checks the acknowledgement and returns the answer that follows.
func (g *rig) ask(t *testing.T, text string) string {
	t.Helper()
	code, ack := g.command(t, "U0BOB", text)
	if code != 200 || ack != "Asking PagerDuty who is on call…" {
		t.Fatalf("%d %q", code, ack)
	}
	return g.deferred(t)
}

func TestOnCallForAService(t *testing.T) {
	pd := pdFake(t)
	g, logs := onCallRig(t, pd, pdToken)
	answer := g.ask(t, "oncall prod/checkout")
	notifytest.Golden(t, "answers/oncall-service.txt", []byte(answer+"\n"))

	reqs := pd.Requests()
	var services, oncalls []fakeoncall.Request
	for _, r := range reqs {
		if r.Authorization != "Token token="+pdToken || r.Method != http.MethodGet {
			t.Errorf("request %s %s with Authorization %q", r.Method, r.Path, r.Authorization)
		}
		switch r.Path {
		case "/services":
			services = append(services, r)
		case "/oncalls":
			oncalls = append(oncalls, r)
		default:
			t.Errorf("unexpected request %s", r.Path)
		}
	}
	// Five services in pages of two: offsets 0, 2, 4, each asking for the integrations (whose
	// integration_key only comes with include[]=integrations).
	if len(services) != 3 {
		t.Fatalf("%d service pages, want 3: %+v", len(services), services)
	}
	for i, r := range services {
		if got := r.Query["include[]"]; !slices.Equal(got, []string{"integrations"}) || r.Query.Get("limit") != "100" ||
			(i > 0 && r.Query.Get("offset") != []string{"", "2", "4"}[i]) {
			t.Errorf("services request %d: %v", i, r.Query)
		}
	}
	// Two policies (checkout's default route, payments' route for its OOM incidents), each read
	// once: checkout's three entries take two pages.
	var policies []string
	for _, r := range oncalls {
		if r.Query.Get("earliest") != "true" || r.Query.Get("time_zone") != "UTC" || len(r.Query["escalation_policy_ids[]"]) != 1 {
			t.Errorf("oncalls request %v", r.Query)
		}
		policies = append(policies, r.Query["escalation_policy_ids[]"][0]+"@"+r.Query.Get("offset"))
	}
	if want := []string{"PEPPAY@", "PEPCHECKOUT@", "PEPCHECKOUT@2"}; !slices.Equal(policies, want) {
		t.Errorf("on-call reads %v, want %v", policies, want)
	}
	if strings.Contains(logs.String(), pdToken) || strings.Contains(answer, pdToken) || strings.Contains(answer, keyCheckout) {
		t.Errorf("a secret leaked:\n%s\n%s", logs.String(), answer)
	}
}

func TestOnCallForEveryRoute(t *testing.T) {
	pd := pdFake(t)
	g, _ := onCallRig(t, pd, pdToken)
	answer := g.ask(t, "oncall")
	notifytest.Golden(t, "answers/oncall-all.txt", []byte(answer+"\n"))
	// Three keys, one listing of the services.
	n := 0
	for _, r := range pd.Requests() {
		if r.Path == "/services" && r.Query.Get("offset") == "" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("services listed %d times, want once", n)
	}
}

// Without MEDIC_ROUTES every incident pages MEDIC_PAGERDUTY_ROUTING_KEY.
func TestOnCallWithoutRoutes(t *testing.T) {
	pd := pdFake(t)
	g := newRig(t)
	g.h.OnCall = &chatops.OnCall{Finder: pagerduty.NewDirectory(pdToken, pd.URL), Keys: map[string]config.Secret{route.DefaultName: keyCheckout}}
	for _, text := range []string{"oncall web", "oncall"} {
		answer := g.ask(t, text)
		if !strings.Contains(answer, "\n*Route* `default`\n") || !strings.Contains(answer, "Alice Example") || strings.Contains(answer, "Dan Payments") {
			t.Errorf("%s:\n%s", text, answer)
		}
	}
}

func TestOnCallAnswersWhenPagerDutyFails(t *testing.T) {
	for _, tc := range []struct {
		name   string
		token  string
		path   string
		status int
		want   string
	}{
		{"bad token", "not-the-token", "", 0, "PagerDuty refused the API token (401 Unauthorized): MEDIC_PAGERDUTY_API_TOKEN is not a valid REST API key"},
		{"forbidden", pdToken, "/services", http.StatusForbidden, "(403 Forbidden)"},
		{"rate limited", pdToken, "/oncalls", http.StatusTooManyRequests, "PagerDuty is rate limiting this account's REST API (429 Too Many Requests): try again in a minute"},
		{"down", pdToken, "/services", http.StatusServiceUnavailable, "PagerDuty's REST API failed (HTTP 503)"},
		{"failing", pdToken, "/oncalls", http.StatusInternalServerError, "PagerDuty's REST API failed (HTTP 500)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pd := pdFake(t)
			if tc.path != "" {
				pd.Fail(tc.path, tc.status)
			}
			g, logs := onCallRig(t, pd, tc.token)
			answer := g.ask(t, "oncall prod/checkout")
			if !strings.HasPrefix(answer, ":warning: Could not read who is on call: ") || !strings.Contains(answer, tc.want) {
				t.Errorf("answer %q, want %q", answer, tc.want)
			}
			for _, secret := range []string{tc.token, keyCheckout, keyPayments} {
				if strings.Contains(logs.String(), secret) || strings.Contains(answer, secret) {
					t.Errorf("%q leaked:\n%s\n%s", secret, logs.String(), answer)
				}
			}
		})
	}
	t.Run("unreachable", func(t *testing.T) {
		pd := pdFake(t)
		g, _ := onCallRig(t, pd, pdToken)
		pd.Close()
		if answer := g.ask(t, "oncall"); !strings.Contains(answer, "could not be reached from here") {
			t.Errorf("answer %q", answer)
		}
	})
}

func TestOnCallWithoutTokenOrKeys(t *testing.T) {
	g := newRig(t)
	for _, tc := range []struct {
		name string
		oc   *chatops.OnCall
		text string
		want string
	}{
		{"no token", &chatops.OnCall{Keys: map[string]config.Secret{route.DefaultName: keyCheckout}}, "oncall", "sets MEDIC_PAGERDUTY_API_TOKEN (or"},
		{"not wired", nil, "oncall prod/checkout", "sets MEDIC_PAGERDUTY_API_TOKEN (or"},
		{"no key", &chatops.OnCall{Finder: pagerduty.NewDirectory("t", "http://127.0.0.1:1")}, "oncall", "ecs-medic pages nobody: no PagerDuty routing key is configured"},
		{"too many", &chatops.OnCall{}, "oncall prod/checkout now", "Usage: `/medic oncall"},
		{"not a service", &chatops.OnCall{}, "oncall prod//checkout", "is not a service"},
		{"not an account", &chatops.OnCall{}, "oncall x/prod/checkout", "is not a service"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g.h.OnCall = tc.oc
			code, answer := g.command(t, "U0BOB", tc.text)
			if code != 200 || !strings.Contains(answer, tc.want) {
				t.Errorf("%d %q, want %q", code, answer, tc.want)
			}
		})
	}
	g.h.OnCall = &chatops.OnCall{}
	_, answer := g.command(t, "U0BOB", "oncall")
	notifytest.Golden(t, "answers/oncall-no-token.txt", []byte(answer+"\n"))
}
