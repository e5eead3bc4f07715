package slack

import (
	"fmt"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"
	"github.com/slack-go/slack/slackutilsx"

	"github.com/ecs-medic/ecs-medic/internal/deployment"
	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/notify"
	"github.com/ecs-medic/ecs-medic/internal/severity"
)

// Action ids of the incident message's buttons; the Slack request handler (chatops) acts on them.
const (
	ActionAcknowledge = "medic_ack"
	ActionRunFix      = "medic_fix"
	ActionRollback    = "medic_rollback"
	ActionResolve     = "medic_resolve"
)

func marker(inc *incident.Incident) string {
	switch {
	case inc.State == incident.Resolved:
		return ":white_check_mark:"
	case inc.Severity == severity.P1:
		return ":red_circle:"
	case inc.Severity == severity.P2:
		return ":large_orange_circle:"
	default:
		return ":large_yellow_circle:"
	}
}

func clock(t time.Time) string { return t.UTC().Format("15:04 UTC") }

// Blocks renders the incident's message. Exported for golden tests.
func Blocks(inc *incident.Incident) []slackapi.Block {
	header := fmt.Sprintf("%s %s %s — %s", marker(inc), inc.Severity, notify.Subject(inc), notify.CauseWords(inc))
	if inc.State == incident.Resolved {
		header = fmt.Sprintf("%s Resolved: %s — %s", marker(inc), notify.Subject(inc), notify.CauseWords(inc))
	}
	blocks := []slackapi.Block{
		slackapi.NewHeaderBlock(slackapi.NewTextBlockObject(slackapi.PlainTextType, truncate(header, 150), true, false)),
	}

	state := string(inc.State)
	switch {
	case inc.State == incident.Acknowledged:
		state = fmt.Sprintf("acknowledged by %s at %s", inc.AcknowledgedBy, clock(*inc.AcknowledgedAt))
	case inc.State == incident.Resolved && inc.ResolvedAt != nil:
		state = "resolved at " + clock(*inc.ResolvedAt)
	case inc.Escalated:
		state = "open, *escalated*: not acknowledged in time"
	}
	fields := []*slackapi.TextBlockObject{
		mrkdwn(fmt.Sprintf("*Severity*\n%s, respond by %s", inc.Severity, clock(inc.SLADeadline))),
		mrkdwn("*State*\n" + state),
	}
	if inc.Scope.Alarm == "" {
		svc := fmt.Sprintf("*Service*\n`%s/%s`", inc.Scope.Cluster, inc.Scope.Service)
		if st := notify.StateWords(inc); st != "" {
			svc += " — " + st
		}
		fields = append(fields, mrkdwn(svc))
	} else {
		fields = append(fields, mrkdwn(fmt.Sprintf("*Alarm*\n`%s`", inc.Scope.Alarm)))
	}
	cause := fmt.Sprintf("*Cause*\n%s (`%s`, %s)", notify.CauseWords(inc), inc.Cause, inc.Confidence)
	if item := inc.Cause.SOPItem(); item != "" {
		cause += "\nSOP-002: " + item
	}
	fields = append(fields, mrkdwn(cause))
	if d := inc.Diagnosis; d != nil && d.Container != "" {
		c := "*Container*\n`" + d.Container + "`"
		if d.ExitCode != nil {
			c += fmt.Sprintf(" exit %d", *d.ExitCode)
		}
		fields = append(fields, mrkdwn(c))
	}
	occ := fmt.Sprintf("*Occurrences*\n%d since %s (last %s)", inc.Occurrences.Count, clock(inc.Occurrences.FirstSeen), clock(inc.Occurrences.LastSeen))
	if inc.Flapping() {
		occ += fmt.Sprintf("\n*flapping*: recovered and failed again %d times", inc.Flaps)
	}
	fields = append(fields, mrkdwn(occ))
	blocks = append(blocks, slackapi.NewSectionBlock(nil, fields, nil))

	if len(inc.Occurrences.Evidence) > 0 {
		blocks = append(blocks, slackapi.NewSectionBlock(mrkdwn("*Evidence*\n```"+truncate(strings.Join(inc.Occurrences.Evidence, "\n"), 2800)+"```"), nil, nil))
	}
	if plan := suggestion(inc); plan != "" && inc.State.Active() {
		blocks = append(blocks, slackapi.NewSectionBlock(mrkdwn(truncate("*Suggested fix*\n"+slackutilsx.EscapeMessage(plan), 2900)), nil, nil))
	}
	if d := inc.Deployment; d != nil {
		what := deployment.Revision(d.From) + " → " + deployment.Revision(d.To)
		if d.From == "" {
			what = deployment.Revision(d.To) + " (the revision before it is not known)"
		}
		text := "*Likely bad deploy*\n" + slackutilsx.EscapeMessage(fmt.Sprintf("%s, started %s before the first failure", what, d.After.Round(time.Second)))
		for _, c := range d.Changes {
			text += "\n• " + slackutilsx.EscapeMessage(c)
		}
		if d.Rollback {
			text += "\nRollback returns the service to " + deployment.Revision(d.From) + "."
		} else {
			text += "\n:warning: " + slackutilsx.EscapeMessage(d.RollbackHelp)
		}
		blocks = append(blocks, slackapi.NewSectionBlock(mrkdwn(truncate(text, 2900)), nil, nil))
	}
	switch {
	case len(inc.LogLines) > 0:
		blocks = append(blocks, slackapi.NewSectionBlock(mrkdwn("*Last log lines*\n```"+truncate(strings.Join(inc.LogLines, "\n"), 2800)+"```"), nil, nil))
	case inc.LogError != "":
		blocks = append(blocks, slackapi.NewContextBlock("", mrkdwn("Container log unavailable: "+inc.LogError)))
	}

	var ctx []slackapi.MixedElement
	for _, l := range notify.Links(inc) {
		ctx = append(ctx, mrkdwn(fmt.Sprintf("<%s|%s>", l.URL, l.Text)))
	}
	ctx = append(ctx, mrkdwn("`"+inc.ID+"`"))
	blocks = append(blocks, slackapi.NewContextBlock("", ctx...))

	if inc.State.Active() {
		var buttons []slackapi.BlockElement
		if inc.State == incident.Open {
			buttons = append(buttons, button(ActionAcknowledge, "Acknowledge", inc.ID, ""))
		}
		if inc.Fix != "" && inc.Stopped == "" {
			buttons = append(buttons, button(ActionRunFix, "Run fix: "+inc.Fix, inc.ID, "primary"))
		}
		if inc.Scope.IsService() && (inc.Deployment == nil || inc.Deployment.Rollback) {
			buttons = append(buttons, button(ActionRollback, "Rollback", inc.ID, ""))
		}
		buttons = append(buttons, button(ActionResolve, "Resolve", inc.ID, ""))
		blocks = append(blocks, slackapi.NewActionBlock("medic_actions", buttons...))
	}
	return blocks
}

