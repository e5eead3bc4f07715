// Package smoke is the marked synthetic event that proves a deployed ecs-medic works end to end
// without surprising anyone: `medic smoke` sends it to the events function (or to medic serve),
// which recognises it before anything else, stores nothing, and tells every receiver it is a
// test — Slack gets a message marked as a test, PagerDuty a change event, which never pages.
package smoke

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sync"
	"time"
)

// The marks of a smoke event. EventBridge reserves "aws." sources, so no real ECS or CloudWatch
// event can carry this one.
const (
	Source     = "ecs-medic.smoke"
	DetailType = "ecs-medic Smoke Test"
)

// Test is one smoke test.
type Test struct {
	ID string    // smoke-<something>: names the test in every receiver
	By string    // who ran it (user@host), shown in the messages
	At time.Time // when it was sent
}

// idRE bounds what an id may hold: it is shown in Slack and PagerDuty. Compiled at first use,
// not at start: its bounded repetition makes a large program, and only a smoke test needs it
// (every Lambda function's cold start would pay for it otherwise).
var idRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^smoke-[a-z0-9-]{1,60}$`) })

// byRE bounds the runner's name for the same reason: no mentions, links or markup.
var byRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9._@-]{0,64}$`) })

type envelope struct {
	Version    string    `json:"version"`
	ID         string    `json:"id"`
	DetailType string    `json:"detail-type"`
	Source     string    `json:"source"`
	Time       time.Time `json:"time"`
	Detail     struct {
		By string `json:"by"`
	} `json:"detail"`
}

// Event renders the smoke event, shaped like every EventBridge event.
func Event(t Test) ([]byte, error) {
	if !idRE().MatchString(t.ID) || !byRE().MatchString(t.By) {
		return nil, fmt.Errorf("smoke test id %q or runner %q: ids are smoke-[a-z0-9-], runners [A-Za-z0-9._@-]", t.ID, t.By)
	}
	e := envelope{Version: "0", ID: t.ID, DetailType: DetailType, Source: Source, Time: t.At.UTC()}
	e.Detail.By = t.By
	return json.Marshal(e)
}

// Parse recognises a smoke event. A payload that merely claims the source but is not a
// well-formed smoke event is refused (ok true, err set): it must never reach a receiver.
func Parse(raw []byte) (t Test, ok bool, err error) {
	if !bytes.Contains(raw, []byte(Source)) { // every real event: no decoding on the hot path
		return Test{}, false, nil
	}
	var probe struct {
		Source string `json:"source"`
	}
	if json.Unmarshal(raw, &probe) != nil || probe.Source != Source {
		return Test{}, false, nil
	}
	var e envelope
	if err := json.Unmarshal(raw, &e); err != nil {
		return Test{}, true, fmt.Errorf("smoke event: %w", err)
	}
	if e.DetailType != DetailType || !idRE().MatchString(e.ID) || !byRE().MatchString(e.Detail.By) {
		return Test{}, true, fmt.Errorf("smoke event %q: not a well-formed ecs-medic smoke test", e.ID)
	}
	return Test{ID: e.ID, By: e.Detail.By, At: e.Time}, true, nil
}

// Summary is the one line every receiver shows.
func (t Test) Summary() string {
	by := ""
	if t.By != "" {
		by = " run by " + t.By
	}
	return fmt.Sprintf("TEST: ecs-medic smoke test %s%s reached this receiver through the deployed path. Nothing is wrong and no incident was opened.", t.ID, by)
}
