package app_test

// The hardening tests: each drives `medic serve`'s real HTTP handler (server.New with the Slack
// handler app.Slack builds, the real signature check) against fakes that speak ECS's, PagerDuty's
// and Slack's wire protocols, and asserts what a user would see: no ECS call, no page, the
// resolve sent, the escaped text, the 4xx, the bound.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/ecs-medic/ecs-medic/internal/app"
	"github.com/ecs-medic/ecs-medic/internal/boltstore"
	"github.com/ecs-medic/ecs-medic/internal/chatops"
	"github.com/ecs-medic/ecs-medic/internal/config"
	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/metrics/prom"
	"github.com/ecs-medic/ecs-medic/internal/remediate/autoscaling"
	"github.com/ecs-medic/ecs-medic/internal/server"
	"github.com/ecs-medic/ecs-medic/internal/tasklogs/awslogs"
	"github.com/ecs-medic/ecs-medic/internal/testing/eventgen"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakeecs"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakepagerduty"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakes"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakeslack"
)

const (
	signingSecret = "8f742231b10e8888abcd99yyyzzz85a5"
	apiToken      = "0123456789abcdef0123456789abcdef"
	pdAPIToken    = "y_NbAkKc66ryYTWUXYEu"
)

// door is `medic serve`'s HTTP surface over fakes.
type door struct {
	app   *app.App
	store *boltstore.Store
	ecs   *fakeecs.Server
	pd    *fakepagerduty.Server
	slack *fakeslack.Server
	srv   *httptest.Server
	logs  *observer.ObservedLogs
	seq   int
}

// fixRunbook makes oom-killed fixable with a plain force-new-deployment (no task definition
// needed), suggest mode: a human's `fix` acts, within 2 actions a day.
const fixRunbook = "---\nid: oom-killed\nmatch: { cause: oom-killed }\nseverity_floor: P3\npage: true\n" +
	"fix:\n  action: force-new-deployment\n  mode: suggest\n  cooldown: 15m\n  max_per_day: 2\n---\n# OOM\nsteps\n"

func newDoor(t *testing.T, env map[string]string, opts ...server.Option) *door {
	t.Helper()
	return newDoorWith(t, env, doorOptions{}, opts...)
}

// doorOptions change a door from the hardening tests' own (inline Slack jobs, no automatic fix).
type doorOptions struct {
	// gate, when set, stands between ecs-medic and the fake ECS; background is then as in medic
	// serve: fixes and Slack's deferred jobs run as background jobs.
	gate *gate
	// runbook replaces fixRunbook.
	runbook string
}

