package app_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"go.uber.org/zap"

	"github.com/ecs-medic/ecs-medic/internal/app"
	"github.com/ecs-medic/ecs-medic/internal/boltstore"
	"github.com/ecs-medic/ecs-medic/internal/config"
	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/notify"
	"github.com/ecs-medic/ecs-medic/internal/remediate/autoscaling"
	"github.com/ecs-medic/ecs-medic/internal/tasklogs/awslogs"
	"github.com/ecs-medic/ecs-medic/internal/testing/eventgen"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakeecs"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakepagerduty"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakeslack"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakests"
)

const (
	paymentsKey = "PAYMENTS-KEY-0123456789abcdef012"
	searchKey   = "SEARCH-KEY-0123456789abcdef01234"
	teamsRoutes = `
routes:
  - name: payments
    match: { cluster: "payments-*" }
    slack_channel: C0PAYMENTS
    pagerduty_routing_key: ` + paymentsKey + `
  - name: search
    match: { tags: { team: search } }
    slack_channel: C0SEARCH
    pagerduty_routing_key: ` + searchKey + `
default: { slack_channel: C0ONCALL }
`
)

type teams struct {
	app   *app.App
	store *boltstore.Store
	pd    *fakepagerduty.Server
	slack *fakeslack.Server
}

// newTeams runs two teams' services and one nobody claimed, each down, with a routes file.
func newTeams(t *testing.T, routesYAML string, extraEnv ...string) *teams {
	t.Helper()
	var services []fakeecs.Service
	for i := 1; i <= 3; i++ {
		services = append(services,
			fakeecs.Service{Cluster: "payments-prod", Name: fmt.Sprintf("pay-%d", i), Desired: 2, Running: 0},
			fakeecs.Service{Cluster: "prod", Name: fmt.Sprintf("idx-%d", i), Desired: 2, Running: 0, Tags: map[string]string{"team": "search"}})
	}
	services = append(services, fakeecs.Service{Cluster: "prod", Name: "misc", Desired: 2, Running: 0})
	fe := fakeecs.New(services...)
	st := fakests.New(map[string]string{"AKIDEXAMPLE": eventgen.Account})
	pd := fakepagerduty.New(routingKey, paymentsKey, searchKey)
	sl := fakeslack.New(botToken)
	for _, c := range []interface{ Close() }{fe, st, pd, sl} {
		t.Cleanup(c.Close)
	}
	for k, v := range map[string]string{
		"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret",
		"AWS_ENDPOINT_URL_ECS": fe.URL, "AWS_ENDPOINT_URL_STS": st.URL, "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS": fe.URL,
		"AWS_CONFIG_FILE": filepath.Join(t.TempDir(), "none"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(t.TempDir(), "none"),
	} {
		t.Setenv(k, v)
	}
	file := filepath.Join(t.TempDir(), "routes.yaml")
	for i := 0; i+1 < len(extraEnv); i += 2 {
		t.Setenv(extraEnv[i], extraEnv[i+1])
	}
	if err := os.WriteFile(file, []byte(routesYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(func(k string) string {
		return map[string]string{
			"MEDIC_PAGERDUTY_ROUTING_KEY": routingKey, "MEDIC_PAGERDUTY_EVENTS_URL": pd.URL,
			"MEDIC_SLACK_BOT_TOKEN": botToken, "MEDIC_SLACK_CHANNEL": "#incidents", "MEDIC_SLACK_API_URL": sl.APIURL(),
			"MEDIC_ROUTES": file,
		}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	store, err := boltstore.Open(filepath.Join(t.TempDir(), "medic.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	a, err := app.New(context.Background(), cfg, zap.NewNop(), app.Options{Store: store, Console: io.Discard, Logs: awslogs.ForAccounts, Scaling: autoscaling.ForAccount})
	if err != nil {
		t.Fatal(err)
	}
	return &teams{app: a, store: store, pd: pd, slack: sl}
}

func component(ev map[string]any) string {
	p, _ := ev["payload"].(map[string]any)
	c, _ := p["component"].(string)
	return c
}

// A storm across both teams' services: each team gets exactly its own pages and messages, the
// service nobody claimed goes to the default; acknowledgement, escalation and resolution follow
// each incident to its team.
func TestStormAcrossTwoTeams(t *testing.T) {
	g := newTeams(t, teamsRoutes)
	events := make(chan []byte)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for raw := range events {
				if _, err := g.app.Pipeline().HandleRaw(context.Background(), raw); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	n := 0
	for round := range 20 {
		for i := 1; i <= 3; i++ {
			n++
			events <- eventgen.OOM("payments-prod", fmt.Sprintf("pay-%d", i), n)
			n++
			events <- eventgen.OOM("prod", fmt.Sprintf("idx-%d", i), n)
		}
		if round == 0 {
			n++
			events <- eventgen.OOM("prod", "misc", n)
		}
	}
	close(events)
	wg.Wait()

	for key, want := range map[string]string{paymentsKey: "pay-", searchKey: "idx-", routingKey: "misc"} {
		pages := g.pd.EventsFor(key, "trigger")
		wantN := 3
		if key == routingKey {
			wantN = 1
		}
		if len(pages) != wantN {
			t.Fatalf("%d pages on %s, want %d", len(pages), key[:8], wantN)
		}
		for _, p := range pages {
			if !strings.HasPrefix(component(p), want) {
				t.Fatalf("%s paged on %s", component(p), key[:8])
			}
		}
	}
	posts := map[string][]string{}
	for _, c := range g.slack.Calls("chat.postMessage") {
		posts[c.Channel] = append(posts[c.Channel], c.Text)
	}
	if len(posts) != 3 || len(posts["C0PAYMENTS"]) != 3 || len(posts["C0SEARCH"]) != 3 || len(posts["C0ONCALL"]) != 1 {
		t.Fatalf("messages by channel: %v", posts)
	}
	for ch, prefix := range map[string]string{"C0PAYMENTS": "pay-", "C0SEARCH": "idx-", "C0ONCALL": "misc"} {
		for _, text := range posts[ch] {
			if !strings.Contains(text, prefix) {
				t.Fatalf("%s got %q", ch, text)
			}
		}
	}

	// Later notifications follow the incident to its route's receivers.
	incs, err := g.store.List(context.Background(), incident.Filter{Active: true})
	if err != nil || len(incs) != 7 {
		t.Fatalf("%d incidents, %v", len(incs), err)
	}
	byService := map[string]*incident.Incident{}
	for _, inc := range incs {
		byService[inc.Scope.Service] = inc
	}
	ctx := context.Background()
	pay, idx := byService["pay-1"], byService["idx-2"]
	if pay.Route != "payments" || idx.Route != "search" || byService["misc"].Route != "default" {
		t.Fatalf("routes kept: %q %q %q", pay.Route, idx.Route, byService["misc"].Route)
	}
	acked, _, _ := g.app.Manager().Acknowledge(ctx, pay.ID, "slack:U0ALICE")
	notify.Announce(ctx, g.app.Sender(), g.app.Manager(), zap.NewNop(), notify.Acknowledged, acked)
	notify.Announce(ctx, g.app.Sender(), g.app.Manager(), zap.NewNop(), notify.Escalated, idx)
	resolved, _, _ := g.app.Manager().Resolve(ctx, idx.ID, "slack:U0BOB", "fixed")
	notify.Announce(ctx, g.app.Sender(), g.app.Manager(), zap.NewNop(), notify.Resolved, resolved)
	if a := g.pd.EventsFor(paymentsKey, "acknowledge"); len(a) != 1 || a[0]["dedup_key"] != pay.ID {
		t.Fatalf("acknowledge: %v", a)
	}
	if r := g.pd.EventsFor(searchKey, "resolve"); len(r) != 1 || r[0]["dedup_key"] != idx.ID {
		t.Fatalf("resolve: %v", r)
	}
	// An escalation never re-triggers (a second trigger notifies nobody): without a REST API
	// token nothing goes to PagerDuty; its thread reply goes to the search channel (below).
	if e := g.pd.EventsFor(searchKey, "trigger"); len(e) != 3 {
		t.Fatalf("%d triggers on the search key, want the 3 pages only", len(e))
	}
	if len(g.pd.EventsFor(routingKey, "")) != 1 {
		t.Fatal("the default key got another team's notification")
	}
	for _, c := range append(g.slack.Calls("chat.update"), g.slack.Calls("chat.postMessage")...) {
		if c.ThreadTS == "" && c.TS == "" {
			continue // the first posts, checked above
		}
		if strings.Contains(c.Text, "pay-1") && c.Channel != "C0PAYMENTS" || strings.Contains(c.Text, "idx-2") && c.Channel != "C0SEARCH" {
			t.Fatalf("%s in %s: %q", c.Method, c.Channel, c.Text)
		}
	}
	replies := map[string]int{}
	for _, c := range g.slack.Calls("chat.postMessage") {
		if c.ThreadTS != "" {
			replies[c.Channel]++
		}
	}
	if replies["C0PAYMENTS"] != 1 || replies["C0SEARCH"] != 2 || replies["C0ONCALL"] != 0 {
		t.Fatalf("thread replies by channel: %v", replies)
	}
}

// One team's PagerDuty integration hangs: the other team's page goes out meanwhile. The held
// page is still delivered once its receiver answers.
func TestAFailingRouteDoesNotHoldUpAnother(t *testing.T) {
	g := newTeams(t, teamsRoutes)
	release := g.pd.Hold(paymentsKey)
	done := make(chan error, 1)
	go func() {
		_, err := g.app.Pipeline().HandleRaw(context.Background(), eventgen.OOM("payments-prod", "pay-1", 1))
		done <- err
	}()
	res, err := g.app.Pipeline().HandleRaw(context.Background(), eventgen.OOM("prod", "idx-1", 2))
	if err != nil || res.Outcome != "opened" {
		t.Fatalf("%+v %v", res, err)
	}
	// The search page was accepted while payments' receiver still holds its request.
	if n := len(g.pd.EventsFor(searchKey, "trigger")); n != 1 {
		t.Fatalf("search paged %d times while payments' PagerDuty hangs", n)
	}
	if n := len(g.pd.EventsFor(paymentsKey, "trigger")); n != 0 {
		t.Fatalf("payments paged %d times before its receiver answered", n)
	}
	release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := len(g.pd.EventsFor(paymentsKey, "trigger")); n != 1 {
		t.Fatalf("payments paged %d times after its receiver answered", n)
	}

	// Down rather than hanging: payments' page is left pending for the reconciler, search pages.
	g.pd.SetDownKey(paymentsKey, true)
	g.app.Pipeline().HandleRaw(context.Background(), eventgen.OOM("payments-prod", "pay-2", 3))
	g.app.Pipeline().HandleRaw(context.Background(), eventgen.OOM("prod", "idx-2", 4))
	if n := len(g.pd.EventsFor(searchKey, "trigger")); n != 2 {
		t.Fatalf("search paged %d times", n)
	}
	incs, _ := g.store.List(context.Background(), incident.Filter{Active: true})
	for _, inc := range incs {
		if inc.Scope.Service == "pay-2" && (inc.Notices["pagerduty"] == nil || inc.Notices["pagerduty"].Pending == "") {
			t.Fatalf("payments' failed page is not pending: %+v", inc.Notices)
		}
	}
}

// A route whose PagerDuty key cannot be read at start (the secret is gone): ecs-medic starts, that
// route's incidents say why they were not paged, and the other route pages.
func TestARouteWhoseKeyCannotBeReadDoesNotStopTheOthers(t *testing.T) {
	sm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"__type":"ResourceNotFoundException","message":"Secrets Manager can't find the specified secret."}`)
	}))
	t.Cleanup(sm.Close)
	routes := strings.Replace(teamsRoutes, "pagerduty_routing_key: "+paymentsKey,
		"pagerduty_routing_key_arn: arn:aws:secretsmanager:us-east-1:111122223333:secret:pd-payments", 1)
	g := newTeams(t, routes, "AWS_ENDPOINT_URL_SECRETS_MANAGER", sm.URL, "AWS_MAX_ATTEMPTS", "1")
	pay, err := g.app.Pipeline().HandleRaw(context.Background(), eventgen.OOM("payments-prod", "pay-1", 1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.app.Pipeline().HandleRaw(context.Background(), eventgen.OOM("prod", "idx-1", 2)); err != nil {
		t.Fatal(err)
	}
	if n := len(g.pd.EventsFor(searchKey, "trigger")); n != 1 {
		t.Fatalf("search paged %d times", n)
	}
	inc, _ := g.store.Get(context.Background(), pay.Incident)
	said := false
	for _, e := range inc.Timeline {
		if e.Kind == "notify-failed" && strings.Contains(e.Message, "pd-payments") && strings.Contains(e.Message, "ResourceNotFoundException") {
			said = true
		}
	}
	if !said || len(g.slack.Calls("chat.postMessage")) != 2 {
		t.Fatalf("the payments incident does not say why it was not paged: %+v", inc.Timeline)
	}
}
