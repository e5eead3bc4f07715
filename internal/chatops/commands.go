package chatops

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"go.uber.org/zap"

	"github.com/ecs-medic/ecs-medic/internal/incident"
)

// Help is the answer to `/medic help` and to anything not understood.
const Help = "*ecs-medic* — `/medic <command>`\n" +
	"• `incidents` — open incidents, newest first, and active silences\n" +
	"• `status <cluster>/<service>` — desired/running/pending, deployments, last stopped tasks and their causes " +
	"(`<account>/<cluster>/<service>` where several accounts have it)\n" +
	"• `why <task-id>` — the diagnosis, its evidence and the last log lines (`why <cluster> <task-id>` for a task no incident saw)\n" +
	"• `logs <task-id>` — the task's last log lines\n" +
	"• `runbook <cause>` — what its runbook says to do\n" +
	"• `report [since]` — per service: incidents, time to acknowledge and resolve, SLA, fixes (default 7d)\n" +
	"• `postmortem <incident>` — a Markdown postmortem draft\n" +
	"• `oncall [<cluster>/<service>]` — who PagerDuty pages for it now, level by level (every route without one)\n" +
	"Changing commands, for allowed users:\n" +
	"• `ack <incident>` · `resolve <incident>`\n" +
	"• `silence <cluster>/<service> <duration> [reason]` — mute its notifications, e.g. `silence prod/web 30m deploying`\n" +
	"• `fix <incident>` · `rollback <cluster>/<service>` · `scale <cluster>/<service> <n>`"

func (h *Handler) command(ctx context.Context, form url.Values) Reply {
	c := caller{id: form.Get("user_id")}
	fields := strings.Fields(form.Get("text"))
	if len(fields) == 0 {
		return Reply{Text: Help}
	}
	verb, args := strings.ToLower(fields[0]), fields[1:]
	log := h.Log.With(zap.String("user", c.id), zap.String("command", verb))
	switch verb {
	case "help":
		return Reply{Text: Help}
	case "incidents":
		return h.incidents(ctx)
	case "why":
		return h.why(ctx, args, form.Get("response_url"))
	case "logs":
		return h.logs(ctx, args, form.Get("response_url"))
	case "runbook":
		return h.runbookAnswer(args)
	case "report", "postmortem":
		return h.reviewCommand(ctx, verb, args, form.Get("response_url"))
	case "oncall":
		return h.onCallCommand(ctx, args, form.Get("response_url"))
	case "status":
		if len(args) != 1 || !strings.Contains(args[0], "/") {
			return Reply{Text: "Usage: `/medic status <cluster>/<service>`"}
		}
		if h.ECS == nil && h.Clients == nil {
			return Reply{Text: "ECS cannot be reached from here (no AWS region or credentials), so there is no live status. `/medic incidents` shows what ecs-medic knows."}
		}
		t, problem := h.resolve(ctx, args[0], false)
		if problem != "" {
			return Reply{Text: problem}
		}
		h.runLater(ctx, Job{Kind: JobStatus, Args: []string{t.Cluster + "/" + t.Service}, Account: t.Account, Region: t.Region,
			User: c.id, ResponseURL: form.Get("response_url")})
		return Reply{Text: "Reading `" + echo(args[0]) + "` from ECS…"}
	case "ack", "resolve", "silence", "fix", "rollback", "scale":
		log.Info("changing command")
		return h.change(withResponseURL(ctx, form.Get("response_url")), c, verb, args)
	default:
		return Reply{Text: fmt.Sprintf("I don't know `%s`.\n%s", echo(verb), Help)}
	}
}

// incidentID reports whether s can be an incident id ("inc-" and a few lowercase letters and
// digits): anything else is answered without a store lookup, so no odd or oversized key reaches
// the store.
func incidentID(s string) bool {
	id, ok := strings.CutPrefix(s, "inc-")
	if !ok || len(id) == 0 || len(id) > 40 {
		return false
	}
	for _, r := range id {
		if (r < '0' || r > '9') && (r < 'a' || r > 'z') {
			return false
		}
	}
	return true
}

func notAnIncident(s string) Reply {
	return Reply{Text: fmt.Sprintf("`%s` is not an incident id (they look like `inc-0c1h3x9v2k7mq`): `/medic incidents` lists the open ones.", echo(s))}
}

// echo is a user's own argument quoted back to them: escaped, and cut short.
func echo(s string) string { return esc(incident.Clip(s, 100)) }
