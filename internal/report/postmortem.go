package report

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/ecs-medic/ecs-medic/internal/classify"
	"github.com/ecs-medic/ecs-medic/internal/event"
	"github.com/ecs-medic/ecs-medic/internal/incident"
)

// deploymentWindow is how long before an incident opened a deployment still counts as "in the
// window": a bad release usually shows within its first minutes, and the first 15 minutes after a
// deploy are the ones a team watches.
const deploymentWindow = 30 * time.Minute

// WritePostmortem writes a Markdown postmortem draft of one incident, from what the store kept:
// summary, impact, timeline, evidence and log lines, deployments in the window, the fixes taken
// and skipped, the SLA outcome, and the questions a review should answer. now is the time the
// draft is written (an open incident's duration runs to it).
func WritePostmortem(w io.Writer, inc *incident.Incident, now time.Time) error {
	b := &strings.Builder{}
	ts := func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") }
	end, ended := now, false
	if inc.ResolvedAt != nil {
		end, ended = *inc.ResolvedAt, true
	}

	fmt.Fprintf(b, "# Postmortem draft: %s\n\n", mdText(inc.Title))
	fmt.Fprintf(b, "Incident `%s` · %s · account %s · %s · drafted by ecs-medic at %s UTC: check every line before you share it.\n\n",
		inc.ID, mdText(inc.Scope.Name()), inc.Scope.Account, inc.Scope.Region, ts(now))

	b.WriteString("## Summary\n\n")
	fmt.Fprintf(b, "%s on %s: %s", causeWords(inc), mdText(inc.Scope.Name()), severityWords(inc))
	fmt.Fprintf(b, " It opened at %s UTC", ts(inc.OpenedAt))
	if inc.AcknowledgedAt != nil {
		fmt.Fprintf(b, ", was acknowledged by %s after %s", mdText(actorName(inc.AcknowledgedBy)), incident.HumanDuration(inc.AcknowledgedAt.Sub(inc.OpenedAt)))
	}
	if ended {
		fmt.Fprintf(b, " and was resolved after %s (%s).\n\n", incident.HumanDuration(end.Sub(inc.OpenedAt)), mdText(resolution(inc)))
	} else {
		fmt.Fprintf(b, " and is still %s after %s.\n\n", inc.State, incident.HumanDuration(now.Sub(inc.OpenedAt)))
	}
	if d := inc.Diagnosis; d != nil {
		fmt.Fprintf(b, "Diagnosis: `%s`", d.Cause)
		if d.Sub != "" {
			fmt.Fprintf(b, " / `%s`", d.Sub)
		}
		fmt.Fprintf(b, " (%s", d.Confidence)
		if d.Container != "" {
			fmt.Fprintf(b, ", container `%s`", mdCode(d.Container))
		}
		if d.ExitCode != nil {
			fmt.Fprintf(b, ", exit code %d", *d.ExitCode)
		}
		fmt.Fprintf(b, ", rule `%s`).\n\n", d.Rule)
	}

	b.WriteString("## Impact\n\n")
	fmt.Fprintf(b, "- Severity: %s (respond within %s)\n", severityName(inc.Severity), incident.HumanDuration(inc.Severity.SLA()))
	if ended {
		fmt.Fprintf(b, "- Duration: %s (opened → resolved)\n", incident.HumanDuration(end.Sub(inc.OpenedAt)))
	} else {
		fmt.Fprintf(b, "- Duration: %s so far (still %s)\n", incident.HumanDuration(now.Sub(inc.OpenedAt)), inc.State)
	}
	if isTaskCause(inc.Cause) {
		fmt.Fprintf(b, "- Tasks lost: %d stopped task(s) reported", inc.Occurrences.Count)
		if n := inc.Suppressed["duplicate"]; n > 0 {
			fmt.Fprintf(b, " (%d redelivered event(s) not counted)", n)
		}
		b.WriteString("\n")
	} else {
		fmt.Fprintf(b, "- Signals: %d event(s) reported it\n", inc.Occurrences.Count)
	}
	if inc.Flaps > 0 {
		fmt.Fprintf(b, "- Flapping: the service recovered and failed again %d time(s) within this incident\n", inc.Flaps)
	}
	if below, ok := belowDesired(inc, now); ok {
		if inc.RecoveringSince == nil && inc.ResolvedAt == nil {
			fmt.Fprintf(b, "- Time below the desired count: %s so far (since the first failure; not back yet)\n", incident.HumanDuration(below))
		} else {
			fmt.Fprintf(b, "- Time below the desired count: about %s (first failure → the service back at its desired count)\n", incident.HumanDuration(below))
		}
	}
	if s := inc.ServiceState; s != nil {
		fmt.Fprintf(b, "- Last state read: %d/%d running, %d pending, on %s", s.Running, s.Desired, s.Pending, revision(s.TaskDefinition))
		if !s.ReadAt.IsZero() {
			fmt.Fprintf(b, " (read %s UTC)", ts(s.ReadAt))
		}
		b.WriteString("\n")
	} else if inc.StateError != "" {
		fmt.Fprintf(b, "- The service's state could not be read: %s\n", mdText(inc.StateError))
	}
	b.WriteString("\n")

	b.WriteString("## Timeline (UTC)\n\n| time | who | what |\n|---|---|---|\n")
	if !inc.Occurrences.FirstSeen.IsZero() && inc.Occurrences.FirstSeen.Before(inc.OpenedAt) {
		fmt.Fprintf(b, "| %s | aws.ecs | first failure reported by ECS |\n", ts(inc.Occurrences.FirstSeen))
	}
	for i, e := range inc.Timeline {
		if i == 1 && inc.TimelineDropped > 0 {
			fmt.Fprintf(b, "| … | | %d older entries were dropped to keep the record bounded |\n", inc.TimelineDropped)
		}
		fmt.Fprintf(b, "| %s | %s | %s |\n", ts(e.At), mdCell(e.Actor), mdCell(e.Message))
	}
	b.WriteString("\n")

	b.WriteString("## Evidence\n\n")
	f := inc.Facts
	shown := map[string]bool{}
	for _, kv := range [][2]string{
		{"Stopped reason", f.StoppedReason}, {"Stop code", f.StopCode}, {"Reason", f.Reason},
		{"Task", f.TaskArn}, {"Task definition", f.TaskDefinition}, {"Launch type", f.LaunchType},
	} {
		if kv[1] != "" {
			fmt.Fprintf(b, "- %s: `%s`\n", kv[0], mdCode(kv[1]))
			shown[kv[1]] = true
		}
	}
	if f.CPU != "" || f.Memory != "" {
		fmt.Fprintf(b, "- Task size: %s CPU units, %s MiB\n", orDash(f.CPU), orDash(f.Memory))
	}
	if d := inc.Diagnosis; d != nil {
		for _, e := range d.Evidence {
			if !shown[e.Value] {
				fmt.Fprintf(b, "- `%s`: `%s`\n", mdCode(e.Field), mdCode(e.Value))
				shown[e.Value] = true
			}
		}
	}
	var others []string
	for _, e := range inc.Occurrences.Evidence {
		if !shown[e] {
			others = append(others, e)
		}
	}
	if len(others) > 0 {
		b.WriteString("- Other texts seen in this incident:\n")
		for _, e := range others {
			fmt.Fprintf(b, "  - `%s`\n", mdCode(e))
		}
	}
	if len(inc.Occurrences.Tasks) > 0 {
		fmt.Fprintf(b, "- Last tasks: %s\n", strings.Join(inc.Occurrences.Tasks, ", "))
	}
	if len(inc.LogLines) > 0 {
		fmt.Fprintf(b, "\nLast log lines of the failed container (`%s`):\n\n```\n", mdCode(f.LogGroup))
		for _, l := range inc.LogLines {
			b.WriteString(strings.ReplaceAll(l, "```", "'''") + "\n")
		}
		b.WriteString("```\n")
	} else if inc.LogError != "" {
		fmt.Fprintf(b, "- No log lines: %s\n", mdText(inc.LogError))
	}
	b.WriteString("\n")

	b.WriteString("## Deployments in the window\n\n")
	if d := inc.Deployment; d != nil {
		fmt.Fprintf(b, "**%s.**\n\n", mdText(strings.ToUpper(d.Summary()[:1])+d.Summary()[1:]))
		if !d.Rollback {
			fmt.Fprintf(b, "Rollback through ECS was not possible: %s.\n\n", mdText(d.RollbackHelp))
		}
	}
	deps := deployments(inc, end)
	if len(deps) == 0 && inc.Deployment == nil {
		b.WriteString("None recorded from 30 minutes before the incident opened to its end.\n")
	}
	for _, d := range deps {
		fmt.Fprintf(b, "- %s\n", d)
	}
	if revs := inc.Occurrences.TaskDefinitions; len(revs) > 0 {
		names := make([]string, len(revs))
		for i, r := range revs {
			names[i] = "`" + revision(r) + "`"
		}
		fmt.Fprintf(b, "- Revisions the failing tasks ran: %s\n", strings.Join(names, ", "))
	}
	b.WriteString("\n")

	b.WriteString("## Actions\n\n")
	taken, other := actions(inc)
	if len(taken)+len(other) == 0 {
		b.WriteString("No fix was applied or considered.\n")
	}
	for _, e := range taken {
		fmt.Fprintf(b, "- Applied at %s by %s: %s\n", ts(e.At), mdText(actorName(e.Actor)), mdText(e.Message))
	}
	for _, e := range other {
		fmt.Fprintf(b, "- %s at %s (%s): %s\n", actionVerb(e.Kind), ts(e.At), mdText(actorName(e.Actor)), mdText(e.Message))
	}
	if inc.AutomationStopped != "" {
		fmt.Fprintf(b, "- Automation was stopped for this incident: %s\n", mdText(inc.AutomationStopped))
	}
	b.WriteString("\n")

	b.WriteString("## SLA\n\n")
	outcome := SLAOutcome(inc, now)
	fmt.Fprintf(b, "Respond within %s, by %s UTC: ", incident.HumanDuration(inc.Severity.SLA()), ts(inc.SLADeadline))
	switch at := answeredAt(inc); {
	case outcome == SLAPending:
		b.WriteString("not answered yet, still inside the deadline.\n")
	case at == nil:
		b.WriteString("**missed**: nobody acknowledged it by the deadline.\n")
	case inc.AcknowledgedAt != nil:
		fmt.Fprintf(b, "**%s**: acknowledged at %s UTC, %s after it opened.\n", outcome, ts(*at), incident.HumanDuration(at.Sub(inc.OpenedAt)))
	default:
		fmt.Fprintf(b, "**%s**: resolved at %s UTC before anyone acknowledged it.\n", outcome, ts(*at))
	}
	if inc.Escalated {
		b.WriteString("The incident was escalated.\n")
	}
	b.WriteString("\n")

	b.WriteString("## Questions for the review\n\n")
	for _, q := range questions(inc, outcome, len(taken) > 0, len(deps) > 0) {
		fmt.Fprintf(b, "- %s\n", q)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func causeWords(inc *incident.Incident) string {
	s := "`" + string(inc.Cause) + "`"
	if inc.Sub != "" {
		s += " (`" + inc.Sub + "`)"
	}
	if item := inc.Cause.SOPItem(); item != "" {
		s += ", " + item + ","
	}
	return s
}

func severityWords(inc *incident.Incident) string {
	snap := inc.ServiceState
	switch {
	case snap != nil && snap.Desired > 0 && snap.Running == 0:
		return fmt.Sprintf("%s, the service was down (0 of %d tasks running).", severityName(inc.Severity), snap.Desired)
	case snap != nil:
		return fmt.Sprintf("%s, with %d of %d tasks running when last read.", severityName(inc.Severity), snap.Running, snap.Desired)
	default:
		return severityName(inc.Severity) + "."
	}
}

func resolution(inc *incident.Incident) string {
	for i := len(inc.Timeline) - 1; i >= 0; i-- {
		if e := inc.Timeline[i]; e.Kind == incident.KindResolved {
			return strings.TrimPrefix(e.Message, "resolved: ")
		}
	}
	return "resolved"
}

// belowDesired estimates how long the service ran below its desired count: from the first failure
// to when it was seen back at the desired count (or resolved, or now while it is still down).
func belowDesired(inc *incident.Incident, now time.Time) (time.Duration, bool) {
	if !inc.Scope.IsService() || inc.Occurrences.FirstSeen.IsZero() {
		return 0, false
	}
	end := now
	switch {
	case inc.RecoveringSince != nil:
		end = *inc.RecoveringSince
	case inc.ResolvedAt != nil:
		end = *inc.ResolvedAt
	}
	if end.Before(inc.Occurrences.FirstSeen) {
		return 0, false
	}
	return end.Sub(inc.Occurrences.FirstSeen), true
}

// deployments lists the deployments the incident knows of in its window: ECS deployment events
// recorded on its timeline, and the service's deployments as last read.
func deployments(inc *incident.Incident, end time.Time) []string {
	var out []string
	for _, e := range inc.Timeline {
		if strings.HasPrefix(e.Message, "ECS deployment ") {
			out = append(out, fmt.Sprintf("%s UTC: %s", e.At.UTC().Format("2006-01-02 15:04:05"), mdText(e.Message)))
		}
	}
	if s := inc.ServiceState; s != nil {
		from := inc.OpenedAt.Add(-deploymentWindow)
		for _, d := range s.Deployments {
			if d.CreatedAt.IsZero() || d.CreatedAt.Before(from) || d.CreatedAt.After(end) {
				continue
			}
			line := fmt.Sprintf("%s UTC: deployment `%s` (%s) to `%s`", d.CreatedAt.UTC().Format("2006-01-02 15:04:05"), mdCode(d.ID), d.Status, revision(d.TaskDefinition))
			if d.RolloutState != "" {
				line += ", rollout " + d.RolloutState
			}
			if d.RolloutReason != "" {
				line += ": " + mdText(d.RolloutReason)
			}
			out = append(out, line)
		}
	}
	return out
}

func actions(inc *incident.Incident) (taken, other []incident.Entry) {
	for _, e := range inc.Timeline {
		switch actionOutcome(e) {
		case "":
		case ActionApplied:
			taken = append(taken, e)
		default:
			other = append(other, e)
		}
	}
	return taken, other
}

func actionVerb(kind incident.EntryKind) string {
	switch kind {
	case incident.KindActionFailed:
		return "Failed"
	case incident.KindActionSkipped:
		return "Refused"
	case incident.KindActionPlanned:
		return "Planned (dry run)"
	default:
		return "Suggested"
	}
}

// questions are what a review of this incident should answer, from what the record shows.
func questions(inc *incident.Incident, sla string, fixed, deployed bool) []string {
	q := []string{}
	switch inc.Cause {
	case classify.OOMKilled:
		q = append(q, "What grew the memory use: load, a leak, a new release, or a limit set too low from the start?",
			"Is the new memory size right for the peak, and what does it cost?")
	case classify.EssentialExit:
		q = append(q, "What made the application exit (the log lines above), and why did it not fail health checks or a canary first?")
	case classify.ResourceInit:
		q = append(q, "Which permission, secret, network path or volume was missing, and what change removed it?")
	case classify.ImagePull:
		q = append(q, "How did a task definition reach production with an image reference or registry access that does not work?")
	case classify.HealthCheck:
		q = append(q, "Was the application unhealthy, or the health check too strict for its start-up time?")
	case classify.StartFailure:
		q = append(q, "Why could the task not start (placement, capacity, command, runtime), and what would have caught it before production?")
	case classify.SpotInterruption, classify.HostLost:
		q = append(q, "Did the service keep enough capacity while hosts were replaced (spread, capacity providers, on-demand base)?")
	case classify.Unknown:
		q = append(q, "What was the cause? Add a classification rule for the text above so the next one is diagnosed.")
	}
	if deployed || inc.Deployment != nil {
		q = append(q, "Did the deployment in the window cause this, and why did the deployment checks (health checks, circuit breaker, canary) not stop it?")
	}
	switch sla {
	case SLAMissed:
		q = append(q, "Why was the response deadline missed: paging, routing, or too many pages at once?")
	case SLAMet:
		q = append(q, "Was the page actionable: did it say enough to act on without opening the console?")
	}
	if fixed {
		q = append(q, "Did the automatic fix address the cause or only the symptom, and should it stay automatic?")
	}
	if inc.AutomationStopped != "" {
		q = append(q, "Automation was stopped for this incident: what should the runbook do differently?")
	}
	if inc.Occurrences.Count > 1 && isTaskCause(inc.Cause) {
		q = append(q, fmt.Sprintf("%d tasks failed the same way: could the service have stopped retrying sooner (circuit breaker, alarms)?", inc.Occurrences.Count))
	}
	q = append(q, "Who was affected, and for how long, as customers saw it?", "What single change would stop this from happening again?")
	return slices.Compact(q)
}

func actorName(a string) string {
	return strings.TrimPrefix(a, "slack:")
}

func revision(arn string) string { return cmp.Or(event.ResourceName(arn), "—") }

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// mdText keeps event text from acting as Markdown structure in the draft: line breaks, headings,
// links, emphasis and HTML from a container reason stay literal text. (Underscores stay: inside
// words, as in SERVICE_TASK_START_IMPAIRED, Markdown reads them literally.)
func mdText(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	r := strings.NewReplacer("<", "&lt;", ">", "&gt;", "[", `\[`, "]", `\]`, "*", `\*`, "`", "'")
	return r.Replace(s)
}

// mdCode prepares text for an inline code span: one line, no backticks to break out of it.
func mdCode(s string) string {
	return strings.ReplaceAll(strings.Join(strings.Fields(s), " "), "`", "'")
}

// mdCell is mdText that also keeps a table cell a cell.
func mdCell(s string) string {
	return strings.ReplaceAll(mdText(s), "|", `\|`)
}
