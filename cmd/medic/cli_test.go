package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"go.uber.org/zap"

	"github.com/ecs-medic/ecs-medic/internal/app"
	"github.com/ecs-medic/ecs-medic/internal/awslambda"
	"github.com/ecs-medic/ecs-medic/internal/boltstore"
	"github.com/ecs-medic/ecs-medic/internal/config"
	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/servicestate"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakepagerduty"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakes"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakeslack"
)

func TestVersionAndEveryHelpExitZero(t *testing.T) {
	for _, args := range [][]string{
		{"--version"}, {"version"}, {"--help"}, {"help"},
		{"classify", "--help"}, {"replay", "--help"}, {"serve", "--help"}, {"runbooks", "--help"},
		{"runbooks", "check", "--help"}, {"smoke", "--help"}, {"classify", "-h"},
		{"routes", "--help"}, {"routes", "check", "--help"}, {"routes", "test", "--help"},
	} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), args, nil, &out, &errb, noEnv); code != 0 || out.Len()+errb.Len() == 0 {
			t.Errorf("medic %s: exit %d, stdout %q, stderr %q", strings.Join(args, " "), code, out.String(), errb.String())
		}
	}
	var out bytes.Buffer
	run(context.Background(), []string{"--version"}, nil, &out, io.Discard, noEnv)
	if !strings.HasPrefix(out.String(), "medic ") {
		t.Fatalf("version: %q", out.String())
	}
}

func TestClassifyErrorsNameFileAndLine(t *testing.T) {
	dir := t.TempDir()
	good := string(mustRead(t, "../../testdata/events/ecs-service-action-task-start-impaired.json"))
	good = strings.Join(strings.Fields(good), " ") // one line
	f := filepath.Join(dir, "events.jsonl")
	writeFile(t, f, good+"\n"+`{"id":"e2","detail-type":"ECS Task State Change"}`+"\n"+good+"\n")
	var out bytes.Buffer
	code := run(context.Background(), []string{"classify", f}, nil, &out, io.Discard, noEnv)
	if code != 1 || !strings.Contains(out.String(), f+`:2: event e2: `) || strings.Count(out.String(), "start-impaired") != 2 {
		t.Fatalf("exit %d:\n%s", code, out.String())
	}
}

// The receivers a user may have exported, pointing at fakes that count what they get.
func receivers(t *testing.T) (*fakepagerduty.Server, *fakeslack.Server, map[string]string) {
	t.Helper()
	pd := fakepagerduty.New("R0UTINGKEY0000000000000000000000")
	t.Cleanup(pd.Close)
	sl := fakeslack.New("xoxb-test")
	t.Cleanup(sl.Close)
	return pd, sl, map[string]string{
		"MEDIC_PAGERDUTY_ROUTING_KEY": pd.RoutingKey, "MEDIC_PAGERDUTY_EVENTS_URL": pd.URL,
		"MEDIC_SLACK_BOT_TOKEN": "xoxb-test", "MEDIC_SLACK_CHANNEL": "C0INCIDENTS", "MEDIC_SLACK_API_URL": sl.APIURL(),
		"AWS_REGION": "",
	}
}

// `make demo` with production receivers exported must not page anyone: replay prints only,
// unless --notify.
func TestDemoWithReceiversInTheEnvironmentSendsNothing(t *testing.T) {
	pd, sl, env := receivers(t)
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"replay", "../../testdata/scenarios/demo.json"}, nil, &out, &errb, func(k string) string { return env[k] })
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if n, m := len(pd.Events("")), len(sl.Calls("")); n != 0 || m != 0 {
		t.Fatalf("replay without --notify sent %d PagerDuty events and %d Slack calls", n, m)
	}
	if !strings.Contains(errb.String(), "without --notify") || !strings.Contains(out.String(), "[P1] OPENED") {
		t.Fatalf("stderr %q\nstdout %s", errb.String(), out.String())
	}
	// Secrets given by reference are not even read (no AWS call) without --notify.
	env["MEDIC_PAGERDUTY_ROUTING_KEY"], env["MEDIC_PAGERDUTY_ROUTING_KEY_ARN"] = "", "arn:aws:secretsmanager:us-east-1:111122223333:secret:pd"
	if code := run(context.Background(), []string{"replay", "../../testdata/scenarios/demo.json"}, nil, io.Discard, io.Discard, func(k string) string { return env[k] }); code != 0 {
		t.Fatalf("replay with a key ARN and no AWS: exit %d", code)
	}

	// The same with --notify delivers: the test above can fail.
	env["MEDIC_PAGERDUTY_ROUTING_KEY"], env["MEDIC_PAGERDUTY_ROUTING_KEY_ARN"] = pd.RoutingKey, ""
	if code := run(context.Background(), []string{"replay", "--notify", "../../testdata/scenarios/demo.json"}, nil, io.Discard, io.Discard, func(k string) string { return env[k] }); code != 0 {
		t.Fatalf("replay --notify: exit %d", code)
	}
	if len(pd.Events("trigger")) != 2 || len(sl.Calls("chat.postMessage")) < 2 {
		t.Fatalf("--notify: %d triggers, %d Slack posts", len(pd.Events("trigger")), len(sl.Calls("chat.postMessage")))
	}
}

