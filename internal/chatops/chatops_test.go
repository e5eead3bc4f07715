package chatops_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"go.uber.org/zap"

	"github.com/ecs-medic/ecs-medic/internal/boltstore"
	"github.com/ecs-medic/ecs-medic/internal/chatops"
	"github.com/ecs-medic/ecs-medic/internal/classify"
	"github.com/ecs-medic/ecs-medic/internal/config"
	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/incident/incidenttest"
	"github.com/ecs-medic/ecs-medic/internal/notify"
	"github.com/ecs-medic/ecs-medic/internal/notify/notifytest"
	"github.com/ecs-medic/ecs-medic/internal/remediate"
	"github.com/ecs-medic/ecs-medic/internal/runbook"
	"github.com/ecs-medic/ecs-medic/internal/severity"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakeecs"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakes"
	"github.com/ecs-medic/ecs-medic/runbooks"
	"testing/fstest"
)

const secret = "8f742231b10e8888abcd99yyyzzz85a5"

// Slack's own signing example (https://api.slack.com/authentication/verifying-requests-from-slack).
const (
	exampleTS   = 1531420618
	exampleBody = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
	exampleSig  = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
)

// recorder is a notifier that records what it was asked to send.
type recorder struct {
	mu    sync.Mutex
	kinds []notify.Kind
}

func (r *recorder) Name() string { return "recorder" }
func (r *recorder) Notify(_ context.Context, n notify.Notification) (bool, error) {
	r.mu.Lock()
	r.kinds = append(r.kinds, n.Kind)
	r.mu.Unlock()
	return false, nil
}
func (r *recorder) sent() []notify.Kind {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]notify.Kind(nil), r.kinds...)
}

type rig struct {
	h       *chatops.Handler
	srv     *httptest.Server
	clk     *incidenttest.Clock
	m       *incident.Manager
	store   *boltstore.Store
	ecs     *fakeecs.Server
	notes   *recorder
	replies chan map[string]any
	replyTo string
	seq     int
}

// trigger is a fresh trigger_id, as Slack puts in every request: no two requests have the same body.
func (g *rig) trigger() string {
	g.seq++
	return fmt.Sprintf("%d.47445629121.%032x", 398738663015+g.seq, g.seq)
}

func newRig(t testing.TB) *rig {
	t.Helper()
	clk := &incidenttest.Clock{T: time.Date(2026, 11, 27, 3, 10, 0, 0, time.UTC)}
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "medic.db"), boltstore.WithClock(clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	fe := fakeecs.New(fakeecs.Service{Cluster: "prod", Name: "checkout", Desired: 4, Running: 1, Pending: 2,
		TaskDefinition: "arn:aws:ecs:us-east-1:111122223333:task-definition/checkout:13",
		Deployments: []fakeecs.Deployment{
			{ID: "ecs-svc/2", Status: "PRIMARY", TaskDefinition: "arn:aws:ecs:us-east-1:111122223333:task-definition/checkout:13", RolloutState: "IN_PROGRESS", Desired: 4, Running: 0, Failed: 6},
			{ID: "ecs-svc/1", Status: "ACTIVE", TaskDefinition: "arn:aws:ecs:us-east-1:111122223333:task-definition/checkout:12", RolloutState: "COMPLETED", Desired: 4, Running: 1}}},
		fakeecs.Service{Cluster: "prod", Name: "payments", Desired: 2, Running: 2})
	fe.PutStoppedTask("prod", "checkout", json.RawMessage(`{"taskArn":"arn:aws:ecs:us-east-1:111122223333:task/prod/aaaa1111bbbb2222cccc3333dddd4444",
		"lastStatus":"STOPPED","stopCode":"EssentialContainerExited","stoppedReason":"Essential container in task exited","stoppedAt":1764212460,
		"containers":[{"name":"api","exitCode":137,"reason":"OutOfMemoryError: Container killed due to memory usage"}]}`))
	t.Cleanup(fe.Close)
	client := ecs.NewFromConfig(fakes.AWSConfig(fe.URL))
	var seq int
	m := incident.NewManager(st, incident.WithClock(clk.Now), incident.WithIDs(func(time.Time) string {
		seq++
		return fmt.Sprintf("inc-test%09d", seq)
	}))
	notes := &recorder{}
	replies := make(chan map[string]any, 16)
	responses := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var v map[string]any
		_ = json.NewDecoder(r.Body).Decode(&v)
		replies <- v
	}))
	t.Cleanup(responses.Close)
	h := &chatops.Handler{SigningSecret: config.Secret(secret), SlackAPIURL: responses.URL, AllowedUsers: []string{"U0ALICE"}, Seen: st, Manager: m,
		Sender: notify.NewFanout([]notify.Notifier{notes}), ECS: client, Region: "us-east-1", Log: zap.NewNop(), Now: clk.Now}
	set, _ := runbook.Load(runbooks.FS)
	h.Runbooks = set
	rem := &remediate.Remediator{ECS: client, Manager: m, Guards: st, Runbooks: set, Cap: runbook.Suggest, Log: zap.NewNop()}
	h.Fix = rem.Handle
	// Deferred jobs run before the request answers, so a test sees their outcome when its request
	// returns, whatever the scheduling; BenchmarkCommandAckWithSlowECS runs them in goroutines.
	h.Defer = func(ctx context.Context, j chatops.Job) error { return h.Run(ctx, j) }
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &rig{h: h, srv: srv, clk: clk, m: m, store: st, ecs: fe, notes: notes, replies: replies, replyTo: responses.URL}
}

