package chatops

import (
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/ecs-medic/ecs-medic/internal/classify"
	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/runbook"
)

// maxRunbookAnswer bounds the runbook text answered: Slack shows at most 4,000 characters of a
// message's text before "show more", and an operator's runbook can be long.
// https://api.slack.com/methods/chat.postMessage#truncating
const maxRunbookAnswer = 3500

// runbookAnswer answers with the runbook in force (the one built in, or MEDIC_RUNBOOKS) for a
// cause or a runbook id: its title, its fix and its human steps, as the file says them.
func (h *Handler) runbookAnswer(args []string) Reply {
	if len(args) != 1 {
		return Reply{Text: "Usage: `/medic runbook <cause>`, one of: " + causeList()}
	}
	name := strings.ToLower(args[0])
	rb := h.Runbooks.ByID(name)
	if rb == nil {
		rb = h.Runbooks.For(classify.Cause(name), "", "")
	}
	if rb == nil {
		return Reply{Text: fmt.Sprintf("No runbook for `%s`. Causes: %s", echo(args[0]), causeList())}
	}
	var b strings.Builder
	title := rb.Title
	if title == "" {
		title = rb.ID
	}
	fmt.Fprintf(&b, "*%s* (`%s`, %s)\n", esc(title), rb.ID, esc(rb.File))
	if rb.Fix.Action != "" && rb.Fix.Action != runbook.None {
		fmt.Fprintf(&b, "Fix: `%s`, mode `%s`\n", rb.Fix.Action, rb.Fix.Mode)
	}
	body := strings.TrimSpace(rb.Body)
	if first, rest, _ := strings.Cut(body, "\n"); rb.Title != "" && strings.TrimSpace(strings.TrimLeft(first, "#")) == rb.Title {
		body = rest // the title, already said
	}
	b.WriteString(incident.Clip(slackMarkdown(body), maxRunbookAnswer))
	return Reply{Text: strings.TrimRight(b.String(), "\n")}
}

// Compiled at first use, not at package initialisation: every Lambda function links this package
// and would pay for it at each cold start, used or not.
var (
	mdBold = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\*\*([^*\n]+)\*\*`) })
	mdLink = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\[([^\]\n]+)\]\(([^)\s]+)\)`) })
)

// slackMarkdown turns a runbook body's Markdown into Slack mrkdwn: paragraphs wrapped in the
// file are joined (Slack would show every line break), a heading or **bold** becomes *bold*, a link
// to a web page <url|text>, a link to a file of the repository only its text (it means nothing in
// Slack), and <, > and & are escaped.
func slackMarkdown(md string) string {
	out := mdLink().ReplaceAllStringFunc(unwrap(md), func(m string) string {
		p := mdLink().FindStringSubmatch(m)
		if strings.HasPrefix(p[2], "https://") {
			return "\x00" + p[2] + "|" + p[1] + "\x01"
		}
		return p[1]
	})
	out = mdBold().ReplaceAllString(esc(out), "*$1*")
	return strings.NewReplacer("\x00", "<", "\x01", ">").Replace(out)
}

var mdBlockStart = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(\d+\.|[-*+>|]|#+) `) })

// unwrap joins the lines of each Markdown paragraph or list item, keeps blank lines, and turns
// headings into bold lines.
func unwrap(md string) string {
	var b strings.Builder
	prevText := false
	for _, line := range strings.Split(strings.TrimSpace(md), "\n") {
		t := strings.TrimSpace(line)
		switch {
		case t == "":
			b.WriteString("\n\n")
			prevText = false
			continue
		case strings.HasPrefix(t, "#"):
			if prevText {
				b.WriteString("\n")
			}
			b.WriteString("**" + strings.TrimSpace(strings.TrimLeft(t, "#")) + "**")
		case prevText && !mdBlockStart().MatchString(t):
			b.WriteString(" " + t)
		default:
			if prevText {
				b.WriteString("\n")
			}
			b.WriteString(t)
		}
		prevText = true
	}
	return strings.ReplaceAll(b.String(), "\n\n\n\n", "\n\n")
}

func causeList() string {
	var cs []string
	for _, c := range classify.Causes {
		if c != classify.Expected {
			cs = append(cs, "`"+string(c)+"`")
		}
	}
	return strings.Join(cs, ", ")
}
