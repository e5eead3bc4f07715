package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/ecs-medic/ecs-medic/internal/app"
	"github.com/ecs-medic/ecs-medic/internal/boltstore"
	"github.com/ecs-medic/ecs-medic/internal/chatops"
	"github.com/ecs-medic/ecs-medic/internal/config"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakeoncall"
)

// `/medic oncall` as wired: each route's own PagerDuty key (the default's from
// MEDIC_PAGERDUTY_ROUTING_KEY), read through the REST API with MEDIC_PAGERDUTY_API_TOKEN.
func TestOnCallReadsEachRoutesKey(t *testing.T) {
	const token = "rest-token-for-oncall"
	pd := fakeoncall.New(token).Add([]fakeoncall.Service{
		{ID: "PPAY", Name: "Payments", Policy: "PEP1", Keys: []string{paymentsKey}},
		{ID: "PSEARCH", Name: "Search", Policy: "PEP1", Keys: []string{searchKey}},
		{ID: "PALL", Name: "Platform", Policy: "PEP2", Keys: []string{routingKey}},
	}, []fakeoncall.Policy{{ID: "PEP1", Name: "Product"}, {ID: "PEP2", Name: "Platform"}},
		[]fakeoncall.OnCall{{Policy: "PEP1", Level: 1, UserID: "PU1", User: "Pat Product"}, {Policy: "PEP2", Level: 1, UserID: "PU2", User: "Pia Platform"}})
	t.Cleanup(pd.Close)
	answers := make(chan string, 1)
	slackSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var rep chatops.Reply
		_ = json.NewDecoder(r.Body).Decode(&rep)
		answers <- rep.Text
	}))
	t.Cleanup(slackSrv.Close)

	file := filepath.Join(t.TempDir(), "routes.yaml")
	if err := os.WriteFile(file, []byte(teamsRoutes), 0o600); err != nil {
		t.Fatal(err)
	}
	build := func(env map[string]string) *chatops.Handler {
		base := map[string]string{"MEDIC_PAGERDUTY_ROUTING_KEY": routingKey, "MEDIC_ROUTES": file, "MEDIC_SLACK_BOT_TOKEN": botToken,
			"MEDIC_SLACK_SIGNING_SECRET": signingSecret, "MEDIC_SLACK_API_URL": slackSrv.URL}
		for k, v := range env {
			base[k] = v
		}
		cfg, err := config.Load(func(k string) string { return base[k] })
		if err != nil {
			t.Fatal(err)
		}
		store, err := boltstore.Open(filepath.Join(t.TempDir(), "medic.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = store.Close() })
		a, err := app.New(context.Background(), cfg, zap.NewNop(), app.Options{Store: store})
		if err != nil {
			t.Fatal(err)
		}
		return a.Slack(func(*chatops.Handler) chatops.Deferrer { return nil })
	}

	h := build(map[string]string{"MEDIC_PAGERDUTY_API_TOKEN": token, "MEDIC_PAGERDUTY_API_URL": pd.URL})
	if err := h.Run(context.Background(), chatops.Job{Kind: "oncall", ResponseURL: slackSrv.URL + "/commands/1"}); err != nil {
		t.Fatal(err)
	}
	got := <-answers
	for _, want := range []string{"*Route* `payments`", "*Route* `search`", "*Route* `default`", "Pat Product", "Pia Platform"} {
		if !strings.Contains(got, want) {
			t.Errorf("answer lacks %q:\n%s", want, got)
		}
	}
	if strings.Count(got, "Pat Product") != 2 {
		t.Errorf("payments and search each show their policy:\n%s", got)
	}

	if h := build(nil); h.OnCall == nil || h.OnCall.Finder != nil {
		t.Errorf("without MEDIC_PAGERDUTY_API_TOKEN: %+v", h.OnCall)
	}
}