func (g *rig) post(t testing.TB, path string, body string, hdr http.Header) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, g.srv.URL+path, strings.NewReader(body))
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// command sends a signed /medic command and returns the immediate answer's text.
func (g *rig) command(t *testing.T, user, text string) (int, string) {
	t.Helper()
	body := url.Values{"command": {"/medic"}, "text": {text}, "user_id": {user}, "user_name": {strings.ToLower(strings.TrimPrefix(user, "U0"))},
		"response_url": {g.replyTo}, "channel_id": {"C0INCIDENTS"}, "trigger_id": {g.trigger()}}.Encode()
	code, raw := g.post(t, "/slack/commands", body, chatops.Sign(secret, g.clk.Now(), []byte(body)))
	if code != 200 {
		return code, raw
	}
	var rep chatops.Reply
	if err := json.Unmarshal([]byte(raw), &rep); err != nil {
		t.Fatalf("answer is not JSON: %s", raw)
	}
	return code, rep.Text
}

func (g *rig) deferred(t *testing.T) string {
	t.Helper()
	// The rig runs deferred jobs inline: the answer was posted before the command returned.
	select {
	case v := <-g.replies:
		return v["text"].(string)
	default:
		t.Fatal("no answer through response_url")
	}
	return ""
}

func (g *rig) open(t *testing.T, cause classify.Cause) *incident.Incident {
	t.Helper()
	sig := incidenttest.Failure(cause, 1, severity.P1)
	out, err := g.m.Apply(context.Background(), sig)
	if err != nil {
		t.Fatal(err)
	}
	return out.Incident
}

