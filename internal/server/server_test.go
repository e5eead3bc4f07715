package server_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/ecs-medic/ecs-medic/internal/boltstore"
	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/metrics/prom"
	"github.com/ecs-medic/ecs-medic/internal/notify"
	"github.com/ecs-medic/ecs-medic/internal/pipeline"
	"github.com/ecs-medic/ecs-medic/internal/server"
	"github.com/ecs-medic/ecs-medic/internal/servicestate"
	"github.com/ecs-medic/ecs-medic/internal/testing/eventgen"
)

func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "medic.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	m := prom.New()
	p := pipeline.New(incident.NewManager(st), servicestate.Unavailable{Reason: "no AWS in tests"}, notify.NewFanout(nil), zap.NewNop(), m)
	srv := httptest.NewServer(server.New(p, st, m, zap.NewNop(), nil))
	t.Cleanup(srv.Close)
	return srv
}

type eventsResponse struct {
	Results []pipeline.Result `json:"results"`
	Error   string            `json:"error"`
}

func post(t *testing.T, url string, body []byte) (int, eventsResponse) {
	t.Helper()
	resp, err := http.Post(url+"/events", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out eventsResponse
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("answer is not JSON (%d): %s", resp.StatusCode, raw)
	}
	return resp.StatusCode, out
}

func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if v != nil {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode
}

func TestSampleEventThroughHTTP(t *testing.T) {
	srv := newServer(t)
	sample, err := os.ReadFile("../../testdata/events/ecs-task-state-change-stopped-essential-container-exited.json")
	if err != nil {
		t.Fatal(err)
	}
	code, out := post(t, srv.URL, sample)
	if code != http.StatusOK || len(out.Results) != 1 || out.Results[0].Outcome != pipeline.OutcomeOpened || out.Results[0].Cause != "essential-exit" {
		t.Fatalf("%d %+v", code, out)
	}
	id := out.Results[0].Incident

	var list struct{ Incidents []incident.Incident }
	if code := getJSON(t, srv.URL+"/incidents?state=open", &list); code != 200 || len(list.Incidents) != 1 || list.Incidents[0].ID != id {
		t.Fatalf("GET /incidents: %d %+v", code, list)
	}
	var inc incident.Incident
	if code := getJSON(t, srv.URL+"/incidents/"+id, &inc); code != 200 || len(inc.Timeline) == 0 || inc.Facts.StoppedReason == "" {
		t.Fatalf("GET /incidents/{id}: %d %+v", code, inc)
	}
	if code := getJSON(t, srv.URL+"/incidents/inc-missing", nil); code != 404 {
		t.Fatalf("missing incident: %d", code)
	}
	if code := getJSON(t, srv.URL+"/incidents?state=bogus", nil); code != 400 {
		t.Fatalf("bad state filter: %d", code)
	}
	var health map[string]string
	if code := getJSON(t, srv.URL+"/healthz", &health); code != 200 || health["status"] != "ok" {
		t.Fatalf("healthz: %d %v", code, health)
	}
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `medic_incidents_opened_total{cause="essential-exit",severity="P3"} 1`) {
		t.Fatalf("metrics do not count the incident:\n%s", body)
	}
}

func TestMalformedInputKeepsServing(t *testing.T) {
	srv := newServer(t)
	sample, _ := os.ReadFile("../../testdata/events/ecs-task-state-change-stopped-elb-health-check.json")
	for _, tc := range []struct {
		name string
		body []byte
		code int
		says string
	}{
		{"empty", nil, 400, "no events"},
		{"truncated", sample[:200], 400, "truncated"},
		{"wrong types", []byte(`{"id":"e1","detail-type":"ECS Task State Change","detail":{"taskArn":1}}`), 400, "taskArn"},
		{"missing detail", []byte(`{"id":"e2","detail-type":"ECS Task State Change"}`), 400, "no detail"},
		{"unknown detail-type", []byte(`{"id":"e3","detail-type":"AWS API Call via CloudTrail","detail":{}}`), 400, "not one ecs-medic handles"},
		{"1 MB of garbage", bytes.Repeat([]byte("garbage!"), 1<<17), 400, ""},
		{"oversized body", bytes.Repeat([]byte(" "), server.MaxBody+1), 413, "over"},
		{"broken array", []byte(`[{"id":"x"},`), 400, "array"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out := post(t, srv.URL, tc.body)
			if code != tc.code || !strings.Contains(out.Error, tc.says) {
				t.Fatalf("%d %q, want %d saying %q", code, out.Error, tc.code, tc.says)
			}
		})
	}
	// A good event in the same array as a bad one is still handled: nothing else is lost.
	mixed := []byte("[" + string(eventgen.OOM("prod", "api", 1)) + `,{"id":"bad","detail-type":"ECS Task State Change"},` + string(sample) + "]")
	code, out := post(t, srv.URL, mixed)
	if code != 200 || len(out.Results) != 3 || out.Results[0].Outcome != pipeline.OutcomeOpened ||
		out.Results[1].Outcome != pipeline.OutcomeError || out.Results[1].ID != "bad" || out.Results[2].Outcome != pipeline.OutcomeOpened {
		t.Fatalf("mixed batch: %d %+v", code, out)
	}
	// And the daemon still serves.
	if code := getJSON(t, srv.URL+"/healthz", nil); code != 200 {
		t.Fatalf("healthz after bad input: %d", code)
	}
}

// A refused body still answers a list, so a client can always range over "results".
func TestRefusedBodyAnswersAnEmptyResultsList(t *testing.T) {
	srv := newServer(t)
	for _, body := range [][]byte{nil, []byte("  \n"), []byte(`[{"id":"x"},`)} {
		resp, err := http.Post(srv.URL+"/events", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var out map[string]json.RawMessage
		if err := json.Unmarshal(raw, &out); err != nil || resp.StatusCode != 400 || string(out["results"]) != "[]" {
			t.Errorf("body %q: %d %s", body, resp.StatusCode, raw)
		}
	}
}
