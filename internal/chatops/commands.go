package chatops

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"go.uber.org/zap"

	"github.com/ecs-medic/ecs-medic/internal/classify"
	"github.com/ecs-medic/ecs-medic/internal/event"
	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/notify"
	"github.com/ecs-medic/ecs-medic/internal/remediate"
	"github.com/ecs-medic/ecs-medic/internal/runbook"
	"github.com/ecs-medic/ecs-medic/internal/severity"
	"github.com/ecs-medic/ecs-medic/internal/tasklogs"
)

// Help is the answer to `/medic help` and to anything not understood.
const Help = "*ecs-medic* — `/medic <command>`\n" +
	"• `incidents` — open incidents, newest first, and active silences\n" +
	"• `status <cluster>/<service>` — desired/running/pending, deployments, last stopped tasks and their causes " +
	"(`<account>/<cluster>/<service>` where several accounts have it)\n" +
	"• `why <task-id>` — the diagnosis, its evidence and the last log lines (`why <cluster> <task-id>` for a task no incident saw)\n" +
	"• `logs <task-id>` — the task's last log lines\n" +
	"• `runbook <cause>` — what SOP-002 says to do\n" +
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
		return runbookAnswer(args)
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
		h.defer_(ctx, Job{Kind: "status", Args: []string{t.Cluster + "/" + t.Service}, Account: t.Account, Region: t.Region,
			User: c.id, ResponseURL: form.Get("response_url")})
		return Reply{Text: "Reading `" + echo(args[0]) + "` from ECS…"}
	case "ack", "resolve", "silence", "fix", "rollback", "scale":
		log.Info("changing command")
		return h.change(withResponseURL(ctx, form.Get("response_url")), c, verb, args)
	default:
		return Reply{Text: fmt.Sprintf("I don't know `%s`.\n%s", echo(verb), Help)}
	}
}

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
		h.defer_(ctx, Job{Kind: "announce", Incident: inc.ID, Notice: string(kind)})
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
	h.defer_(ctx, Job{Kind: "fix", Fix: &req, ResponseURL: responseURLFrom(ctx)})
	return Reply{Text: fmt.Sprintf("Checking the guardrails for `%s`…", echo(strings.Join(append([]string{verb}, args...), " ")))}
}

// target is a service a command names, with the account and region it lives in.
type target struct {
	Account, Region, Cluster, Service string
	// Incident is the newest active incident on it, when there is one.
	Incident *incident.Incident
}

// resolve reads `<account>/<cluster>/<service>` or `<cluster>/<service>`. Without an account, the
// accounts are those of the incidents ecs-medic holds for that cluster/service (active ones only
// when active is set): one is used, several are listed back, none means the home account. The
// problem, when not "", is the answer to give instead.
func (h *Handler) resolve(ctx context.Context, name string, active bool) (target, string) {
	parts := strings.Split(name, "/")
	var t target
	switch {
	case len(parts) == 3 && isAccount(parts[0]) && parts[1] != "" && parts[2] != "":
		t.Account, t.Cluster, t.Service = parts[0], parts[1], parts[2]
	case len(parts) == 2 && parts[0] != "" && parts[1] != "":
		t.Cluster, t.Service = parts[0], parts[1]
	default:
		return t, fmt.Sprintf("`%s` is not `<cluster>/<service>` or `<account>/<cluster>/<service>` (a 12-digit account id).", echo(name))
	}
	incs, err := h.Manager.Store().List(ctx, incident.Filter{Active: true, Limit: 500})
	if err != nil {
		h.Log.Error("slack: list incidents", zap.Error(err))
		return t, "Could not read the incidents just now: ecs-medic's store did not answer. Try again in a minute."
	}
	if !active {
		recent, err := h.Manager.Store().List(ctx, incident.Filter{Limit: 500})
		if err == nil {
			incs = append(incs, recent...)
		}
	}
	var found []string
	where := map[string]*incident.Incident{}
	for _, inc := range incs {
		s := inc.Scope
		if s.Cluster != t.Cluster || s.Service != t.Service || (t.Account != "" && s.Account != t.Account) {
			continue
		}
		key := s.Account + "/" + s.Region
		if _, ok := where[key]; !ok {
			where[key] = inc
			found = append(found, key)
		}
	}
	switch {
	case len(found) == 1:
		inc := where[found[0]]
		t.Account, t.Region = inc.Scope.Account, inc.Scope.Region
		if inc.State.Active() {
			t.Incident = inc
		}
	case len(found) > 1:
		var names []string
		for _, k := range found {
			account, region, _ := strings.Cut(k, "/")
			names = append(names, fmt.Sprintf("`%s/%s/%s` (%s)", esc(account), esc(t.Cluster), esc(t.Service), esc(region)))
		}
		return t, fmt.Sprintf("`%s` is in more than one account: %s. Name the account: `<account>/%s/%s`.",
			echo(name), strings.Join(names, ", "), esc(t.Cluster), esc(t.Service))
	}
	return t, ""
}

