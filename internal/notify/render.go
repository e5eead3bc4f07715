package notify

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"sync"

	"github.com/aws/smithy-go"

	"github.com/ecs-medic/ecs-medic/internal/classify"
	"github.com/ecs-medic/ecs-medic/internal/event"
	"github.com/ecs-medic/ecs-medic/internal/incident"
)

// Where words for people are made, once for every receiver.

// Subject names what the incident is about: "checkout (prod)" or "alarm checkout-5xx".
func Subject(inc *incident.Incident) string {
	if inc.Scope.Alarm != "" {
		return "alarm " + inc.Scope.Alarm
	}
	return fmt.Sprintf("%s (%s)", inc.Scope.Service, inc.Scope.Cluster)
}

// CauseWords is the cause as responders know it: the SOP-002 checklist item where there is one.
func CauseWords(inc *incident.Incident) string {
	words := inc.Cause.SOPItem()
	if words == "" {
		words = inc.Cause.Title()
	}
	if inc.Sub != "" {
		words += " (" + inc.Sub + ")"
	}
	return words
}

// StateWords describes the service's state: "all 4 tasks down", "1/4 tasks running".
func StateWords(inc *incident.Incident) string {
	s := inc.ServiceState
	switch {
	case s == nil && inc.StateError != "":
		return "service state unknown"
	case s == nil:
		return ""
	case s.Desired > 0 && s.Running == 0:
		return fmt.Sprintf("all %d tasks down", s.Desired)
	default:
		return fmt.Sprintf("%d/%d tasks running", s.Running, s.Desired)
	}
}

// Summary is the one line a responder acts on, e.g.
// "checkout (prod): all 4 tasks down — OOMKilled, container api, memory 512 MiB".
func Summary(inc *incident.Incident) string {
	var b strings.Builder
	b.WriteString(Subject(inc))
	if st := StateWords(inc); st != "" {
		b.WriteString(": " + st)
	}
	b.WriteString(" — " + CauseWords(inc))
	if d := inc.Diagnosis; d != nil && d.Container != "" {
		b.WriteString(", container " + d.Container)
		if d.ExitCode != nil && inc.Cause != classify.OOMKilled {
			fmt.Fprintf(&b, " (exit %d)", *d.ExitCode)
		}
	}
	if inc.Cause == classify.OOMKilled && inc.Facts.Memory != "" {
		b.WriteString(", memory " + inc.Facts.Memory + " MiB")
	}
	if inc.Scope.Alarm == "" && len(inc.Alarms) > 0 {
		b.WriteString(" " + strings.Join(inc.Alarms, ", ")) // a service's own alarms
	}
	if (inc.Scope.Alarm != "" || inc.Facts.Alarm != "") && inc.Facts.Reason != "" {
		b.WriteString(": " + inc.Facts.Reason)
	}
	s := b.String()
	if len(s) > 1024 { // PagerDuty's limit on summary
		s = s[:1021] + "..."
	}
	return s
}

// Link is a place a responder goes next.
type Link struct {
	Text string `json:"text"`
	URL  string `json:"href"`
}