func TestSignatures(t *testing.T) {
	g := newRig(t)
	// Slack's documented example verifies (at its own time).
	g.clk.T = time.Unix(exampleTS+10, 0)
	hdr := http.Header{"X-Slack-Request-Timestamp": {fmt.Sprint(exampleTS)}, "X-Slack-Signature": {exampleSig}}
	if code, _ := g.post(t, "/slack/commands", exampleBody, hdr); code != 200 {
		t.Fatalf("Slack's example refused: %d", code)
	}
	body := "command=%2Fmedic&text=incidents&user_id=U0BOB"
	for _, tc := range []struct {
		name string
		hdr  http.Header
	}{
		{"no signature", http.Header{}},
		{"forged", http.Header{"X-Slack-Request-Timestamp": {fmt.Sprint(g.clk.Now().Unix())}, "X-Slack-Signature": {exampleSig}}},
		{"wrong secret", chatops.Sign("not-the-secret", g.clk.Now(), []byte(body))},
		{"stale", chatops.Sign(secret, g.clk.Now().Add(-6*time.Minute), []byte(body))},
		{"from the future", chatops.Sign(secret, g.clk.Now().Add(6*time.Minute), []byte(body))},
		{"body changed", chatops.Sign(secret, g.clk.Now(), []byte(body+"x"))},
		{"garbage", http.Header{"X-Slack-Request-Timestamp": {"soon"}, "X-Slack-Signature": {"v0=zz"}}},
	} {
		code, raw := g.post(t, "/slack/commands", body, tc.hdr)
		if code != http.StatusUnauthorized || raw != "" {
			t.Errorf("%s: %d %q, want 401 and nothing else", tc.name, code, raw)
		}
	}
	big := strings.Repeat("a", chatops.MaxBody+1)
	if code, _ := g.post(t, "/slack/commands", big, chatops.Sign(secret, g.clk.Now(), []byte(big))); code != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body: %d", code)
	}
	// No signing secret configured: refused, even a request signed with the empty secret.
	g.h.SigningSecret = ""
	if code, raw := g.post(t, "/slack/commands", body, chatops.Sign("", g.clk.Now(), []byte(body))); code != http.StatusUnauthorized || raw != "" {
		t.Errorf("empty secret: %d %q, want 401 and nothing else", code, raw)
	}
}

func TestReplayedBody(t *testing.T) {
	g := newRig(t)
	inc := g.open(t, classify.OOMKilled)
	body := url.Values{"text": {"ack " + inc.ID}, "user_id": {"U0ALICE"}, "user_name": {"alice"}}.Encode()
	hdr := chatops.Sign(secret, g.clk.Now(), []byte(body))
	if code, _ := g.post(t, "/slack/commands", body, hdr); code != 200 {
		t.Fatal(code)
	}
	// Replayed within the window: the same signed bytes are refused like a forged request.
	if code, raw := g.post(t, "/slack/commands", body, hdr); code != http.StatusUnauthorized || raw != "" {
		t.Fatalf("replay: %d %s", code, raw)
	}
	// Also with the signature's hex in upper case (the same signature, spelt differently).
	upper := http.Header{}
	for k, v := range hdr {
		upper[k] = v
	}
	upper.Set("X-Slack-Signature", "v0="+strings.ToUpper(strings.TrimPrefix(hdr.Get("X-Slack-Signature"), "v0=")))
	if code, _ := g.post(t, "/slack/commands", body, upper); code != http.StatusUnauthorized {
		t.Fatalf("replay in upper case: %d", code)
	}
	// Replayed later: refused.
	g.clk.Advance(6 * time.Minute)
	if code, _ := g.post(t, "/slack/commands", body, hdr); code != http.StatusUnauthorized {
		t.Fatalf("stale replay: %d", code)
	}
}

func TestUnauthorizedChangesNothing(t *testing.T) {
	g := newRig(t)
	inc := g.open(t, classify.OOMKilled)
	before, _ := g.store.Get(context.Background(), inc.ID)
	for _, text := range []string{"ack " + inc.ID, "resolve " + inc.ID, "fix " + inc.ID, "rollback prod/checkout", "scale prod/checkout 8", "silence prod/checkout 1h"} {
		code, answer := g.command(t, "U0MALLORY", text)
		if code != 200 || !strings.Contains(answer, "not allowed") {
			t.Errorf("%q: %d %s", text, code, answer)
		}
	}
	after, _ := g.store.Get(context.Background(), inc.ID)
	if after.State != before.State || after.Severity != before.Severity {
		t.Fatalf("an unauthorized command changed the incident: %+v", after)
	}
	refused := 0
	for _, e := range after.Timeline {
		if e.Kind == "refused" {
			refused++
		}
	}
	if refused != 3 {
		t.Fatalf("%d refusals recorded on the incident, want 3 (ack, resolve, fix)", refused)
	}
	if s, _ := g.store.Silences(context.Background(), g.clk.Now()); len(s) != 0 {
		t.Fatal("an unauthorized silence was stored")
	}
	if len(g.notes.sent()) != 0 {
		t.Fatal("an unauthorized command notified")
	}
	// A button click by the same user is refused the same way, answered through response_url.
	g.click(t, "U0MALLORY", "medic_ack", inc.ID)
	if txt := g.deferred(t); !strings.Contains(txt, "not allowed") {
		t.Fatal(txt)
	}
}