func isAccount(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// ecs returns the ECS client for an account and region: the account's own, or the one client of
// a single-account setup.
func (h *Handler) ecs(ctx context.Context, account, region string) (ECS, error) {
	if h.Clients != nil {
		cs, err := h.Clients.For(ctx, account, region)
		if err != nil {
			return nil, err
		}
		return cs.ECS, nil
	}
	if h.ECS == nil {
		return nil, errors.New("ECS cannot be reached from here (no AWS region or credentials)")
	}
	return h.ECS, nil
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
	if parts := strings.Split(args[0], "/"); len(parts) == 3 && isAccount(parts[0]) {
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

var marks = map[severity.Level]string{severity.P1: ":red_circle:", severity.P2: ":large_orange_circle:", severity.P3: ":large_yellow_circle:"}

func (h *Handler) incidents(ctx context.Context) Reply {
	incs, err := h.Manager.Store().List(ctx, incident.Filter{Active: true, Limit: 50})
	if err != nil {
		h.Log.Error("slack incidents", zap.Error(err))
		return Reply{Text: "Could not read the incidents just now: ecs-medic's store did not answer. Try again in a minute."}
	}
	now := h.now()
	var b strings.Builder
	if len(incs) == 0 {
		b.WriteString(":white_check_mark: No open incidents.")
	}
	for _, inc := range incs {
		due := "respond by " + inc.SLADeadline.UTC().Format("15:04 UTC")
		if now.After(inc.SLADeadline) {
			due = "*overdue* by " + notify.HumanDuration(now.Sub(inc.SLADeadline).Round(time.Minute))
		}
		state := ""
		if inc.State == incident.Acknowledged {
			state = " · acknowledged by " + notify.SlackActor(inc.AcknowledgedBy)
			due = "SLA met"
		}
		fmt.Fprintf(&b, "%s *%s* `%s` %s — %s · %d occurrence(s) · open %s · %s%s\n", marks[inc.Severity], inc.Severity, inc.ID,
			esc(notify.Subject(inc)), esc(notify.CauseWords(inc)), inc.Occurrences.Count, age(now.Sub(inc.OpenedAt)), due, state)
	}
	sils, err := h.Manager.Store().Silences(ctx, now)
	if err == nil && len(sils) > 0 {
		b.WriteString("\n*Silenced*\n")
		for _, s := range sils {
			fmt.Fprintf(&b, ":no_bell: `%s` by %s until %s%s\n", esc(s.Scope.Name()), notify.SlackActor(s.By), s.Until.UTC().Format("Jan 2 15:04 UTC"), reasonSuffix(s.Reason))
		}
	}
	return Reply{Text: strings.TrimRight(b.String(), "\n")}
}

func age(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	default:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	}
}

var errShortTask = errors.New("give at least 8 characters of the task id")

// findTask finds the incident that saw a task (by id or ARN, or an unambiguous prefix of 8+).
func (h *Handler) findTask(ctx context.Context, q string) (*incident.Incident, string, error) {
	q = strings.ToLower(event.TaskID(q))
	if len(q) < 8 {
		return nil, "", errShortTask
	}
	incs, err := h.Manager.Store().List(ctx, incident.Filter{Limit: 500})
	if err != nil {
		return nil, "", err
	}
	active, _ := h.Manager.Store().List(ctx, incident.Filter{Active: true, Limit: 500})
	for _, inc := range append(active, incs...) {
		ids := append([]string{event.TaskID(inc.Facts.TaskArn)}, inc.Occurrences.Tasks...)
		for _, id := range ids {
			if id != "" && strings.HasPrefix(strings.ToLower(id), q) {
				return inc, id, nil
			}
		}
	}
	return nil, "", nil
}

func (h *Handler) why(ctx context.Context, args []string, responseURL string) Reply {
	if len(args) == 2 {
		return h.whyCluster(ctx, args, responseURL)
	}
	if len(args) != 1 {
		return Reply{Text: "Usage: `/medic why <task-id>` (or `/medic why <cluster> <task-id>` for a task no incident saw)"}
	}
	inc, id, err := h.findTask(ctx, args[0])
	switch {
	case errors.Is(err, errShortTask):
		return Reply{Text: "Give at least 8 characters of the task id, e.g. `/medic why 0f4e2c1a`."}
	case err != nil:
		h.Log.Error("slack why", zap.Error(err))
		return Reply{Text: "Could not look the task up just now: ecs-medic's store did not answer. Try again in a minute."}
	case inc == nil:
		return Reply{Text: fmt.Sprintf("No incident mentions task `%s` (expected stops open none). ECS keeps stopped tasks about an hour: `/medic why <cluster> %s` reads it from ECS and classifies it, `/medic status <cluster>/<service>` shows the recent ones.", echo(args[0]), echo(args[0]))}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "*Task `%s`* — %s, %s\n", esc(id), esc(notify.CauseWords(inc)), inc.Confidence)
	if item := inc.Cause.SOPItem(); item != "" {
		fmt.Fprintf(&b, "SOP-002: %s\n", item)
	}
	writeDiagnosis(&b, inc.Diagnosis)
	if event.TaskID(inc.Facts.TaskArn) == id && len(inc.LogLines) > 0 {
		b.WriteString("*Last log lines*\n```" + esc(strings.Join(inc.LogLines, "\n")) + "```\n")
	}
	fmt.Fprintf(&b, "Incident `%s` (%s, %s, %d occurrence(s))", inc.ID, inc.Severity, inc.State, inc.Occurrences.Count)
	return Reply{Text: b.String()}
}

func (h *Handler) logs(ctx context.Context, args []string, responseURL string) Reply {
	account, region := "", ""
	if len(args) != 2 && len(args) != 1 {
		return Reply{Text: "Usage: `/medic logs <task-id>` (or `/medic logs <cluster> <task-id>` for a task no incident saw)"}
	}
	if len(args) == 1 {
		inc, id, err := h.findTask(ctx, args[0])
		switch {
		case errors.Is(err, errShortTask):
			return Reply{Text: "Give at least 8 characters of the task id, e.g. `/medic logs 0f4e2c1a`."}
		case err != nil:
			h.Log.Error("slack logs", zap.Error(err))
			return Reply{Text: "Could not look the task up just now: ecs-medic's store did not answer. Try again in a minute."}
		}
		if inc != nil && event.TaskID(inc.Facts.TaskArn) == id {
			if len(inc.LogLines) == 0 {
				why := inc.LogError
				if why == "" {
					why = "the container wrote none, or its task definition has no awslogs log configuration"
				}
				return Reply{Text: fmt.Sprintf("No log lines were kept for `%s`: %s. Look in CloudWatch Logs, or the container's log driver.", esc(id), esc(strings.TrimRight(why, ". ")))}
			}
			return Reply{Text: fmt.Sprintf("*Last log lines of `%s`* (`%s`)\n```%s```", esc(id), esc(inc.Facts.LogStream), esc(strings.Join(inc.LogLines, "\n")))}
		}
		if inc == nil {
			return Reply{Text: fmt.Sprintf("No incident saw task `%s`. Name its cluster to read it from ECS: `/medic logs <cluster> %s`.", echo(args[0]), echo(args[0]))}
		}
		account, region = inc.Scope.Account, inc.Scope.Region
		args = []string{inc.Scope.Cluster, id}
	}
	if (h.ECS == nil && h.Clients == nil) || h.Logs == nil {
		return Reply{Text: "ECS and CloudWatch Logs cannot be reached from here (no AWS region or credentials)."}
	}
	if len(args[0]) > 255 || len(args[1]) > 255 {
		return Reply{Text: "Cluster names and task ids have at most 255 characters: check them with `/medic status <cluster>/<service>`."}
	}
	h.defer_(ctx, Job{Kind: "logs", Args: args, Account: account, Region: region, ResponseURL: responseURL})
	return Reply{Text: "Reading the logs of `" + echo(args[1]) + "`…"}
}

func (h *Handler) logsFromECS(ctx context.Context, account, region string, args []string) Reply {
	api, err := h.ecs(ctx, account, region)
	if err != nil {
		return Reply{Text: fmt.Sprintf("Could not reach ECS for task `%s`: %s.", echo(args[1]), esc(shortReason(err)))}
	}
	if region == "" {
		region = h.Region
	}
	out, err := api.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String(args[0]), Tasks: []string{args[1]}})
	if err != nil {
		h.Log.Warn("slack logs: describe task", zap.Error(err))
		return Reply{Text: fmt.Sprintf("ECS did not describe task `%s` (%s). Check the cluster name, or look in the ECS console.", echo(args[1]), esc(shortReason(err)))}
	}
	if len(out.Tasks) == 0 {
		return Reply{Text: fmt.Sprintf("ECS does not know task `%s` in `%s` (it forgets stopped tasks after about an hour).", echo(args[1]), echo(args[0]))}
	}
	t := out.Tasks[0]
	d := h.Classifier.Task(taskDetail(t))
	tail, err := h.Logs.Last(ctx, tasklogs.Task{Account: account, Region: region, TaskDefinition: aws.ToString(t.TaskDefinitionArn), TaskID: event.TaskID(aws.ToString(t.TaskArn)), Container: d.Container})
	if err != nil {
		return Reply{Text: fmt.Sprintf("No log lines for `%s`: %s. Look in CloudWatch Logs.", echo(args[1]), esc(shortReason(err)))}
	}
	return Reply{Text: fmt.Sprintf("*Last log lines of `%s`* (`%s`)\n```%s```", echo(args[1]), esc(tail.Stream), esc(strings.Join(tail.Lines, "\n")))}
}