// Links are the console pages for the incident: the service, the stopped task, its log stream,
// or the alarm.
func Links(inc *incident.Incident) []Link {
	region := inc.Scope.Region
	console := fmt.Sprintf("https://%s.console.aws.amazon.com", region)
	var out []Link
	if inc.Scope.Alarm != "" {
		if inc.Runbook != "" {
			out = append(out, Link{Text: "Runbook", URL: RunbookURL(inc)})
		}
		return append(out, Link{Text: "CloudWatch alarm", URL: fmt.Sprintf("%s/cloudwatch/home?region=%s#alarmsV2:alarm/%s", console, region, url.PathEscape(inc.Scope.Alarm))})
	}
	if a := inc.Facts.Alarm; a != "" && inc.Scope.IsService() {
		out = append(out, Link{Text: "CloudWatch alarm", URL: fmt.Sprintf("%s/cloudwatch/home?region=%s#alarmsV2:alarm/%s", console, region, url.PathEscape(a))})
	}
	if inc.Scope.IsService() {
		out = append(out, Link{Text: "ECS service", URL: fmt.Sprintf("%s/ecs/v2/clusters/%s/services/%s/health?region=%s",
			console, url.PathEscape(inc.Scope.Cluster), url.PathEscape(inc.Scope.Service), region)})
	}
	if task := inc.Facts.TaskArn; task != "" {
		id := event.ResourceName(task)
		out = append(out, Link{Text: "Stopped task", URL: fmt.Sprintf("%s/ecs/v2/clusters/%s/tasks/%s/configuration?region=%s",
			console, url.PathEscape(inc.Scope.Cluster), id, region)})
	}
	if inc.Runbook != "" {
		out = append(out, Link{Text: "Runbook", URL: RunbookURL(inc)})
	}
	if inc.Facts.LogGroup != "" && inc.Facts.LogStream != "" {
		// The console's own escaping of log group and stream names in its URL fragment.
		esc := func(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "%", "$25") }
		out = append(out, Link{Text: "Container log", URL: fmt.Sprintf("%s/cloudwatch/home?region=%s#logsV2:log-groups/log-group/%s/log-events/%s",
			console, region, esc(inc.Facts.LogGroup), esc(inc.Facts.LogStream))})
	}
	return out
}

// RunbookBase is where the shipped runbooks are rendered (the project's repository).
const RunbookBase = "https://github.com/ecs-medic/ecs-medic/blob/main/runbooks/"

// RunbookURL links the incident's runbook.
func RunbookURL(inc *incident.Incident) string { return RunbookBase + inc.Runbook + ".md" }

// SlackEscape makes text safe for Slack's mrkdwn and plain text: &, < and > are escaped, the only
// characters Slack requires escaping, and the ones its control sequences are made of (<!channel>,
// <!here>, <@U123> mentions, <https://evil|runbook> disguised links). Everything that did not come
// from ecs-medic itself goes through it: container and alarm reasons (anyone with
// cloudwatch:SetAlarmState writes those), service names, log lines, silence reasons.
// https://api.slack.com/reference/surfaces/formatting#escaping
func SlackEscape(s string) string { return slackEscaper.Replace(s) }

var slackEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// SlackLink renders a link for mrkdwn: the URL escaped, and a '|' in it (which would end the URL
// and start the link's text) percent-encoded.
func SlackLink(u, text string) string {
	return "<" + strings.ReplaceAll(SlackEscape(u), "|", "%7C") + "|" + SlackEscape(text) + ">"
}

// SlackActor renders who did something: a Slack user recorded by id ("slack:U0123ABC") as a
// mention Slack displays as the user's name; anything else escaped.
func SlackActor(actor string) string {
	if id, ok := strings.CutPrefix(actor, "slack:"); ok && slackUserID().MatchString(id) {
		return "<@" + id + ">"
	}
	return SlackEscape(actor)
}

// Compiled at first use, not at package initialisation: every Lambda function links this package
// and would pay for it at each cold start, used or not.
var slackUserID = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[UW][A-Z0-9]{2,20}$`) })

// Reason says why a call failed in words for people: the error's own context, then AWS's error
// code and message — without the SDK's operation name, HTTP status and request id — or that AWS
// did not answer at all.
func Reason(err error) string {
	msg := err.Error()
	var api smithy.APIError
	isAPI := errors.As(err, &api)
	i := strings.Index(msg, "operation error ")
	switch {
	case i < 0 && isAPI:
		return incident.Clip(api.ErrorCode()+": "+strings.TrimSuffix(api.ErrorMessage(), "."), 300)
	case i < 0:
		return incident.Clip(msg, 300)
	case isAPI:
		return incident.Clip(msg[:i]+api.ErrorCode()+": "+strings.TrimSuffix(api.ErrorMessage(), "."), 300)
	default:
		return incident.Clip(msg[:i]+"AWS did not answer (network, or an endpoint that cannot be reached)", 300)
	}
}
