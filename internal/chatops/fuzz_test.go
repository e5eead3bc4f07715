package chatops_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/ecs-medic/ecs-medic/internal/boltstore"
	"github.com/ecs-medic/ecs-medic/internal/chatops"
	"github.com/ecs-medic/ecs-medic/internal/config"
	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/notify"
)

// anyOnce lets every signature through: the fuzzer sends many bodies a second, and the replay
// record is not what is fuzzed here.
type anyOnce struct{}

func (anyOnce) Remember(context.Context, string, time.Time) error { return nil }

// FuzzSlackRequest feeds signed slash-command and interaction bodies of any shape to the
// handler: whatever the form or the JSON payload holds, it answers 200, 400 or 413 — never a
// panic — and a command's answer is JSON with its text escaped for Slack.
func FuzzSlackRequest(f *testing.F) {
	for _, seed := range []string{
		"command=%2Fmedic&text=incidents&user_id=U0BOB",
		"text=ack+inc-0c1h3x9v2k7mq&user_id=U0ALICE&user_name=U0ALICE",
		"text=silence+prod%2Fweb+1ns+%3C%21channel%3E&user_id=U0ALICE",
		"text=scale+prod%2Fweb+99999999999999999999&user_id=U0ALICE",
		"text=why+%00%00%00%00%00%00%00%00&user_id=",
		"text=%zz&user_id=U1",
		`payload={"type":"block_actions","user":{"id":"U0ALICE"},"actions":[{"action_id":"medic_ack","value":"inc-x"}]}`,
		`payload={"type":"block_actions","user":{"id":"U0X"},"response_url":"http://evil","actions":[{"action_id":"medic_fix","value":"` + strings.Repeat("a", 500) + `"}]}`,
		`payload={"type":`,
		"payload=null",
	} {
		f.Add(seed, true)
		f.Add(seed, false)
	}
	st, err := boltstore.Open(filepath.Join(f.TempDir(), "medic.db"))
	if err != nil {
		f.Fatal(err)
	}
	defer st.Close()
	h := &chatops.Handler{SigningSecret: config.Secret(secret), Seen: anyOnce{}, AllowedUsers: []string{"U0ALICE"},
		Manager: incident.NewManager(st), Sender: notify.NewFanout(nil), Log: zap.NewNop()}
	f.Fuzz(func(t *testing.T, body string, command bool) {
		path := "/slack/interactions"
		if command {
			path = "/slack/commands"
		}
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		req.Header = chatops.Sign(secret, time.Now(), []byte(body))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		switch w.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("status %d for %q", w.Code, body)
		}
		if !command || w.Code != http.StatusOK {
			return
		}
		var rep chatops.Reply
		if err := json.Unmarshal(w.Body.Bytes(), &rep); err != nil {
			t.Fatalf("answer is not JSON: %q", w.Body.String())
		}
		// Whatever the user typed comes back escaped: no mention or link of theirs survives.
		form, _ := url.ParseQuery(body)
		for _, raw := range []string{"<!channel>", "<!here>", "<http"} {
			if strings.Contains(form.Get("text"), raw) && strings.Contains(rep.Text, raw) {
				t.Fatalf("%s came back raw: %q", raw, rep.Text)
			}
		}
	})
}