func newDoorWith(t *testing.T, env map[string]string, do doorOptions, opts ...server.Option) *door {
	t.Helper()
	fe := fakeecs.New(fakeecs.Service{Cluster: "prod", Name: "checkout", Desired: 4, Running: 0, MaxCapacity: 10,
		TaskDefinition: "arn:aws:ecs:us-east-1:111122223333:task-definition/checkout:1"})
	pd := fakepagerduty.New(routingKey).WithAPIToken(pdAPIToken)
	sl := fakeslack.New(botToken)
	for _, c := range []interface{ Close() }{fe, pd, sl} {
		t.Cleanup(c.Close)
	}
	rb := t.TempDir()
	runbook, ecsURL := fixRunbook, fe.URL
	if do.runbook != "" {
		runbook = do.runbook
	}
	if do.gate != nil {
		ecsURL = do.gate.front(t, fe.URL)
	}
	if err := os.WriteFile(filepath.Join(rb, "oom-killed.md"), []byte(runbook), 0o644); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret",
		"AWS_ENDPOINT_URL_ECS": ecsURL, "AWS_ENDPOINT_URL_APPLICATION_AUTO_SCALING": fe.URL, "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS": fe.URL,
		"AWS_CONFIG_FILE": filepath.Join(t.TempDir(), "none"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(t.TempDir(), "none"),
	} {
		t.Setenv(k, v)
	}
	vars := map[string]string{
		"MEDIC_PAGERDUTY_ROUTING_KEY": routingKey, "MEDIC_PAGERDUTY_EVENTS_URL": pd.URL,
		"MEDIC_PAGERDUTY_API_TOKEN": pdAPIToken, "MEDIC_PAGERDUTY_API_URL": pd.URL, "MEDIC_PAGERDUTY_FROM": "oncall@example.com",
		"MEDIC_SLACK_BOT_TOKEN": botToken, "MEDIC_SLACK_CHANNEL": "#incidents", "MEDIC_SLACK_API_URL": sl.APIURL(),
		"MEDIC_SLACK_SIGNING_SECRET": signingSecret, "MEDIC_SLACK_ALLOWED_USERS": "U0ALICE", "MEDIC_RUNBOOKS": rb,
		"MEDIC_HOME_ACCOUNT": eventgen.Account,
	}
	for k, v := range env {
		vars[k] = v
	}
	cfg, err := config.Load(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	store, err := boltstore.Open(filepath.Join(t.TempDir(), "medic.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	core, logs := observer.New(zapcore.InfoLevel)
	// Deferred Slack work runs inside the request here, so every outcome is there when it answers.
	inline := func(h *chatops.Handler) chatops.Deferrer {
		return func(ctx context.Context, j chatops.Job) error { return h.Run(ctx, j) }
	}
	ao := app.Options{Store: store, Console: io.Discard, Defer: inline, Server: opts, Metrics: prom.New(), Logs: awslogs.ForAccounts, Scaling: autoscaling.ForAccount}
	if do.gate != nil {
		ao.Defer, ao.Remedies = nil, app.RemediesInBackground
	}
	a, err := app.New(context.Background(), cfg, zap.New(core), ao)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	t.Cleanup(func() { _ = a.Stop(context.Background()) })
	return &door{app: a, store: store, ecs: fe, pd: pd, slack: sl, srv: srv, logs: logs}
}

// signed posts a Slack request signed now, with a fresh trigger_id as Slack sends.
func (d *door) slackForm(t *testing.T, path string, form url.Values) (int, string) {
	t.Helper()
	d.seq++
	form.Set("trigger_id", fmt.Sprintf("%d.4744.%032x", 398738663015+d.seq, d.seq))
	body := form.Encode()
	return d.raw(t, path, body, chatops.Sign(signingSecret, time.Now(), []byte(body)))
}

func (d *door) raw(t *testing.T, path, body string, hdr http.Header) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, d.srv.URL+path, strings.NewReader(body))
	req.Header = hdr
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// command runs `/medic text` as user and returns the immediate answer's text.
func (d *door) command(t *testing.T, user, name, text string) string {
	t.Helper()
	code, raw := d.slackForm(t, "/slack/commands", url.Values{"command": {"/medic"}, "text": {text}, "user_id": {user},
		"user_name": {name}, "response_url": {d.slack.ResponseURL("r")}})
	if code != 200 {
		t.Fatalf("/medic %s: %d %s", text, code, raw)
	}
	var rep chatops.Reply
	if err := json.Unmarshal([]byte(raw), &rep); err != nil {
		t.Fatalf("answer is not JSON: %s", raw)
	}
	return rep.Text
}

// lastResponse is the last answer posted to response_url.
func (d *door) lastResponse(t *testing.T) string {
	t.Helper()
	rs := d.slack.Responses()
	if len(rs) == 0 {
		t.Fatal("nothing was posted to response_url")
	}
	return rs[len(rs)-1].Text
}

func (d *door) event(t *testing.T, body []byte) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, d.srv.URL+"/events", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// open opens a P1 oom-killed incident on prod/checkout (paged) and returns it.
func (d *door) open(t *testing.T, n int) *incident.Incident {
	t.Helper()
	if code, body := d.event(t, eventgen.OOM("prod", "checkout", n)); code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	incs, err := d.store.List(context.Background(), incident.Filter{Active: true})
	if err != nil || len(incs) == 0 {
		t.Fatalf("no incident: %v", err)
	}
	return incs[0]
}

func (d *door) get(t *testing.T, id string) *incident.Incident {
	t.Helper()
	inc, err := d.store.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return inc
}

func updates(fe *fakeecs.Server) int { return len(fe.Calls("UpdateService")) }

// 1. Changing commands are authorized by user_id only: a user whose (deprecated) user_name
// equals an allowed id changes nothing; a member of an allowed group (by id) may.
func TestHardenAllowListByUserID(t *testing.T) {
	d := newDoor(t, map[string]string{"MEDIC_SLACK_ALLOWED_GROUPS": "S0ONCALL"})
	d.slack.SetGroup("S0ONCALL", "U0CAROL")
	inc := d.open(t, 1)
	answer := d.command(t, "U0MALLORY", "U0ALICE", "ack "+inc.ID)
	if !strings.Contains(answer, "not allowed") {
		t.Fatalf("a user named like an allowed id: %s", answer)
	}
	if got := d.get(t, inc.ID); got.State != incident.Open || len(d.pd.Events("acknowledge")) != 0 {
		t.Fatalf("the impostor acknowledged: %s, %d PagerDuty acks", got.State, len(d.pd.Events("acknowledge")))
	}
	if answer := d.command(t, "U0CAROL", "carol", "ack "+inc.ID); !strings.Contains(answer, "Acknowledged") {
		t.Fatalf("a member of an allowed group: %s", answer)
	}
	got := d.get(t, inc.ID)
	if got.State != incident.Acknowledged || got.AcknowledgedBy != "slack:U0CAROL" || len(d.pd.Events("acknowledge")) != 1 {
		t.Fatalf("group member's ack: %s by %q, %d PagerDuty acks", got.State, got.AcknowledgedBy, len(d.pd.Events("acknowledge")))
	}
}

// 2. The same signed `fix <id> force` bytes sent three times act once; and force passes the
// cooldown, never max_per_day.
func TestHardenReplayAndForce(t *testing.T) {
	d := newDoor(t, nil)
	inc := d.open(t, 1)
	form := url.Values{"command": {"/medic"}, "text": {"fix " + inc.ID + " force"}, "user_id": {"U0ALICE"},
		"response_url": {d.slack.ResponseURL("r")}, "trigger_id": {"398738663015.4744.replayed"}}
	body := form.Encode()
	hdr := chatops.Sign(signingSecret, time.Now(), []byte(body))
	codes := []int{}
	for range 3 {
		code, _ := d.raw(t, "/slack/commands", body, hdr.Clone())
		codes = append(codes, code)
	}
	if fmt.Sprint(codes) != "[200 401 401]" || updates(d.ecs) != 1 {
		t.Fatalf("answers %v and %d UpdateService calls; want [200 401 401] and 1", codes, updates(d.ecs))
	}
	// Fresh requests: the second action needs force (cooldown), the third is past max_per_day
	// (2) whatever force says.
	d.command(t, "U0ALICE", "alice", "fix "+inc.ID)
	if updates(d.ecs) != 1 || !strings.Contains(d.lastResponse(t), "force") {
		t.Fatalf("cooldown not held, or the refusal does not say force overrides it: %d, %s", updates(d.ecs), d.lastResponse(t))
	}
	d.command(t, "U0ALICE", "alice", "fix "+inc.ID+" force")
	d.command(t, "U0ALICE", "alice", "fix "+inc.ID+" force")
	if updates(d.ecs) != 2 || !strings.Contains(d.lastResponse(t), "max_per_day") {
		t.Fatalf("%d UpdateService calls (want 2: max_per_day), last answer %s", updates(d.ecs), d.lastResponse(t))
	}
}

// 3. `/medic scale` is bounded like scale-out: the auto-scaling maximum (10 here), the absolute
// cap; a count above it is refused with what to ask for instead.
func TestHardenScaleIsBounded(t *testing.T) {
	d := newDoor(t, map[string]string{"MEDIC_MAX_TASKS": "50"})
	d.open(t, 1)
	d.command(t, "U0ALICE", "alice", "scale prod/checkout 100000")
	if updates(d.ecs) != 0 || !strings.Contains(d.lastResponse(t), "at most 10") {
		t.Fatalf("%d UpdateService calls; answer %s", updates(d.ecs), d.lastResponse(t))
	}
	d.command(t, "U0ALICE", "alice", "scale prod/checkout 8")
	muts := d.ecs.Mutations()
	if len(muts) != 1 || muts[0].Body["desiredCount"] != float64(8) {
		t.Fatalf("scale to 8: %+v", muts)
	}

	// With no auto-scaling maximum, MEDIC_MAX_TASKS is the bound.
	d2 := newDoor(t, map[string]string{"MEDIC_MAX_TASKS": "6"})
	d2.ecs.Put(fakeecs.Service{Cluster: "prod", Name: "checkout", Desired: 4, Running: 0})
	d2.open(t, 1)
	d2.command(t, "U0ALICE", "alice", "scale prod/checkout 7")
	if updates(d2.ecs) != 0 || !strings.Contains(d2.lastResponse(t), "MEDIC_MAX_TASKS") {
		t.Fatalf("%d UpdateService calls; answer %s", updates(d2.ecs), d2.lastResponse(t))
	}
}

// 4. A silence holds back new pages, never the acknowledge or resolve of a page sent before it.
func TestHardenSilenceKeepsAckAndResolve(t *testing.T) {
	d := newDoor(t, nil)
	inc := d.open(t, 1)
	if len(d.pd.Events("trigger")) != 1 {
		t.Fatal("not paged")
	}
	if a := d.command(t, "U0ALICE", "alice", "silence prod/checkout 2h deploying"); !strings.Contains(a, "silenced") {
		t.Fatal(a)
	}
	d.command(t, "U0ALICE", "alice", "ack "+inc.ID)
	d.command(t, "U0ALICE", "alice", "resolve "+inc.ID)
	if len(d.pd.Events("acknowledge")) != 1 || len(d.pd.Events("resolve")) != 1 {
		t.Fatalf("under a silence: %d acknowledges, %d resolves reached PagerDuty; want 1 and 1",
			len(d.pd.Events("acknowledge")), len(d.pd.Events("resolve")))
	}
	if ups := d.slack.Calls("chat.update"); len(ups) != 2 {
		t.Fatalf("the Slack message was updated %d times, want 2 (ack, resolve)", len(ups))
	}
	// A new incident on the silenced service is held back, and says so.
	d.event(t, eventgen.ImagePull("prod", "checkout", 2))
	messages := 0
	for _, c := range d.slack.Calls("chat.postMessage") {
		if c.ThreadTS == "" {
			messages++
		}
	}
	if len(d.pd.Events("trigger")) != 1 || messages != 1 {
		t.Fatalf("a silenced incident was announced: %d triggers, %d messages", len(d.pd.Events("trigger")), messages)
	}
	incs, _ := d.store.List(context.Background(), incident.Filter{Active: true})
	held := 0
	for reason, n := range incs[0].Suppressed {
		if strings.HasPrefix(reason, "pagerduty: silenced by slack:U0ALICE") {
			held += n
		}
	}
	if len(incs) != 1 || held != 1 {
		t.Fatalf("the held-back page is not recorded: %+v", incs[0].Suppressed)
	}
}

// 5. Text from events and users is escaped for Slack: no <!channel>, mentions or disguised
// links from an alarm reason, in blocks and in the fallback text; nor from a silence reason.
func TestHardenSlackTextEscaped(t *testing.T) {
	d := newDoor(t, nil)
	reason := "Threshold crossed <!channel> <!here> <@U0BOSS> <!subteam^S0ALL> see <https://evil.example/x|runbook> & more"
	if code, body := d.event(t, eventgen.Alarm("a1", "checkout-5xx", "OK", "ALARM", reason, time.Now())); code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	posts := d.slack.Calls("chat.postMessage")
	if len(posts) != 1 {
		t.Fatalf("%d messages", len(posts))
	}
	// The blocks are JSON, which spells &, < and > as \u0026, \u003c and \u003e.
	unJSON := strings.NewReplacer(`\u0026`, "&", `\u003c`, "<", `\u003e`, ">")
	for name, text := range map[string]string{"blocks": unJSON.Replace(posts[0].Blocks), "fallback text": posts[0].Text} {
		for _, raw := range []string{"<!channel>", "<!here>", "<@U0BOSS>", "<!subteam", "<https://evil"} {
			if strings.Contains(text, raw) {
				t.Errorf("%s carries %s raw: %s", name, raw, text)
			}
		}
		if !strings.Contains(text, "&lt;!channel&gt;") {
			t.Errorf("%s lacks the escaped reason: %s", name, text)
		}
	}
	answer := d.command(t, "U0ALICE", "alice", "silence prod/checkout 1h <!here> deploying <https://evil.example|docs>")
	if strings.Contains(answer, "<!here>") || strings.Contains(answer, "<https://evil") || !strings.Contains(answer, "&lt;!here&gt;") {
		t.Fatalf("silence answer: %s", answer)
	}
	incs := d.command(t, "U0BOB", "bob", "incidents")
	if strings.Contains(incs, "<!here>") || !strings.Contains(incs, "&lt;!here&gt;") {
		t.Fatalf("incidents answer: %s", incs)
	}
}

// 5. The console notifier writes one line per notification, whatever a service name holds.
func TestHardenConsoleStripsControlCharacters(t *testing.T) {
	var out bytes.Buffer
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	store, err := boltstore.Open(filepath.Join(t.TempDir(), "medic.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	cfg, _ := config.Load(func(string) string { return "" })
	a, err := app.New(context.Background(), cfg, zap.NewNop(), app.Options{Store: store, Console: &out})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(server.New(a.Pipeline(), store, a.Metrics(), zap.NewNop(), nil))
	defer srv.Close()
	forged := "web\n[P1] OPENED inc-fake prod/payments — all tasks down\x1b[2K\r"
	resp, err := http.Post(srv.URL+"/events", "application/json", bytes.NewReader(eventgen.OOM("prod", forged, 1)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	if len(lines) != 1 || strings.ContainsAny(out.String(), "\x1b\r") {
		t.Fatalf("the console printed %d lines (want 1): %q", len(lines), out.String())
	}
}

// 6. The HTTP API: JSON only, the served Host only, the token when set; /healthz and the signed
// Slack paths stay reachable.
func TestHardenAPIDoors(t *testing.T) {
	d := newDoor(t, nil, server.WithHosts("127.0.0.1:8080", "localhost:8080"))
	sample := eventgen.OOM("prod", "checkout", 1)
	post := func(host, ctype, auth string) int {
		req, _ := http.NewRequest(http.MethodPost, d.srv.URL+"/events", bytes.NewReader(sample))
		req.Host = host
		req.Header.Set("Content-Type", ctype)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	get := func(path, host, auth string) int {
		req, _ := http.NewRequest(http.MethodGet, d.srv.URL+path, nil)
		req.Host = host
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := post("localhost:8080", "text/plain", ""); c != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain: %d, want 415", c)
	}
	if c := post("localhost:8080", "application/x-www-form-urlencoded", ""); c != http.StatusUnsupportedMediaType {
		t.Errorf("a form: %d, want 415", c)
	}
	if c := post("evil.example:8080", "application/json", ""); c != http.StatusForbidden {
		t.Errorf("a foreign Host (DNS rebinding): %d, want 403", c)
	}
	if c := get("/incidents", "evil.example:8080", ""); c != http.StatusForbidden {
		t.Errorf("reading incidents under a foreign Host: %d, want 403", c)
	}
	if len(d.pd.Events("trigger")) != 0 {
		t.Fatal("a refused request paged")
	}
	if c := post("localhost:8080", "application/json; charset=utf-8", ""); c != http.StatusOK {
		t.Errorf("a good request: %d", c)
	}

	tok := newDoor(t, nil, server.WithToken(apiToken), server.WithHosts("127.0.0.1:8080"))
	d = tok
	if c := post("medic.internal:8080", "application/json", ""); c != http.StatusUnauthorized {
		t.Errorf("no token: %d, want 401", c)
	}
	if c := post("medic.internal:8080", "application/json", "Bearer "+apiToken+"x"); c != http.StatusUnauthorized {
		t.Errorf("a wrong token: %d, want 401", c)
	}
	for _, p := range []string{"/incidents", "/incidents/inc-x", "/metrics"} {
		if c := get(p, "medic.internal:8080", ""); c != http.StatusUnauthorized {
			t.Errorf("GET %s without the token: %d, want 401", p, c)
		}
	}
	if len(d.pd.Events("trigger")) != 0 {
		t.Fatal("a request without the token paged")
	}
	if c := post("medic.internal:8080", "application/json", "Bearer "+apiToken); c != http.StatusOK {
		t.Errorf("with the token: %d", c)
	}
	if c := get("/incidents", "medic.internal:8080", "Bearer "+apiToken); c != http.StatusOK {
		t.Errorf("GET /incidents with the token: %d", c)
	}
	if c := get("/healthz", "lb.internal", ""); c != http.StatusOK {
		t.Errorf("/healthz: %d", c)
	}
	if a := d.command(t, "U0BOB", "bob", "incidents"); !strings.Contains(a, "OOMKilled") {
		t.Errorf("signed Slack command without the token: %s", a)
	}
}

// 7. A request costs bounded work: events per request, answer size, log lines; stored evidence
// is bounded; lists are paginated.
func TestHardenBoundedWork(t *testing.T) {
	d := newDoor(t, nil)
	many := []byte("[" + strings.TrimSuffix(strings.Repeat("{},", server.MaxEvents+1), ",") + "]")
	if code, body := d.event(t, many); code != http.StatusRequestEntityTooLarge || !strings.Contains(body, "batches") {
		t.Fatalf("%d events: %d %s", server.MaxEvents+1, code, body)
	}
	before := d.logs.FilterMessage("event rejected").Len()
	bad := []byte("[" + strings.TrimSuffix(strings.Repeat(`{"id":"`+strings.Repeat("x", 200)+`","detail-type":"`+strings.Repeat("y", 5000)+`","detail":{}},`, server.MaxEvents), ",") + "]")
	code, body := d.event(t, bad)
	if code != http.StatusBadRequest {
		t.Fatalf("%d bad events: %d", server.MaxEvents, code)
	}
	if len(body) > 1200*server.MaxEvents {
		t.Fatalf("answer of %d bytes for %d events", len(body), server.MaxEvents)
	}
	if n := d.logs.FilterMessage("event rejected").Len() - before; n > 12 {
		t.Fatalf("%d log lines for one bad request", n)
	}

	huge := strings.Repeat("r", 240<<10)
	if code, body := d.event(t, eventgen.Alarm("a1", "checkout-5xx", "OK", "ALARM", huge, time.Now())); code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	req, _ := http.NewRequest(http.MethodGet, d.srv.URL+"/incidents", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if len(raw) > 64<<10 {
		t.Fatalf("an incident with a 240 KiB reason gave a %d-byte list", len(raw))
	}

	for i := range 5 {
		d.event(t, eventgen.Alarm(fmt.Sprintf("p%d", i), fmt.Sprintf("alarm-%d", i), "OK", "ALARM", "x", time.Now()))
	}
	var ids []string
	cursor := ""
	for range 10 {
		var page struct {
			Incidents []incident.Incident `json:"incidents"`
			Next      string              `json:"next_cursor"`
		}
		resp, err := http.Get(d.srv.URL + "/incidents?limit=2&cursor=" + cursor)
		if err != nil {
			t.Fatal(err)
		}
		_ = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if len(page.Incidents) > 2 {
			t.Fatalf("a page of %d with limit=2", len(page.Incidents))
		}
		for _, inc := range page.Incidents {
			ids = append(ids, inc.ID)
		}
		if page.Next == "" {
			break
		}
		cursor = page.Next
	}
	if len(ids) != 6 {
		t.Fatalf("pages gave %d incidents, want 6: %v", len(ids), ids)
	}
	if resp, _ := http.Get(d.srv.URL + "/incidents?limit=100000"); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("limit=100000: %d", resp.StatusCode)
	}
}

// 8. Names and ids too long for any store are a 400 that says why, not a "retry" 503.
func TestHardenTooLongIs400(t *testing.T) {
	d := newDoor(t, nil)
	code, body := d.event(t, eventgen.OOM(strings.Repeat("c", 3000), "checkout", 1))
	if code != http.StatusBadRequest || !strings.Contains(body, "longer than AWS allows") {
		t.Fatalf("a 3000-character cluster name: %d %s", code, body)
	}
	resp, err := http.Get(d.srv.URL + "/incidents/inc-" + strings.Repeat("a", 5000))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("a 5000-character id: %d", resp.StatusCode)
	}
	if a := d.command(t, "U0ALICE", "alice", "ack inc-"+strings.Repeat("a", 3000)); !strings.Contains(a, "not an incident id") {
		t.Fatalf("ack of an oversized id: %s", a)
	}
}

// 9. 200 refused commands from a stranger are counted, a few kept, and push no real entry out.
func TestHardenRefusalsDoNotEvictTheRecord(t *testing.T) {
	d := newDoor(t, nil)
	inc := d.open(t, 1)
	d.command(t, "U0ALICE", "alice", "ack "+inc.ID)
	before := d.get(t, inc.ID)
	for range 200 {
		d.command(t, "U0MALLORY", "mallory", "resolve "+inc.ID)
	}
	after := d.get(t, inc.ID)
	if after.Refusals != 200 {
		t.Fatalf("%d refusals counted, want 200", after.Refusals)
	}
	refused, real := 0, 0
	for _, e := range after.Timeline {
		if e.Kind == incident.KindRefused {
			refused++
		} else {
			real++
		}
	}
	if refused != incident.MaxRefusalEntries || real != len(before.Timeline) {
		t.Fatalf("timeline keeps %d refusals (want %d) and %d real entries (want %d)", refused, incident.MaxRefusalEntries, real, len(before.Timeline))
	}
	for i, e := range before.Timeline {
		if after.Timeline[i] != e {
			t.Fatalf("entry %d changed: %+v → %+v", i, e, after.Timeline[i])
		}
	}
	if after.State != incident.Acknowledged {
		t.Fatalf("state %s", after.State)
	}
}

// 10. A runbook folder that is missing or empty stops the start with a clear error.
func TestHardenRunbooksFolder(t *testing.T) {
	empty := t.TempDir()
	for dir, says := range map[string]string{filepath.Join(t.TempDir(), "nonexistent"): "does not exist", empty: "no runbook"} {
		cfg, _ := config.Load(func(k string) string { return map[string]string{"MEDIC_RUNBOOKS": dir}[k] })
		store, err := boltstore.Open(filepath.Join(t.TempDir(), "medic.db"))
		if err != nil {
			t.Fatal(err)
		}
		_, err = app.New(context.Background(), cfg, zap.NewNop(), app.Options{Store: store, Console: io.Discard})
		store.Close()
		if err == nil || !strings.Contains(err.Error(), says) {
			t.Fatalf("MEDIC_RUNBOOKS=%s: %v, want an error saying %q", dir, err, says)
		}
	}
}

// 11. Start-time checks: a whitespace signing secret, a routing key that is not 32 characters.
func TestHardenStartChecks(t *testing.T) {
	for name, tc := range map[string]struct{ env map[string]string }{
		"whitespace signing secret": {map[string]string{"MEDIC_SLACK_SIGNING_SECRET": " \t "}},
		"short routing key":         {map[string]string{"MEDIC_PAGERDUTY_ROUTING_KEY": routingKey[:31]}},
	} {
		t.Run(name, func(t *testing.T) {
			cfg, _ := config.Load(func(k string) string { return tc.env[k] })
			store, err := boltstore.Open(filepath.Join(t.TempDir(), "medic.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			if _, err := app.New(context.Background(), cfg, zap.NewNop(), app.Options{Store: store, Console: io.Discard}); err == nil {
				t.Fatal("started")
			}
		})
	}
}

// 11. Answers go only to Slack's response_url hosts; silences last 1 minute to 7 days.
func TestHardenResponseURLAndSilenceLength(t *testing.T) {
	d := newDoor(t, nil)
	evil := 0
	attacker := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { evil++ }))
	defer attacker.Close()
	inc := d.open(t, 1)
	for _, u := range []string{attacker.URL + "/steal", "http://hooks.slack.com/commands/x", "https://hooks.slack.com.evil.example/x"} {
		code, _ := d.slackForm(t, "/slack/commands", url.Values{"text": {"fix " + inc.ID}, "user_id": {"U0ALICE"}, "response_url": {u}})
		if code != 200 {
			t.Fatal(code)
		}
	}
	if evil != 0 {
		t.Fatalf("%d answers went to a host that is not Slack's", evil)
	}
	for arg, says := range map[string]string{"1ns": "at least `1m`", "30s": "at least `1m`", "8d": "at most `7d`", "240h": "at most `7d`", "99999999999d": "not a duration"} {
		a := d.command(t, "U0ALICE", "alice", "silence prod/checkout "+arg)
		if !strings.Contains(a, says) || strings.Contains(a, "h0m0s") {
			t.Errorf("silence %s: %s", arg, a)
		}
	}
	if s, _ := d.store.Silences(context.Background(), time.Now()); len(s) != 0 {
		t.Fatalf("%d silences stored", len(s))
	}
}

// 12. A page nobody acknowledged in time moves to the next escalation level in PagerDuty through
// its REST API (a second trigger would notify nobody), and the Slack thread says so.
func TestHardenEscalationReachesTheNextLevel(t *testing.T) {
	d := newDoor(t, nil)
	inc := d.open(t, 1)
	// The response deadline passes.
	if _, err := d.store.Modify(context.Background(), inc.ID, func(i *incident.Incident) (bool, error) {
		i.SLADeadline = time.Now().Add(-time.Minute)
		return true, nil
	}); err != nil {
		t.Fatal(err)
	}
	r := d.app.Reconciler()
	r.Quiet, r.Lister = time.Hour, nil
	rep, err := r.Run(context.Background())
	if err != nil || rep.Escalated != 1 {
		t.Fatalf("%+v %v", rep, err)
	}
	esc := d.pd.Escalations()
	if len(esc) != 1 || esc[0].Key != inc.ID || esc[0].Level != 2 || esc[0].From != "oncall@example.com" {
		t.Fatalf("escalations %+v, want one to level 2 of %s", esc, inc.ID)
	}
	if n := len(d.pd.Events("trigger")); n != 1 {
		t.Fatalf("%d triggers: escalation re-triggered", n)
	}
	replies := 0
	for _, c := range d.slack.Calls("chat.postMessage") {
		if c.ThreadTS != "" && strings.Contains(c.Text, "Escalated") && !strings.Contains(c.Text, "0s") {
			replies++
		}
	}
	if replies != 1 {
		t.Fatalf("%d escalation replies in the thread", replies)
	}
	if rep, _ := r.Run(context.Background()); rep.Escalated != 0 || len(d.pd.Escalations()) != 1 {
		t.Fatal("escalated twice")
	}
}

// Answers never show internals (Go durations, SDK error wrapping, empty reasons), and every
// refusal says what to do instead.
func TestHardenAnswersShowNoInternals(t *testing.T) {
	d := newDoor(t, nil)
	inc := d.open(t, 1)
	d.ecs.FailNext(10, fakes.Fault{Op: "DescribeServices", Status: 500})
	d.command(t, "U0BOB", "bob", "status prod/checkout")
	d.command(t, "U0ALICE", "alice", "fix "+inc.ID) // DescribeServices fails: the fix cannot start
	d.ecs.FailNext(0, fakes.Fault{Op: "DescribeServices"})
	answers := []string{
		d.command(t, "U0BOB", "bob", "ack "+inc.ID),
		d.command(t, "U0ALICE", "alice", "silence prod/checkout 240h"),
		d.command(t, "U0ALICE", "alice", "scale prod/checkout lots"),
		d.command(t, "U0ALICE", "alice", "fix not-an-id"),
		d.command(t, "U0BOB", "bob", "why 12"),
		d.command(t, "U0BOB", "bob", "logs "+inc.Occurrences.Tasks[0]),
		d.command(t, "U0BOB", "bob", "incidents"),
	}
	for _, r := range d.slack.Responses() {
		answers = append(answers, r.Text)
	}
	for _, a := range answers {
		for _, internal := range []string{"h0m0s", "m0s", "operation error", "RequestID", "https response error", "%!", "<nil>", ": .", ":  "} {
			if strings.Contains(a, internal) {
				t.Errorf("an answer shows %q: %s", internal, a)
			}
		}
	}
	for _, refusal := range answers[:5] {
		if !strings.Contains(refusal, "`/medic") && !strings.Contains(refusal, "e.g.") && !strings.Contains(refusal, "at most") && !strings.Contains(refusal, "ask") {
			t.Errorf("a refusal does not say what to do instead: %s", refusal)
		}
	}
}
