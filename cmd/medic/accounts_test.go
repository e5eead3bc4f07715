package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecs-medic/ecs-medic/internal/testing/eventgen"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakeecs"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakepagerduty"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakests"
)

// medic serve on an organization's events, over HTTP: a member account's service read with the
// member role and paged on its team's route; an account whose role is refused, P3 and never read
// with the central credentials; an account not in MEDIC_ACCOUNTS refused and counted.
func TestServeMemberAccounts(t *testing.T) {
	const member, denied = "222233334444", "333344445555"
	st := fakests.New(map[string]string{"AKIDCENTRAL": eventgen.Account})
	st.AllowRole("arn:aws:iam::" + member + ":role/ecs-medic-member")
	home := fakeecs.New(fakeecs.Service{Cluster: "payments-prod", Name: "api", Desired: 2, Running: 2})
	mECS := fakeecs.New(fakeecs.Service{Cluster: "payments-prod", Name: "api", Desired: 2, Running: 0})
	mECS.SetAccount(member)
	front := st.Route(map[string]http.Handler{eventgen.Account: home.Config.Handler, member: mECS.Config.Handler})
	pd := fakepagerduty.New("DEFAULT-KEY-0123456789abcdef0123", "PAYMENTS-KEY-0123456789abcdef012")
	for _, c := range []interface{ Close() }{st, home, mECS, front, pd} {
		t.Cleanup(c.Close)
	}
	dir := t.TempDir()
	for k, v := range map[string]string{"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "AKIDCENTRAL", "AWS_SECRET_ACCESS_KEY": "secret",
		"AWS_ENDPOINT_URL_ECS": front.URL, "AWS_ENDPOINT_URL_STS": st.URL, "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS": front.URL,
		"AWS_CONFIG_FILE": filepath.Join(dir, "none"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "none"), "AWS_MAX_ATTEMPTS": "1"} {
		t.Setenv(k, v)
	}
	routes := filepath.Join(dir, "routes.yaml")
	os.WriteFile(routes, []byte("routes:\n  - name: payments\n    match: { cluster: \"payments-*\" }\n    pagerduty_routing_key: PAYMENTS-KEY-0123456789abcdef012\n"), 0o600)
	env := map[string]string{"MEDIC_DB": filepath.Join(dir, "medic.db"), "MEDIC_ADDR": "127.0.0.1:0", "MEDIC_LOG_LEVEL": "error",
		"MEDIC_MEMBER_ROLE_ARN": "arn:aws:iam::{account}:role/ecs-medic-member", "MEDIC_ACCOUNTS": strings.Join([]string{eventgen.Account, member, denied}, ","),
		"MEDIC_PAGERDUTY_ROUTING_KEY": "DEFAULT-KEY-0123456789abcdef0123", "MEDIC_PAGERDUTY_EVENTS_URL": pd.URL, "MEDIC_ROUTES": routes}
	ctx, cancel := context.WithCancel(context.Background())
	addr, done := startServe(t, ctx, env)
	batch := [][]byte{
		eventgen.InAccount(eventgen.OOM("payments-prod", "api", 1), member),
		eventgen.InAccount(eventgen.OOM("payments-prod", "api", 2), member),
		eventgen.InAccount(eventgen.OOM("payments-prod", "api", 3), denied),
		eventgen.InAccount(eventgen.OOM("payments-prod", "api", 4), "999988887777"),
	}
	body := append([]byte("["), bytes.Join(batch, []byte(","))...)
	resp, err := http.Post(addr+"/events", "application/json", bytes.NewReader(append(body, ']')))
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Results []struct{ Account, Outcome, Severity, Error, Incident string }
	}
	_ = json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(got.Results) != 4 {
		t.Fatalf("%d %+v", resp.StatusCode, got)
	}
	r := got.Results
	if r[0].Outcome != "opened" || r[0].Severity != "P1" || r[1].Outcome != "occurrence" ||
		r[2].Outcome != "opened" || r[2].Severity != "P3" || r[3].Outcome != "refused" || !strings.Contains(r[3].Error, "MEDIC_ACCOUNTS") {
		t.Fatalf("%+v", r)
	}
	// One alert on the payments route (a later trigger with the same dedup_key only adds to its log).
	alerts := map[any]bool{}
	for _, e := range pd.EventsFor("PAYMENTS-KEY-0123456789abcdef012", "trigger") {
		alerts[e["dedup_key"]] = true
	}
	if len(alerts) != 1 || !alerts[r[0].Incident] || len(pd.EventsFor("DEFAULT-KEY-0123456789abcdef0123", "")) != 0 {
		t.Fatalf("alerts on the payments route %v; default key: %v", alerts, pd.EventsFor("DEFAULT-KEY-0123456789abcdef0123", ""))
	}
	if n := len(home.Calls("")); n != 0 {
		t.Fatalf("the central account's ECS got %d calls", n)
	}
	for _, c := range mECS.Calls("") {
		if st.AccountOf(c.AccessKey) != member {
			t.Fatalf("%s signed by %s", c.Operation, c.AccessKey)
		}
	}
	m, err := http.Get(addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(m.Body)
	m.Body.Close()
	if !strings.Contains(string(text), `medic_events_refused_total{reason="account-not-allowed"} 1`) {
		t.Fatal("the refusal is not in /metrics")
	}
	// Serve returns once Stop has drained everything: no deadline, a busy machine is only slower.
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("serve exited %d", code)
	}
}
