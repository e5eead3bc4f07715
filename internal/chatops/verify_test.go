package chatops_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ecs-medic/ecs-medic/internal/chatops"
	"github.com/ecs-medic/ecs-medic/internal/config"
)

// helpBody is a fresh signed-able /medic help body: a new trigger_id each time, as Slack sends.
func (g *rig) helpBody() string {
	return url.Values{"command": {"/medic"}, "text": {"help"}, "user_id": {"U0BOB"}, "response_url": {g.replyTo}, "trigger_id": {g.trigger()}}.Encode()
}

// The timestamp window is 5 minutes exactly, both ways: a request signed 5 minutes ago (or 5
// minutes ahead, a fast clock) is accepted, one second more is refused.
func TestSignatureWindowIsFiveMinutes(t *testing.T) {
	g := newRig(t)
	for _, tc := range []struct {
		skew time.Duration
		ok   bool
	}{
		{0, true},
		{-4*time.Minute - 59*time.Second, true},
		{-5 * time.Minute, true},
		{-5*time.Minute - time.Second, false},
		{-5*time.Minute - 2*time.Second, false},
		{-time.Hour, false},
		{4*time.Minute + 59*time.Second, true},
		{5 * time.Minute, true},
		{5*time.Minute + time.Second, false},
		{24 * time.Hour, false},
	} {
		body := g.helpBody()
		code, raw := g.post(t, "/slack/commands", body, chatops.Sign(secret, g.clk.Now().Add(tc.skew), []byte(body)))
		if tc.ok && code != http.StatusOK {
			t.Errorf("signed %s from now: %d, want 200", tc.skew, code)
		}
		if !tc.ok && (code != http.StatusUnauthorized || raw != "") {
			t.Errorf("signed %s from now: %d %q, want 401 and nothing else", tc.skew, code, raw)
		}
	}
}

// Without a signing secret nothing is accepted, not even a request signed with the empty secret.
func TestNoSigningSecretRefusesEverything(t *testing.T) {
	for _, s := range []string{"", " ", "\t\n"} {
		g := newRig(t)
		g.h.SigningSecret = config.Secret(s)
		body := g.helpBody()
		for name, hdr := range map[string]http.Header{
			"signed with that secret":  chatops.Sign(s, g.clk.Now(), []byte(body)),
			"signed with the real one": chatops.Sign(secret, g.clk.Now(), []byte(body)),
			"unsigned":                 {},
		} {
			if code, raw := g.post(t, "/slack/commands", body, hdr); code != http.StatusUnauthorized || raw != "" {
				t.Errorf("secret %q, request %s: %d %q, want 401", s, name, code, raw)
			}
		}
	}
}

// Each malformed header is refused on its own, whatever else is right.
func TestSignatureHeaders(t *testing.T) {
	g := newRig(t)
	body := g.helpBody()
	good := chatops.Sign(secret, g.clk.Now(), []byte(body))
	hexSig := strings.TrimPrefix(good.Get("X-Slack-Signature"), "v0=")
	ts := good.Get("X-Slack-Request-Timestamp")
	for _, tc := range []struct {
		name, sig, ts string
	}{
		{"no signature", "", ts},
		{"no timestamp", good.Get("X-Slack-Signature"), ""},
		{"timestamp not a number", good.Get("X-Slack-Signature"), ts + "x"},
		{"timestamp with a fraction", good.Get("X-Slack-Signature"), ts + ".0"},
		{"another version", "v1=" + hexSig, ts},
		{"no version", hexSig, ts},
		{"not hex", "v0=" + strings.Repeat("z", len(hexSig)), ts},
		{"truncated", "v0=" + hexSig[:len(hexSig)-2], ts},
		{"one bit off", "v0=" + flipLast(hexSig), ts},
	} {
		hdr := http.Header{"X-Slack-Signature": {tc.sig}, "X-Slack-Request-Timestamp": {tc.ts}}
		if code, raw := g.post(t, "/slack/commands", body, hdr); code != http.StatusUnauthorized || raw != "" {
			t.Errorf("%s: %d %q, want 401", tc.name, code, raw)
		}
	}
	// The untouched request still goes through (nothing above was remembered as seen).
	if code, _ := g.post(t, "/slack/commands", body, good); code != http.StatusOK {
		t.Fatalf("the good request: %d", code)
	}
	// The signature covers the timestamp: the same signature with another timestamp is refused.
	body2 := g.helpBody()
	h2 := chatops.Sign(secret, g.clk.Now(), []byte(body2))
	h2.Set("X-Slack-Request-Timestamp", fmt.Sprint(g.clk.Now().Unix()-1))
	if code, _ := g.post(t, "/slack/commands", body2, h2); code != http.StatusUnauthorized {
		t.Errorf("signature moved to another timestamp: %d", code)
	}
}

func flipLast(h string) string {
	last := h[len(h)-1]
	if last == '0' {
		return h[:len(h)-1] + "1"
	}
	return h[:len(h)-1] + "0"
}

// Sign is Slack's algorithm: it reproduces Slack's documented example.
func TestSignMatchesSlacksExample(t *testing.T) {
	h := chatops.Sign(secret, time.Unix(exampleTS, 0), []byte(exampleBody))
	if h.Get("X-Slack-Signature") != exampleSig || h.Get("X-Slack-Request-Timestamp") != fmt.Sprint(exampleTS) {
		t.Fatalf("Sign gave %v", h)
	}
}

// A signature is remembered for as long as its timestamp is acceptable: a replay one second
// after the first use is refused even when the request was signed near the end of its window.
func TestReplayRefusedToTheEndOfTheWindow(t *testing.T) {
	g := newRig(t)
	for _, signedAgo := range []time.Duration{4*time.Minute + 30*time.Second, 5 * time.Minute, -5 * time.Minute} {
		body := g.helpBody()
		hdr := chatops.Sign(secret, g.clk.Now().Add(-signedAgo), []byte(body))
		if code, _ := g.post(t, "/slack/commands", body, hdr); code != http.StatusOK {
			t.Fatalf("signed %s ago: %d", signedAgo, code)
		}
		for _, later := range []time.Duration{0, time.Second} {
			g.clk.Advance(later)
			if code, _ := g.post(t, "/slack/commands", body, hdr); code != http.StatusUnauthorized {
				t.Errorf("signed %s ago, replayed %s later: %d, want 401", signedAgo, later, code)
			}
		}
		g.clk.Advance(-time.Second)
	}
}
