package slack

import (
	"fmt"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/ecs-medic/ecs-medic/internal/deployment"
	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/notify"
)

// Action ids of the incident message's buttons (and of the block holding them); the Slack request
// handler (chatops) acts on them.
const (
	ActionBlock       = "medic_actions"
	ActionAcknowledge = "medic_ack"
	ActionRunFix      = "medic_fix"
	ActionRollback    = "medic_rollback"
	ActionResolve     = "medic_resolve"
)

func marker(inc *incident.Incident) string {
	if inc.State == incident.Resolved {
		return ":white_check_mark:"
	}
	return SeverityEmoji(inc.Severity)
}

func clock(t time.Time) string { return t.UTC().Format("15:04 UTC") }

// Blocks renders the incident's message. Exported for golden tests.
func Blocks(inc *incident.Incident) []slackapi.Block {
	// Every text that came from an event or a user is escaped: names, reasons, log lines (esc for
	// mrkdwn; plain for the plain-text header, which Slack shows verbatim).
	subject, cause := plain(notify.Subject(inc)), plain(notify.CauseWords(inc))
	header := fmt.Sprintf("%s %s %s — %s", marker(inc), inc.Severity, subject, cause)
	if inc.State == incident.Resolved {
		header = fmt.Sprintf("%s Resolved: %s — %s", marker(inc), subject, cause)
	}
	cause = esc(notify.CauseWords(inc))
	blocks := []slackapi.Block{
		slackapi.NewHeaderBlock(slackapi.NewTextBlockObject(slackapi.PlainTextType, Truncate(header, 150), true, false)),
	}

	state := string(inc.State)
	switch {
	case inc.State == incident.Acknowledged:
		state = fmt.Sprintf("acknowledged by %s at %s", notify.SlackActor(inc.AcknowledgedBy), clock(*inc.AcknowledgedAt))
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
		svc := fmt.Sprintf("*Service*\n`%s/%s`", esc(inc.Scope.Cluster), esc(inc.Scope.Service))
		if st := notify.StateWords(inc); st != "" {
			svc += " — " + st
		}
		fields = append(fields, mrkdwn(svc))
	} else {
		fields = append(fields, mrkdwn(fmt.Sprintf("*Alarm*\n`%s`", esc(inc.Scope.Alarm))))
	}
	causeField := fmt.Sprintf("*Cause*\n%s (`%s`, %s)", cause, esc(string(inc.Cause)), inc.Confidence)
	if item := inc.Cause.SOPItem(); item != "" {
		causeField += "\nSOP-002: " + item
	}
	fields = append(fields, mrkdwn(causeField))
	if d := inc.Diagnosis; d != nil && d.Container != "" {
		c := "*Container*\n`" + esc(d.Container) + "`"
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
		blocks = append(blocks, slackapi.NewSectionBlock(mrkdwn("*Evidence*\n```"+Truncate(esc(strings.Join(inc.Occurrences.Evidence, "\n")), 2800)+"```"), nil, nil))
	}
	if plan := suggestion(inc); plan != "" && inc.State.Active() {
		blocks = append(blocks, slackapi.NewSectionBlock(mrkdwn(Truncate("*Suggested fix*\n"+esc(plan), 2900)), nil, nil))
	}
	if d := inc.Deployment; d != nil {
		what := deployment.Revision(d.From) + " → " + deployment.Revision(d.To)
		if d.From == "" {
			what = deployment.Revision(d.To) + " (the revision before it is not known)"
		}
		text := "*Likely bad deploy*\n" + esc(fmt.Sprintf("%s, started %s before the first failure", what, d.After.Round(time.Second)))
		for _, c := range d.Changes {
			text += "\n• " + esc(c)
		}
		if d.Rollback {
			text += "\nRollback returns the service to " + deployment.Revision(d.From) + "."
		} else {
			text += "\n:warning: " + esc(d.RollbackHelp)
		}
		blocks = append(blocks, slackapi.NewSectionBlock(mrkdwn(Truncate(text, 2900)), nil, nil))
	}
	switch {
	case len(inc.LogLines) > 0:
		blocks = append(blocks, slackapi.NewSectionBlock(mrkdwn("*Last log lines*\n```"+Truncate(esc(strings.Join(inc.LogLines, "\n")), 2800)+"```"), nil, nil))
	case inc.LogError != "":
		blocks = append(blocks, slackapi.NewContextBlock("", mrkdwn("Container log unavailable: "+Truncate(esc(inc.LogError), 2800))))
	}

	var ctx []slackapi.MixedElement
	for _, l := range notify.Links(inc) {
		ctx = append(ctx, mrkdwn(notify.SlackLink(l.URL, l.Text)))
	}
	ctx = append(ctx, mrkdwn("`"+esc(inc.ID)+"`"))
	blocks = append(blocks, slackapi.NewContextBlock("", ctx...))

	if inc.State.Active() {
		var buttons []slackapi.BlockElement
		if inc.State == incident.Open {
			buttons = append(buttons, button(ActionAcknowledge, "Acknowledge", inc.ID, ""))
		}
		if inc.Fix != "" && inc.AutomationStopped == "" {
			buttons = append(buttons, button(ActionRunFix, "Run fix: "+esc(inc.Fix), inc.ID, "primary"))
		}
		if inc.Scope.IsService() && (inc.Deployment == nil || inc.Deployment.Rollback) {
			buttons = append(buttons, button(ActionRollback, "Rollback", inc.ID, ""))
		}
		buttons = append(buttons, button(ActionResolve, "Resolve", inc.ID, ""))
		blocks = append(blocks, slackapi.NewActionBlock(ActionBlock, buttons...))
	}
	return blocks
}