func (g *rig) click(t *testing.T, user, action, value string) {
	t.Helper()
	payload, _ := json.Marshal(map[string]any{"type": "block_actions", "user": map[string]string{"id": user, "name": "someone"}, "trigger_id": g.trigger(),
		"response_url": g.replyTo, "actions": []map[string]string{{"action_id": action, "block_id": "medic_actions", "value": value, "type": "button", "action_ts": "1764212999.000100"}}})
	body := url.Values{"payload": {string(payload)}}.Encode()
	if code, raw := g.post(t, "/slack/interactions", body, chatops.Sign(secret, g.clk.Now(), []byte(body))); code != 200 || raw != "" {
		t.Fatalf("click: %d %q", code, raw)
	}
}

func TestButtonsAreIdempotent(t *testing.T) {
	g := newRig(t)
	inc := g.open(t, classify.OOMKilled)
	g.click(t, "U0ALICE", "medic_ack", inc.ID)
	g.click(t, "U0ALICE", "medic_ack", inc.ID) // double click
	got, _ := g.store.Get(context.Background(), inc.ID)
	if got.State != incident.Acknowledged || !strings.Contains(got.AcknowledgedBy, "U0ALICE") && !strings.Contains(got.AcknowledgedBy, "someone") {
		t.Fatalf("%+v", got)
	}
	if k := g.notes.sent(); len(k) != 1 || k[0] != notify.Acknowledged {
		t.Fatalf("notifications %v, want one acknowledgement", k)
	}
	g.click(t, "U0ALICE", "medic_resolve", inc.ID)
	got, _ = g.store.Get(context.Background(), inc.ID)
	if got.State != incident.Resolved {
		t.Fatalf("%+v", got.State)
	}
}

// Each command's answer, compared with a golden file.
func TestCommandAnswers(t *testing.T) {
	g := newRig(t)
	inc := g.open(t, classify.OOMKilled)
	_, _ = g.m.AttachLogs(context.Background(), inc.ID, "/ecs/checkout", "ecs/app/x", []string{"starting", "java.lang.OutOfMemoryError: Java heap space"}, "")
	g.clk.Advance(20 * time.Minute)
	task := inc.Occurrences.Tasks[0]
	for _, tc := range []struct{ name, user, text string }{
		{"help", "U0BOB", "help"},
		{"unknown", "U0BOB", "reboot everything"},
		{"incidents", "U0BOB", "incidents"},
		{"why", "U0BOB", "why " + task[:12]},
		{"why-unknown", "U0BOB", "why 0123456789abcdef"},
		{"runbook", "U0BOB", "runbook oom-killed"},
		{"runbook-by-id", "U0BOB", "runbook service-degraded"},
		{"runbook-unknown", "U0BOB", "runbook reboot"},
		{"silence", "U0ALICE", "silence prod/payments 2h schema migration"},
		{"incidents-silenced", "U0BOB", "incidents"},
		{"ack", "U0ALICE", "ack " + inc.ID},
		{"ack-again", "U0ALICE", "ack " + inc.ID},
		{"ack-missing", "U0ALICE", "ack inc-nope"},
		{"rollback", "U0ALICE", "rollback prod/checkout"},
		{"status-usage", "U0BOB", "status checkout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, answer := g.command(t, tc.user, tc.text)
			if code != 200 {
				t.Fatalf("%d %s", code, answer)
			}
			notifytest.Golden(t, "answers/"+tc.name+".txt", []byte(answer+"\n"))
		})
	}
	t.Run("rollback-done", func(t *testing.T) {
		notifytest.Golden(t, "answers/rollback-done.txt", []byte(g.deferred(t)+"\n"))
		muts := g.ecs.Mutations()
		if len(muts) != 1 || muts[0].Body["taskDefinition"] != "arn:aws:ecs:us-east-1:111122223333:task-definition/checkout:12" {
			t.Fatalf("%v", muts)
		}
	})
	t.Run("status", func(t *testing.T) {
		_, now := g.command(t, "U0BOB", "status prod/checkout")
		if !strings.Contains(now, "Reading") {
			t.Fatal(now)
		}
		notifytest.Golden(t, "answers/status.txt", []byte(g.deferred(t)+"\n"))
	})
	t.Run("status-typo", func(t *testing.T) {
		g.command(t, "U0BOB", "status prod/chekout")
		notifytest.Golden(t, "answers/status-typo.txt", []byte(g.deferred(t)+"\n"))
	})
}

