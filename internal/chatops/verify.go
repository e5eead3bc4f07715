package chatops

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Slack signs every request: v0=HMAC-SHA256(signing secret, "v0:" + timestamp + ":" + body),
// in X-Slack-Signature, with the timestamp in X-Slack-Request-Timestamp. A request more than five
// minutes off is refused, so a captured request cannot be replayed later; inside those five
// minutes the handler remembers every signature it accepted (in the store, shared by every
// process), so it cannot be replayed then either.
// https://api.slack.com/authentication/verifying-requests-from-slack
//
// slack-go's SecretsVerifier does the same but reads the wall clock; this one takes the clock, so
// the replay window is tested.

const maxSkew = 5 * time.Minute

var (
	errNoSignature  = errors.New("missing signature or timestamp")
	errStale        = errors.New("timestamp more than 5 minutes off")
	errBadSignature = errors.New("signature does not match")
)

// signed is a request whose signature checked out: its signature in one canonical spelling (hex
// accepts both cases, so "ABC" and "abc" must count as the same request) and its timestamp.
type signed struct {
	sig string
	at  time.Time
}

func verify(h http.Header, body []byte, secret string, now time.Time) (signed, error) {
	sig, ts := h.Get("X-Slack-Signature"), h.Get("X-Slack-Request-Timestamp")
	if sig == "" || ts == "" || strings.TrimSpace(secret) == "" {
		return signed{}, errNoSignature
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return signed{}, errNoSignature
	}
	at := time.Unix(sec, 0)
	if d := now.Sub(at); d > maxSkew || d < -maxSkew {
		return signed{}, errStale
	}
	hexSig, ok := strings.CutPrefix(sig, "v0=")
	if !ok {
		return signed{}, errBadSignature
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil {
		return signed{}, errBadSignature
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("v0:" + ts + ":"))
	mac.Write(body)
	if !hmac.Equal(mac.Sum(nil), got) {
		return signed{}, errBadSignature
	}
	return signed{sig: hex.EncodeToString(got), at: at}, nil
}

// Sign returns the headers Slack would send for body at t, for tests and local tools.
func Sign(secret string, t time.Time, body []byte) http.Header {
	ts := strconv.FormatInt(t.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("v0:" + ts + ":"))
	mac.Write(body)
	h := http.Header{}
	h.Set("X-Slack-Request-Timestamp", ts)
	h.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	return h
}