// status reads a service from ECS, with its own account's credentials: counts, deployments, and
// its last stopped tasks, classified.
func (h *Handler) status(ctx context.Context, account, region string, args []string) Reply {
	cluster, service, _ := strings.Cut(args[0], "/")
	api, err := h.ecs(ctx, account, region)
	if err != nil {
		return Reply{Text: fmt.Sprintf("Could not reach ECS for `%s`: %s.", echo(args[0]), esc(shortReason(err)))}
	}
	out, err := api.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(cluster), Services: []string{service}})
	if err != nil {
		h.Log.Warn("slack status", zap.String("cluster", cluster), zap.String("service", service), zap.Error(err))
		return Reply{Text: fmt.Sprintf("ECS did not describe `%s` (%s). Check the names, or look in the ECS console.", echo(args[0]), esc(shortReason(err)))}
	}
	if len(out.Services) == 0 {
		msg := fmt.Sprintf("There is no service `%s` in cluster `%s`.", echo(service), echo(cluster))
		if s := closest(ctx, api, cluster, service); s != "" {
			msg += fmt.Sprintf(" Did you mean `%s/%s`?", echo(cluster), esc(s))
		}
		return Reply{Text: msg}
	}
	svc := out.Services[0]
	var b strings.Builder
	fmt.Fprintf(&b, "*%s/%s* — %d desired, %d running, %d pending (%s)\n", esc(cluster), esc(service), svc.DesiredCount, svc.RunningCount, svc.PendingCount, esc(aws.ToString(svc.Status)))
	b.WriteString("*Deployments*\n")
	for _, d := range svc.Deployments {
		fmt.Fprintf(&b, "• %s `%s` %s — %d/%d running", esc(aws.ToString(d.Status)), esc(revision(aws.ToString(d.TaskDefinition))), esc(string(d.RolloutState)), d.RunningCount, d.DesiredCount)
		if d.FailedTasks > 0 {
			fmt.Fprintf(&b, ", %d failed", d.FailedTasks)
		}
		if r := aws.ToString(d.RolloutStateReason); r != "" {
			fmt.Fprintf(&b, " — %s", esc(r))
		}
		b.WriteString("\n")
	}
	list, err := api.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String(cluster), ServiceName: aws.String(service),
		DesiredStatus: ecstypes.DesiredStatusStopped, MaxResults: aws.Int32(5)})
	if err == nil && len(list.TaskArns) > 0 {
		tasks, err := api.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String(cluster), Tasks: list.TaskArns})
		if err == nil {
			sort.Slice(tasks.Tasks, func(i, j int) bool {
				return aws.ToTime(tasks.Tasks[i].StoppedAt).After(aws.ToTime(tasks.Tasks[j].StoppedAt))
			})
			b.WriteString("*Last stopped tasks*\n")
			for _, t := range tasks.Tasks {
				d := h.Classifier.Task(taskDetail(t))
				fmt.Fprintf(&b, "• `%s` %s — %s (`%s`)", esc(event.TaskID(aws.ToString(t.TaskArn))), aws.ToTime(t.StoppedAt).UTC().Format("15:04 UTC"), d.Cause.Title(), d.Cause)
				if d.Container != "" {
					fmt.Fprintf(&b, ", container `%s`", esc(d.Container))
				}
				if p := d.Primary(); p != "" {
					fmt.Fprintf(&b, ": %s", esc(truncate(p, 160)))
				}
				b.WriteString("\n")
			}
		}
	}
	if incs, err := h.Manager.Store().List(ctx, incident.Filter{Active: true, Limit: 100}); err == nil {
		for _, inc := range incs {
			if inc.Scope.Cluster == cluster && inc.Scope.Service == service && (account == "" || inc.Scope.Account == account) {
				fmt.Fprintf(&b, "%s Open incident `%s` %s — %s\n", marks[inc.Severity], inc.ID, inc.Severity, esc(notify.CauseWords(inc)))
			}
		}
	}
	return Reply{Text: strings.TrimRight(b.String(), "\n")}
}

