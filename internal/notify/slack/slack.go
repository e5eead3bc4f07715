// Package slack posts incidents to a Slack channel (github.com/slack-go/slack): one Block Kit
// message per incident, updated in place (chat.update) as it changes, with thread replies for
// the timeline's turning points — never a message per event.
package slack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	slackapi "github.com/slack-go/slack"
	"golang.org/x/time/rate"

	"github.com/ecs-medic/ecs-medic/internal/config"
	"github.com/ecs-medic/ecs-medic/internal/notify"
)

// Name is the notifier's name in timelines and metrics.
const Name = "slack"

// Notifier posts to one channel.
type Notifier struct {
	api     *slackapi.Client
	channel string
	every   time.Duration

	mu       sync.Mutex
	limiters map[string]*rate.Limiter
}

var _ notify.Notifier = (*Notifier)(nil)

// Option configures a Notifier.
type Option func(*Notifier, *[]slackapi.Option)

// WithAPIURL points the client at another Slack Web API base URL (MEDIC_SLACK_API_URL, tests).
func WithAPIURL(u string) Option {
	return func(_ *Notifier, o *[]slackapi.Option) {
		if !strings.HasSuffix(u, "/") {
			u += "/"
		}
		*o = append(*o, slackapi.OptionAPIURL(u))
	}
}

// WithMessageInterval sets the minimum gap between two messages to one channel. Slack allows
// about one message per second per channel
// (https://api.slack.com/apis/rate-limits#special-rate-limits-chat-postmessage); the default is 1 s.
func WithMessageInterval(d time.Duration) Option {
	return func(n *Notifier, _ *[]slackapi.Option) { n.every = d }
}

// New returns a notifier posting with a bot token to channel.
func New(token config.Secret, channel string, opts ...Option) *Notifier {
	n := &Notifier{channel: channel, every: time.Second, limiters: map[string]*rate.Limiter{}}
	var sopts []slackapi.Option
	for _, o := range opts {
		o(n, &sopts)
	}
	n.api = slackapi.New(token.Reveal(), sopts...)
	return n
}

// Name implements notify.Notifier.
func (*Notifier) Name() string { return Name }

// maxWait bounds how long a notification waits for its turn in a channel when someone waits on
// it (a Lambda handler delivering as it goes): in a storm across many services a handler must
// not sit for minutes behind other incidents' messages. Past it the message is left pending and
// the reconciler posts it a minute later. A background delivery (notify.Queue, medic serve)
// waits its turn however long it takes: nobody waits on it.
const maxWait = 3 * time.Second

// burst lets a few messages go at once, as Slack itself tolerates short bursts.
const burst = 5

func (n *Notifier) wait(ctx context.Context, channel string) error {
	n.mu.Lock()
	l, ok := n.limiters[channel]
	if !ok {
		l = rate.NewLimiter(rate.Every(n.every), burst)
		n.limiters[channel] = l
	}
	n.mu.Unlock()
	r := l.Reserve()
	if d := r.Delay(); d > maxWait && !notify.IsBackground(ctx) {
		r.Cancel()
		return errHeldBack
	} else if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			r.Cancel()
			return ctx.Err()
		}
	}
	return nil
}

// errHeldBack: ecs-medic's own per-channel pacing would make this message wait too long.
var errHeldBack = errors.New("held back by the per-channel message pacing (about one message a second); the reconciler will post it")

// Notify implements notify.Notifier: the first notification posts the incident's message, later
// ones update it in place and, for escalation, acknowledgement and resolution, reply in its thread.
func (n *Notifier) Notify(ctx context.Context, note notify.Notification) (bool, error) {
	inc := note.Incident
	if note.Kind == notify.Test {
		// A smoke test: one plain message marked as a test, no buttons, nothing to update.
		if err := n.wait(ctx, n.channel); err != nil {
			return false, err
		}
		ch, ts, err := n.api.PostMessageContext(ctx, n.channel, slackapi.MsgOptionText(":test_tube: "+inc.Title, false))
		if err != nil {
			return retryable(err), fmt.Errorf("slack post %s: %w", inc.ID, withRetryAfter(err))
		}
		note.SetRef(ch + "/" + ts)
		return false, nil
	}
	blocks := Blocks(inc)
	text := Fallback(note.Kind, inc)
	channel, ts, _ := strings.Cut(note.Ref(Name), "/")
	if ts != "" {
		if err := n.wait(ctx, channel); err != nil {
			return false, err
		}
		_, _, _, err := n.api.UpdateMessageContext(ctx, channel, ts, slackapi.MsgOptionBlocks(blocks...), slackapi.MsgOptionText(text, false))
		var se slackapi.SlackErrorResponse
		switch {
		case errors.As(err, &se) && (se.Err == "message_not_found" || se.Err == "cant_update_message"):
			ts = "" // deleted by someone: post a new one below
		case err != nil:
			return retryable(err), fmt.Errorf("slack update %s: %w", inc.ID, withRetryAfter(err))
		}
		if ts != "" {
			if reply := ThreadReply(note.Kind, inc); reply != "" {
				if err := n.wait(ctx, channel); err != nil {
					return false, err
				}
				if _, _, err := n.api.PostMessageContext(ctx, channel, slackapi.MsgOptionTS(ts), slackapi.MsgOptionText(reply, false)); err != nil {
					return retryable(err), fmt.Errorf("slack thread reply %s: %w", inc.ID, withRetryAfter(err))
				}
			}
			return false, nil
		}
	}
	if err := n.wait(ctx, n.channel); err != nil {
		return false, err
	}
	ch, ts, err := n.api.PostMessageContext(ctx, n.channel, slackapi.MsgOptionBlocks(blocks...), slackapi.MsgOptionText(text, false))
	if err != nil {
		return retryable(err), fmt.Errorf("slack post %s: %w", inc.ID, withRetryAfter(err))
	}
	note.SetRef(ch + "/" + ts)
	return false, nil
}

// rateLimited carries Slack's Retry-After to the fan-out's backoff.
type rateLimited struct{ *slackapi.RateLimitedError }

func (r rateLimited) RetryAfter() time.Duration { return r.RateLimitedError.RetryAfter }
func (r rateLimited) Unwrap() error             { return r.RateLimitedError }

// retryable: Slack answers HTTP 200 with {"ok": false, "error": ...} for a wrong channel or
// token — a retry cannot help — 429 with Retry-After when rate limited, and 5xx when it fails.
// https://api.slack.com/web#evaluating_responses
func retryable(err error) bool {
	var rl *slackapi.RateLimitedError
	var sc slackapi.StatusCodeError
	var netErr net.Error
	switch {
	case errors.As(err, &rl):
		return true
	case errors.As(err, &sc):
		return sc.Retryable()
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return false
	case errors.As(err, &netErr):
		return true
	}
	return false
}

// withRetryAfter exposes Slack's Retry-After to the fan-out, which waits that long before retrying.
func withRetryAfter(err error) error {
	var rl *slackapi.RateLimitedError
	if errors.As(err, &rl) {
		return rateLimited{rl}
	}
	return err
}
