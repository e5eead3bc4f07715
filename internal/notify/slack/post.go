package slack

import (
	"context"
	"fmt"
	"strings"

	slackapi "github.com/slack-go/slack"

	"github.com/ecs-medic/ecs-medic/internal/notify"
)

// Post posts a plain message (a digest, a report) to channel, or to the notifier's channel when
// channel is "". It waits its turn in the channel's pacing like every other message.
func (n *Notifier) Post(ctx context.Context, channel, text string) error {
	if channel == "" {
		channel = n.channel
	}
	if err := n.wait(ctx, channel); err != nil {
		return err
	}
	if _, _, err := n.api.PostMessageContext(ctx, channel, slackapi.MsgOptionText(text, false)); err != nil {
		return fmt.Errorf("slack post to %s: %w", channel, withRetryAfter(err))
	}
	return nil
}

// MaxCodeBlock keeps a long text (a report, a postmortem) under Slack's 40,000-character message
// limit, with room for the words around it.
// https://api.slack.com/changelog/2018-04-truncating-really-long-messages
const MaxCodeBlock = 35000

// CodeBlock frames text as a Slack code block: escaped, since it carries event text that could
// hold <!channel> or a disguised link, and cut at a line to fit one message, saying that whole
// (e.g. "`medic report`") prints all of it.
// https://api.slack.com/reference/surfaces/formatting#escaping
func CodeBlock(text, whole string) string {
	text = strings.ReplaceAll(notify.SlackEscape(text), "```", "'''")
	cut := ""
	if len(text) > MaxCodeBlock {
		i := strings.LastIndexByte(text[:MaxCodeBlock], '\n')
		if i < 0 {
			i = MaxCodeBlock
		}
		text, cut = text[:i], "\n… cut to fit a Slack message: "+whole+" prints all of it."
	}
	return "```\n" + text + "\n```" + cut
}