// medic smoke against a fake Lambda endpoint that runs the events function's handler, wired to
// fake PagerDuty and Slack: a message marked TEST, a change event and no page, nothing stored.
func TestSmokeThroughTheEventsFunction(t *testing.T) {
	pd, sl, env := receivers(t)
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	store, err := boltstore.Open(filepath.Join(t.TempDir(), "medic.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	a, err := app.New(context.Background(), cfg, zap.NewNop(), app.Options{Store: store,
		States: servicestate.Unavailable{Reason: "test"}, AWS: &aws.Config{Region: "us-east-1"}})
	if err != nil {
		t.Fatal(err)
	}
	handler := awslambda.Events(a.Pipeline(), zap.NewNop())
	var invoked []string
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		invoked = append(invoked, r.URL.Path)
		body, _ := io.ReadAll(r.Body)
		res, err := handler(r.Context(), body)
		if err != nil {
			w.Header().Set("X-Amz-Function-Error", "Unhandled")
		}
		_ = json.NewEncoder(w).Encode(res)
	}))
	t.Cleanup(fake.Close)
	t.Setenv("AWS_ENDPOINT_URL_LAMBDA", fake.URL)
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))

	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"smoke", "--function", "medic-test-ecs-events"}, nil, &out, &errb, noEnv)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out.String(), errb.String())
	}
	if len(invoked) != 1 || invoked[0] != "/2015-03-31/functions/medic-test-ecs-events/invocations" {
		t.Fatalf("invocations: %v", invoked)
	}
	posts := sl.Calls("chat.postMessage")
	if len(posts) != 1 || posts[0].Channel != "C0INCIDENTS" || !strings.Contains(posts[0].Text, "TEST: ecs-medic smoke test smoke-") {
		t.Fatalf("Slack: %+v", posts)
	}
	changes := pd.ChangeEvents()
	if len(changes) != 1 || len(pd.Events("")) != 0 {
		t.Fatalf("PagerDuty: %d change events, %d alert events (a smoke test must never page)", len(changes), len(pd.Events("")))
	}
	if incs, _ := store.List(context.Background(), incident.Filter{Limit: 10}); len(incs) != 0 {
		t.Fatalf("a smoke test stored %d incidents", len(incs))
	}
	for _, want := range []string{"✓ pagerduty: sent", "✓ slack: sent", "nothing was stored"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}

	// A failing receiver fails the smoke test.
	sl.Fail(fakes.Fault{Code: "channel_not_found"})
	out.Reset()
	if code := run(context.Background(), []string{"smoke", "--function", "medic-test-ecs-events"}, nil, &out, io.Discard, noEnv); code != 1 || !strings.Contains(out.String(), "✗ slack: failed") {
		t.Fatalf("with Slack failing: exit %d\n%s", code, out.String())
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// medic smoke --url against a running medic serve, wired to the fake receivers.
func TestSmokeThroughMedicServe(t *testing.T) {
	pd, sl, env := receivers(t)
	env["MEDIC_DB"], env["MEDIC_ADDR"], env["MEDIC_LOG_LEVEL"] = filepath.Join(t.TempDir(), "medic.db"), "127.0.0.1:0", "error"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, done := startServe(t, ctx, env)
	var out bytes.Buffer
	if code := run(context.Background(), []string{"smoke", "--url", addr}, nil, &out, io.Discard, func(k string) string { return env[k] }); code != 0 {
		t.Fatalf("exit %d\n%s", code, out.String())
	}
	if len(sl.Calls("chat.postMessage")) != 1 || len(pd.ChangeEvents()) != 1 || len(pd.Events("")) != 0 {
		t.Fatalf("Slack %d posts, PagerDuty %d change events and %d alert events", len(sl.Calls("chat.postMessage")), len(pd.ChangeEvents()), len(pd.Events("")))
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("serve exited %d", code)
	}
}