// suggestion is the plan of the last fix medic suggested (runbook mode suggest) and no one ran
// yet: what Run fix would do, and what it costs.
func suggestion(inc *incident.Incident) string {
	if inc.Fix == "" || inc.AutomationStopped != "" {
		return ""
	}
	for i := len(inc.Timeline) - 1; i >= 0; i-- {
		switch e := inc.Timeline[i]; e.Kind {
		case incident.KindAction, incident.KindActionFailed:
			return ""
		case incident.KindActionConsidered:
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

func esc(s string) string { return notify.SlackEscape(s) }

// plain makes text safe for a plain_text object: Slack renders it verbatim (an entity would show
// as "&lt;"), so the angle brackets its control sequences need become look-alike quotes.
func plain(s string) string { return plainer.Replace(s) }

var plainer = strings.NewReplacer("<", "‹", ">", "›")

// Fallback is the message's plain text, shown in notifications and to screen readers.
func Fallback(kind notify.Kind, inc *incident.Incident) string {
	if inc.State == incident.Resolved {
		return "Resolved: " + esc(notify.Summary(inc))
	}
	return fmt.Sprintf("%s %s", inc.Severity, esc(notify.Summary(inc)))
}

// ThreadReply is the reply posted under the message for a turning point, "" for none.
func ThreadReply(kind notify.Kind, inc *incident.Incident) string {
	switch kind {
	case notify.Raised:
		return fmt.Sprintf(":arrow_up: Severity raised to *%s*: %s. Respond by %s.", inc.Severity, notify.StateWords(inc), clock(inc.SLADeadline))
	case notify.Escalated:
		return escalatedReply(inc)
	case notify.Acknowledged:
		return fmt.Sprintf(":eyes: Acknowledged by %s.", notify.SlackActor(inc.AcknowledgedBy))
	case notify.Action:
		for i := len(inc.Timeline) - 1; i >= 0; i-- {
			if e := inc.Timeline[i]; e.Kind.IsAction() {
				icon := map[incident.EntryKind]string{incident.KindAction: ":wrench:", incident.KindActionPlanned: ":memo:", incident.KindActionSkipped: ":no_entry_sign:", incident.KindActionFailed: ":x:"}[e.Kind]
				return fmt.Sprintf("%s %s (%s)", icon, esc(e.Message), notify.SlackActor(e.Actor))
			}
		}
		return ""
	case notify.Resolved:
		for i := len(inc.Timeline) - 1; i >= 0; i-- {
			if e := inc.Timeline[i]; e.Kind == incident.KindResolved {
				return ":white_check_mark: " + esc(strings.ToUpper(e.Message[:1])+e.Message[1:]) + " (" + notify.SlackActor(e.Actor) + ")."
			}
		}
		return ":white_check_mark: Resolved."
	}
	return ""
}

// escalatedReply says in the thread that the incident escalated, and what to do about it.
func escalatedReply(inc *incident.Incident) string {
	// The newest escalation or relapse says why.
latest:
	for i := len(inc.Timeline) - 1; i >= 0; i-- {
		switch e := inc.Timeline[i]; {
		case e.Kind == incident.KindRelapse && inc.AutomationStopped != "":
			return ":rotating_light: *Escalated*: the cause recurred after the fix; automation is stopped for this incident. Acknowledge it and take over."
		case e.Kind == incident.KindEscalated && strings.Contains(e.Message, "fix was not effective"):
			return ":rotating_light: *Escalated*: the fix did not bring the service back in time; automation is stopped for this incident. Acknowledge it and take over."
		case e.Kind == incident.KindEscalated:
			break latest // the response time passed: said below
		}
	}
	return fmt.Sprintf(":rotating_light: *Escalated*: not acknowledged within the %s response time of a %s. "+
		"Whoever takes it: press Acknowledge above, or `/medic ack %s`.",
		incident.HumanDuration(inc.Severity.SLA()), inc.Severity, esc(inc.ID))
}
