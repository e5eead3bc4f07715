package functions_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ecs-medic/ecs-medic/internal/chatops"
	"github.com/ecs-medic/ecs-medic/internal/classify"
	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/incident/incidenttest"
	"github.com/ecs-medic/ecs-medic/internal/severity"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakeecs"
)

const signingSecret = "e2e-signing-secret"

// fakeLambda is the Lambda Invoke API (REST-JSON): an asynchronous self-invocation is accepted
// (202) and then delivered to the function under the emulator, like Lambda's own queue does.
type fakeLambda struct {
	*httptest.Server
	target *fn
	mu     sync.Mutex
	calls  int
}

func newFakeLambda(t *testing.T) *fakeLambda {
	f := &fakeLambda{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/invocations") || r.Header.Get("X-Amz-Invocation-Type") != "Event" {
			w.WriteHeader(400)
			return
		}
		payload, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.calls++
		target := f.target
		f.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
		if target == nil {
			return // recorded only
		}
		go func() { // delivered once the invocation that asked for it has ended
			if resp, err := target.post(payload); err == nil {
				resp.Body.Close()
			}
		}()
	}))
	t.Cleanup(f.Close)
	return f
}

func urlRequest(body string, hdr http.Header) []byte {
	req := events.LambdaFunctionURLRequest{RawPath: "/slack/commands", Headers: map[string]string{}, IsBase64Encoded: true,
		Body: base64.StdEncoding.EncodeToString([]byte(body))}
	req.RequestContext.HTTP.Method = "POST"
	req.RequestContext.HTTP.SourceIP = "203.0.113.7"
	for k := range hdr {
		req.Headers[strings.ToLower(k)] = hdr.Get(k)
	}
	b, _ := json.Marshal(req)
	return b
}

func TestSlackFunction(t *testing.T) { observe("slack", scenarioSlack(t)) }

func scenarioSlack(t *testing.T) *world {
	w := newWorld(t, fakeecs.Service{Cluster: "prod", Name: "checkout", Desired: 4, Running: 1})
	m := incident.NewManager(w.store)
	out, err := m.Apply(context.Background(), incidenttest.Failure(classify.OOMKilled, 1, severity.P1))
	if err != nil {
		t.Fatal(err)
	}
	replies := make(chan string, 8)
	responses := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		var v map[string]any
		_ = json.NewDecoder(r.Body).Decode(&v)
		replies <- v["text"].(string)
	}))
	t.Cleanup(responses.Close)
	fl := newFakeLambda(t)
	w.lambda = fl
	// MEDIC_SLACK_API_URL names the Slack test double, whose host response_url may then use.
	env := map[string]string{"MEDIC_SLACK_SIGNING_SECRET": signingSecret, "MEDIC_SLACK_ALLOWED_USERS": "U0ALICE", "MEDIC_SLACK_API_URL": responses.URL,
		"AWS_ENDPOINT_URL_LAMBDA": fl.URL, "AWS_LAMBDA_FUNCTION_NAME": "ecs-medic-slack"}
	for k, v := range w.env {
		env[k] = v
	}
	f := startFn(t, build(t, "github.com/ecs-medic/ecs-medic/functions/slack", "lambda.norpc"), env)
	fl.mu.Lock()
	fl.target = f
	fl.mu.Unlock()

	send := func(text, user string, signed bool) events.LambdaFunctionURLResponse {
		body := url.Values{"command": {"/medic"}, "text": {text}, "user_id": {user}, "response_url": {responses.URL}}.Encode()
		hdr := http.Header{}
		if signed {
			hdr = chatops.Sign(signingSecret, time.Now(), []byte(body))
		}
		var resp events.LambdaFunctionURLResponse
		f.invoke(t, urlRequest(body, hdr), &resp)
		return resp
	}
	if resp := send("incidents", "U0BOB", false); resp.StatusCode != 401 || resp.Body != "" {
		t.Fatalf("unsigned: %+v", resp)
	}
	if resp := send("incidents", "U0BOB", true); resp.StatusCode != 200 || !strings.Contains(resp.Body, out.Incident.ID) {
		t.Fatalf("incidents: %+v\n%s", resp, f.logs())
	}
	// The same signed bytes again, to the function on DynamoDB: refused like a forged request.
	body := url.Values{"command": {"/medic"}, "text": {"incidents"}, "user_id": {"U0BOB"}, "trigger_id": {"replayed"}}.Encode()
	hdr := chatops.Sign(signingSecret, time.Now(), []byte(body))
	var first, again events.LambdaFunctionURLResponse
	f.invoke(t, urlRequest(body, hdr), &first)
	f.invoke(t, urlRequest(body, hdr), &again)
	if first.StatusCode != 200 || again.StatusCode != 401 || again.Body != "" {
		t.Fatalf("replayed request: first %d, again %d %q", first.StatusCode, again.StatusCode, again.Body)
	}
	resp := send("status prod/checkout", "U0BOB", true)
	if resp.StatusCode != 200 || !strings.Contains(resp.Body, "Reading") {
		t.Fatalf("status: %+v", resp)
	}
	// The status job runs in the invocation the fake Lambda API delivers once this one ended.
	select {
	case txt := <-replies:
		if !strings.Contains(txt, "4 desired, 1 running") {
			t.Fatalf("deferred status: %s", txt)
		}
	case <-f.drained:
		t.Fatalf("the emulator ended before the deferred status answered\n%s", f.logs())
	}
	if resp := send("ack "+out.Incident.ID, "U0ALICE", true); !strings.Contains(resp.Body, "Acknowledged") {
		t.Fatalf("ack: %+v", resp)
	}
	inc, _ := w.store.Get(context.Background(), out.Incident.ID)
	if inc.State != incident.Acknowledged {
		t.Fatalf("%+v", inc.State)
	}
	// The announcement of the acknowledgement runs in its own invocation, asked for (the Lambda
	// API answered 202) before the ack's answer: counted by now.
	fl.mu.Lock()
	n := fl.calls
	fl.mu.Unlock()
	if n != 2 {
		t.Fatalf("%d self-invocations, want 2 (the status job, the announcement)", n)
	}
	return w
}

// The first apply creates the Slack URL before its secrets are filled (creating the Slack app
// needs the URL): the function starts anyway and answers every request 503, saying why.
func TestSlackFunctionBeforeItsSecrets(t *testing.T) {
	w := newWorld(t)
	env := map[string]string{"AWS_LAMBDA_FUNCTION_NAME": "ecs-medic-slack"}
	for k, v := range w.env {
		env[k] = v
	}
	f := startFn(t, build(t, "github.com/ecs-medic/ecs-medic/functions/slack", "lambda.norpc"), env)
	body := url.Values{"command": {"/medic"}, "text": {"incidents"}, "user_id": {"U0BOB"}}.Encode()
	var resp events.LambdaFunctionURLResponse
	f.invoke(t, urlRequest(body, chatops.Sign(signingSecret, time.Now(), []byte(body))), &resp)
	if resp.StatusCode != 503 || !strings.Contains(resp.Body, "slack_enabled") {
		t.Fatalf("%+v\n%s", resp, f.logs())
	}
}