func revision(taskDef string) string {
	if i := strings.LastIndexByte(taskDef, '/'); i >= 0 {
		return taskDef[i+1:]
	}
	return taskDef
}

func truncate(s string, n int) string { return incident.Clip(s, n) }

// taskDetail turns DescribeTasks' task into the event's shape, to classify it the same way.
func taskDetail(t ecstypes.Task) *event.TaskDetail {
	td := &event.TaskDetail{TaskArn: aws.ToString(t.TaskArn), ClusterArn: aws.ToString(t.ClusterArn), LastStatus: aws.ToString(t.LastStatus),
		StopCode: string(t.StopCode), StoppedReason: aws.ToString(t.StoppedReason), TaskDefinitionArn: aws.ToString(t.TaskDefinitionArn), Group: aws.ToString(t.Group)}
	for _, c := range t.Containers {
		var code *int
		if c.ExitCode != nil {
			v := int(*c.ExitCode)
			code = &v
		}
		td.Containers = append(td.Containers, event.Container{Name: aws.ToString(c.Name), Reason: aws.ToString(c.Reason), ExitCode: code, RuntimeID: aws.ToString(c.RuntimeId)})
	}
	return td
}

// closest suggests the service name nearest to a mistyped one.
func closest(ctx context.Context, api ECS, cluster, name string) string {
	var names []string
	p := ecs.NewListServicesPaginator(api, &ecs.ListServicesInput{Cluster: aws.String(cluster)})
	for p.HasMorePages() && len(names) < 1000 {
		page, err := p.NextPage(ctx)
		if err != nil {
			return ""
		}
		for _, arn := range page.ServiceArns {
			names = append(names, arn[strings.LastIndexByte(arn, '/')+1:])
		}
	}
	best, bestD := "", len(name)/2+2
	for _, n := range names {
		if d := distance(strings.ToLower(n), strings.ToLower(name)); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

// distance is the Levenshtein edit distance.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// runbookAnswer answers with what SOP-002 says for a cause.
func runbookAnswer(args []string) Reply {
	if len(args) != 1 {
		return Reply{Text: "Usage: `/medic runbook <cause>`, one of: " + causeList()}
	}
	steps := map[classify.Cause]string{
		classify.OOMKilled:        "The task ran out of memory. SOP-002: increase the task's memory (task definition `memory`, or the container's hard limit), register a new revision and update the service. Check the last log lines for a leak first.",
		classify.EssentialExit:    "The application crashed. SOP-002: read the application logs (`/medic logs <task>`), fix the root cause, redeploy; roll back (SOP-001) if a deploy caused it.",
		classify.ResourceInit:     "The task could not set up its resources. SOP-002: fix the execution role's permissions (secrets, registry auth, log group), or the network path to them (NAT or VPC endpoints).",
		classify.ImagePull:        "The image could not be pulled. SOP-002: fix registry auth (execution role `ecr:*` permissions, repository policy) or the image reference (tag, digest, platform); check the network path to the registry.",
		classify.HealthCheck:      "Tasks fail health checks. Check the target group's health check path and grace period, the security group from the load balancer, and the application's start time.",
		classify.StartFailure:     "The container could not start. Read the reason: port conflicts, a bad entrypoint or architecture, a full disk on EC2 hosts.",
		classify.SpotInterruption: "Spot capacity was reclaimed. Usually self-healing; keep some on-demand capacity in the capacity provider strategy.",
		classify.HostLost:         "The host went away. Usually self-healing; check the Auto Scaling group and the instance's events.",
		classify.Unknown:          "The stop reason is one ecs-medic does not know. Read it with `/medic why <task>` and the logs; add the message to the classification corpus.",
	}
	c := classify.Cause(strings.ToLower(args[0]))
	text, ok := steps[c]
	if !ok {
		return Reply{Text: fmt.Sprintf("No runbook for `%s`. Causes: %s", echo(args[0]), causeList())}
	}
	return Reply{Text: fmt.Sprintf("*%s* (`%s`)\n%s", c.Title(), c, text)}
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

type responseURLKey struct{}

func withResponseURL(ctx context.Context, u string) context.Context {
	return context.WithValue(ctx, responseURLKey{}, u)
}

func responseURLFrom(ctx context.Context) string {
	u, _ := ctx.Value(responseURLKey{}).(string)
	return u
}
