package chatops

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/notify"
	"github.com/ecs-medic/ecs-medic/internal/notify/slack"
)

func (h *Handler) incidents(ctx context.Context) Reply {
	incs, err := h.Manager.List(ctx, incident.Filter{Active: true, Limit: 50})
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
			due = "*overdue* by " + incident.HumanDuration(now.Sub(inc.SLADeadline).Round(time.Minute))
		}
		state := ""
		if inc.State == incident.Acknowledged {
			state = " · acknowledged by " + notify.SlackActor(inc.AcknowledgedBy)
			due = "SLA met"
		}
		fmt.Fprintf(&b, "%s *%s* `%s` %s — %s · %d occurrence(s) · open %s · %s%s\n", slack.SeverityEmoji(inc.Severity), inc.Severity, inc.ID,
			esc(notify.Subject(inc)), esc(notify.CauseWords(inc)), inc.Occurrences.Count, age(now.Sub(inc.OpenedAt)), due, state)
	}
	sils, err := h.Manager.Silences(ctx)
	if err == nil && len(sils) > 0 {
		b.WriteString("\n*Silenced*\n")
		for _, s := range sils {
			fmt.Fprintf(&b, ":no_bell: `%s` by %s until %s%s\n", esc(s.Scope.Name()), notify.SlackActor(s.By), s.Until.UTC().Format("Jan 2 15:04 UTC"), reasonSuffix(s.Reason))
		}
	}
	return Reply{Text: strings.TrimRight(b.String(), "\n")}
}

func age(d time.Duration) string {
	if d < time.Minute {
		return "just now"
	}
	return incident.HumanDuration(d.Truncate(time.Minute))
}
