package chatops

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/ecs-medic/ecs-medic/internal/accounts"
	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/notify"
	"github.com/ecs-medic/ecs-medic/internal/remediate"
	"github.com/ecs-medic/ecs-medic/internal/runbook"
)

// change runs a changing command, after checking the caller may.
func (h *Handler) change(ctx context.Context, c caller, verb string, args []string) Reply {
	if !h.allowed(ctx, c) {
		h.Log.Warn("changing command refused", zap.String("user", c.id), zap.String("command", verb), zap.Int("args", len(args)))
		if (verb == "ack" || verb == "resolve" || verb == "fix") && len(args) >= 1 && incidentID(args[0]) {
			// Counted on the incident, with a few kept in its timeline: never at the cost of
			// the real entries (incident.KindRefused has a budget of its own).
			_, _ = h.Manager.Record(ctx, args[0], incident.Entry{Actor: c.actor(), Kind: incident.KindRefused,
				Message: fmt.Sprintf("%s tried to %s but is not an allowed user", c.actor(), verb)})
		}
		return Reply{Text: fmt.Sprintf(":no_entry: You are not allowed to `%s`. Changing commands are for the users and user groups an operator lists in MEDIC_SLACK_ALLOWED_USERS / MEDIC_SLACK_ALLOWED_GROUPS (your user id is `%s`): ask one of them, or ask to be added. The attempt was recorded.", verb, echo(c.id))}
	}
	switch verb {
	case "ack", "resolve":
		if len(args) != 1 {
			return Reply{Text: fmt.Sprintf("Usage: `/medic %s <incident>`", verb)}
		}
		if !incidentID(args[0]) {
			return notAnIncident(args[0])
		}
		var (
			inc     *incident.Incident
			changed bool
			err     error
			kind    notify.Kind
		)
		if verb == "ack" {
			inc, changed, err = h.Manager.Acknowledge(ctx, args[0], c.actor())
			kind = notify.Acknowledged
		} else {
			inc, changed, err = h.Manager.Resolve(ctx, args[0], c.actor(), "resolved in Slack")
			kind = notify.Resolved
		}
		switch {
		case errors.Is(err, incident.ErrNotFound):
			return Reply{Text: fmt.Sprintf("No incident `%s`. `/medic incidents` lists the open ones.", echo(args[0]))}
		case err != nil:
			h.Log.Error("slack "+verb, zap.String("incident", args[0]), zap.Error(err))
			return Reply{Text: fmt.Sprintf("Could not %s `%s` just now: ecs-medic's store did not answer. Try again in a minute; PagerDuty and the message buttons work meanwhile.", verb, echo(args[0]))}
		case !changed:
			return Reply{Text: fmt.Sprintf("`%s` is already %s; nothing changed.", inc.ID, inc.State)}
		}
		h.runLater(ctx, Job{Kind: JobAnnounce, Incident: inc.ID, Notice: string(kind)})
		past := map[string]string{"ack": "Acknowledged", "resolve": "Resolved"}[verb]
		return Reply{ResponseType: "in_channel", Text: fmt.Sprintf("%s `%s` (%s — %s).", past, inc.ID, esc(notify.Subject(inc)), esc(notify.CauseWords(inc)))}
	case "silence":
		return h.silence(ctx, c, args)
	default: // fix, rollback, scale
		return h.fix(ctx, c, verb, args)
	}
}