// suggestion is the plan of the last fix medic suggested (runbook mode suggest) and no one ran
// yet: what Run fix would do, and what it costs.
func suggestion(inc *incident.Incident) string {
	if inc.Fix == "" || inc.Stopped != "" {
		return ""
	}
	for i := len(inc.Timeline) - 1; i >= 0; i-- {
		switch e := inc.Timeline[i]; e.Kind {
		case "action", "action-failed":
			return ""
		case "action-considered":
			if _, plan, ok := strings.Cut(e.Message, ": would "); ok {
				return plan
			}
			return ""
		}
	}
	return ""
}

func button(action, text, value, style string) *slackapi.ButtonBlockElement {
	b := slackapi.NewButtonBlockElement(action, value, slackapi.NewTextBlockObject(slackapi.PlainTextType, text, false, false))
	if style != "" {
		b.Style = slackapi.Style(style)
	}
	return b
}

func mrkdwn(s string) *slackapi.TextBlockObject {
	return slackapi.NewTextBlockObject(slackapi.MarkdownType, s, false, false)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

// Fallback is the message's plain text, shown in notifications and to screen readers.
func Fallback(kind notify.Kind, inc *incident.Incident) string {
	if inc.State == incident.Resolved {
		return "Resolved: " + notify.Summary(inc)
	}
	return fmt.Sprintf("%s %s", inc.Severity, notify.Summary(inc))
}

// ThreadReply is the reply posted under the message for a turning point, "" for none.
func ThreadReply(kind notify.Kind, inc *incident.Incident) string {
	switch kind {
	case notify.Raised:
		return fmt.Sprintf(":arrow_up: Severity raised to *%s*: %s. Respond by %s.", inc.Severity, notify.StateWords(inc), clock(inc.SLADeadline))
	case notify.Escalated:
		return fmt.Sprintf(":rotating_light: *Escalated*: not acknowledged within the %s SLA of a %s. Paged again.", inc.Severity.SLA(), inc.Severity)
	case notify.Acknowledged:
		return fmt.Sprintf(":eyes: Acknowledged by %s.", inc.AcknowledgedBy)
	case notify.Action:
		for i := len(inc.Timeline) - 1; i >= 0; i-- {
			if e := inc.Timeline[i]; strings.HasPrefix(e.Kind, "action") {
				icon := map[string]string{"action": ":wrench:", "action-planned": ":memo:", "action-skipped": ":no_entry_sign:", "action-failed": ":x:"}[e.Kind]
				return fmt.Sprintf("%s %s (%s)", icon, e.Message, e.Actor)
			}
		}
		return ""
	case notify.Resolved:
		for i := len(inc.Timeline) - 1; i >= 0; i-- {
			if e := inc.Timeline[i]; e.Kind == "resolved" {
				return ":white_check_mark: " + strings.ToUpper(e.Message[:1]) + e.Message[1:] + " (" + e.Actor + ")."
			}
		}
		return ":white_check_mark: Resolved."
	}
	return ""
}