// The acknowledgement does not wait for ECS: a status request answers at once even when ECS
// takes 200 ms, and the answer follows through response_url.
func BenchmarkCommandAckWithSlowECS(b *testing.B) {
	g := newRig(b)
	g.h.Defer = chatops.Goroutines(g.h)
	g.ecs.SetDelay(200 * time.Millisecond)
	var total time.Duration
	for i := 0; b.Loop(); i++ {
		// Each request is a new one: the same signed body twice is a replay and refused.
		body := url.Values{"text": {"status prod/checkout"}, "user_id": {"U0BOB"}, "response_url": {g.replyTo},
			"trigger_id": {fmt.Sprintf("bench.%d", i)}}.Encode()
		start := time.Now()
		code, _ := g.post(b, "/slack/commands", body, chatops.Sign(secret, g.clk.Now(), []byte(body)))
		total += time.Since(start)
		if code != 200 {
			b.Fatal(code)
		}
		<-g.replies
	}
	b.ReportMetric(float64(total.Microseconds())/float64(b.N)/1000, "ms-to-ack")
}

// `/medic runbook` answers from the runbooks in force, not from text in the code: an operator's
// own folder (MEDIC_RUNBOOKS) is what Slack shows.
func TestRunbookAnswersFromTheFiles(t *testing.T) {
	g := newRig(t)
	set, err := runbook.Load(fstest.MapFS{"oom.md": {Data: []byte("---\nid: our-oom\nmatch: { cause: oom-killed }\nfix: { action: none, mode: off }\n---\n" +
		"# Our OOM procedure\n\n**Call** the JVM team, see [the wiki](https://wiki.example.com/oom?a=1&b=2) and [notes](../docs/x.md) <now>.\n")}})
	if err != nil {
		t.Fatal(err)
	}
	g.h.Runbooks = set
	for _, text := range []string{"runbook oom-killed", "runbook OUR-OOM"} {
		_, answer := g.command(t, "U0BOB", text)
		for _, want := range []string{"*Our OOM procedure* (`our-oom`, oom.md)", "*Call* the JVM team",
			"<https://wiki.example.com/oom?a=1&amp;b=2|the wiki>", "and notes &lt;now&gt;."} {
			if !strings.Contains(answer, want) {
				t.Errorf("%s: %q lacks %q", text, answer, want)
			}
		}
		if strings.Contains(answer, "Fix:") {
			t.Errorf("%s: a runbook without a fix shows one: %q", text, answer)
		}
	}
	if _, answer := g.command(t, "U0BOB", "runbook image-pull"); !strings.HasPrefix(answer, "No runbook for `image-pull`") {
		t.Errorf("a cause the folder has no runbook for: %q", answer)
	}
}