// fix runs a remediation for a human: `fix <incident> [force]`, `rollback <cluster>/<service>`,
// `scale <cluster>/<service> <n>`. The same actions and guardrails as automation; a human may
// override the cooldown only with an explicit `force`, which is recorded.
func (h *Handler) fix(ctx context.Context, c caller, verb string, args []string) Reply {
	if h.Fix == nil {
		return Reply{Text: fmt.Sprintf("`%s` needs ecs-medic's remediation, which cannot reach ECS here. "+
			"Do it by hand: roll back with `aws ecs update-service --cluster <c> --service <s> --task-definition <previous revision>` (SOP-001), "+
			"scale with `aws ecs update-service --cluster <c> --service <s> --desired-count <n>`.", verb)}
	}
	req := remediate.Request{By: c.actor()}
	switch verb {
	case "fix":
		if len(args) < 1 || len(args) > 2 || (len(args) == 2 && args[1] != "force") {
			return Reply{Text: "Usage: `/medic fix <incident> [force]` (force overrides the cooldown, and is recorded)"}
		}
		if !incidentID(args[0]) {
			return notAnIncident(args[0])
		}
		req.Incident, req.Force = args[0], len(args) == 2
	case "rollback", "scale":
		button := len(args) == 1 && strings.HasPrefix(args[0], "inc-") // the Rollback button names the incident
		if !button && (len(args) < 1 || !strings.Contains(args[0], "/") || (verb == "scale" && len(args) != 2)) {
			return Reply{Text: fmt.Sprintf("Usage: `/medic %s <cluster>/<service>%s`", verb, map[string]string{"rollback": "", "scale": " <n>"}[verb])}
		}
		if button {
			if !incidentID(args[0]) {
				return notAnIncident(args[0])
			}
			req.Incident = args[0]
		} else {
			t, problem := h.resolve(ctx, args[0], true)
			if problem != "" {
				return Reply{Text: problem}
			}
			if t.Incident == nil {
				return Reply{Text: fmt.Sprintf("No open incident on `%s`: ecs-medic acts on services with an incident, so every action has its record. Do it by hand with `aws ecs update-service`, or wait for the incident.", echo(args[0]))}
			}
			req.Incident = t.Incident.ID
		}
		req.Action = runbook.Rollback
		if verb == "scale" {
			n, err := strconv.Atoi(args[1])
			if err != nil || n < 1 {
				return Reply{Text: fmt.Sprintf("`%s` is not a task count: give a whole number, e.g. `/medic scale %s 6`.", echo(args[1]), echo(args[0]))}
			}
			req.Action, req.Desired = runbook.ScaleOut, n
		}
	}
	h.runLater(ctx, Job{Kind: JobFix, Fix: &req, ResponseURL: responseURLFrom(ctx)})
	return Reply{Text: fmt.Sprintf("Checking the guardrails for `%s`…", echo(strings.Join(append([]string{verb}, args...), " ")))}
}

func (h *Handler) silence(ctx context.Context, c caller, args []string) Reply {
	if len(args) < 2 || !strings.Contains(args[0], "/") {
		return Reply{Text: "Usage: `/medic silence <cluster>/<service> <duration> [reason]`, e.g. `silence prod/web 30m deploying`. A silence always expires (at most 7d)."}
	}
	d, err := parseDuration(args[1])
	switch {
	case err != nil:
		return Reply{Text: fmt.Sprintf("`%s` is not a duration: use minutes, hours or days, e.g. `30m`, `2h` or `1d` (from 1 minute to 7 days).", echo(args[1]))}
	case d < incident.MinSilence:
		return Reply{Text: fmt.Sprintf("`%s` is shorter than a minute, so it would silence nothing: silence for at least `1m`, e.g. `/medic silence %s 30m`.", echo(args[1]), echo(args[0]))}
	case d > incident.MaxSilence:
		return Reply{Text: fmt.Sprintf("`%s` is longer than 7 days: a silence always ends, so nobody forgets it. Silence for at most `7d`, and silence again when it ends if you still need to.", echo(args[1]))}
	}
	scope := incident.Scope{}
	if parts := strings.Split(args[0], "/"); len(parts) == 3 && accounts.IsAccountID(parts[0]) {
		scope.Account, scope.Cluster, scope.Service = parts[0], parts[1], parts[2] // that account only
	} else {
		scope.Cluster, scope.Service, _ = strings.Cut(args[0], "/") // every account's
	}
	if len(scope.Cluster) > 255 || len(scope.Service) > 255 {
		return Reply{Text: "ECS cluster and service names have at most 255 characters: check the name with `/medic status <cluster>/<service>`."}
	}
	s, err := h.Manager.Silence(ctx, scope, d, c.actor(), strings.Join(args[2:], " "))
	if err != nil {
		h.Log.Error("slack silence", zap.String("cluster", scope.Cluster), zap.String("service", scope.Service), zap.Error(err))
		return Reply{Text: fmt.Sprintf("Could not silence `%s` just now: ecs-medic's store did not answer. Try again in a minute.", echo(args[0]))}
	}
	return Reply{ResponseType: "in_channel", Text: fmt.Sprintf(":no_bell: `%s` silenced by %s until %s%s. Incidents still open and are counted; new pages and messages are held back and recorded as suppressed (acknowledgements and resolves of pages already sent still go out).",
		echo(args[0]), notify.SlackActor(s.By), s.Until.UTC().Format("Jan 2 15:04 UTC"), reasonSuffix(s.Reason))}
}

func reasonSuffix(r string) string {
	if r == "" {
		return ""
	}
	return ": " + esc(r)
}

// parseDuration reads Go durations ("30m", "2h") and days ("1d"); a count too large to be a
// duration is an error, never a wrapped-around negative one.
func parseDuration(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil {
			return 0, err
		}
		if days > 10000 || days < -10000 {
			return 0, errors.New("too many days")
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}
