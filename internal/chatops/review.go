package chatops

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/notify/slack"
	"github.com/ecs-medic/ecs-medic/internal/report"
)

// reportIncidents bounds the incidents one Slack report reads.
const reportIncidents = 5000

// reviewCommand answers `report [since]` and `postmortem <incident>`: read-only, for anyone in the
// channel, done after the acknowledgement since a week of incidents is more than 3 seconds' read
// on a slow store.
func (h *Handler) reviewCommand(ctx context.Context, verb string, args []string, responseURL string) Reply {
	switch verb {
	case "report":
		if len(args) > 1 {
			return Reply{Text: "Usage: `/medic report [since]`, e.g. `/medic report 7d` (the default) or `/medic report 24h`"}
		}
		if len(args) == 1 {
			if _, err := report.ParseSince(args[0]); err != nil {
				return Reply{Text: fmt.Sprintf("%s. Usage: `/medic report [since]`, e.g. `/medic report 7d`", esc(err.Error()))}
			}
		}
	case "postmortem":
		if len(args) != 1 {
			return Reply{Text: "Usage: `/medic postmortem <incident>`; `/medic incidents` lists the open ones, `/medic report` the recent ones"}
		}
	}
	h.runLater(ctx, Job{Kind: JobKind(verb), Args: args, ResponseURL: responseURL})
	return Reply{Text: "Writing the " + verb + "…"}
}

// periodReport is the deferred `report` job.
func (h *Handler) periodReport(ctx context.Context, args []string) Reply {
	since := "7d"
	if len(args) == 1 {
		since = args[0]
	}
	d, err := report.ParseSince(since)
	if err != nil {
		return Reply{Text: esc(err.Error())}
	}
	now := h.now()
	incs, err := h.Manager.List(ctx, incident.Filter{Since: now.Add(-d), Limit: reportIncidents})
	if err != nil {
		return Reply{Text: "Could not read the incidents for the report; try again in a minute."}
	}
	var b strings.Builder
	_ = report.WriteText(&b, report.Build(incs, now.Add(-d), now, now))
	return Reply{Text: slack.CodeBlock(b.String(), "`medic report --since "+since+"`")}
}

// postmortem is the deferred `postmortem` job.
func (h *Handler) postmortem(ctx context.Context, args []string) Reply {
	inc, err := h.Manager.Get(ctx, args[0])
	if errors.Is(err, incident.ErrNotFound) {
		return Reply{Text: fmt.Sprintf("No incident `%s`. `/medic report` lists the recent ones.", esc(args[0]))}
	}
	if err != nil {
		return Reply{Text: "Could not read the incident; try again in a minute."}
	}
	var b strings.Builder
	_ = report.WritePostmortem(&b, inc, h.now())
	return Reply{Text: fmt.Sprintf("Postmortem draft of `%s` (Markdown, to paste into your review document):\n", inc.ID) +
		slack.CodeBlock(b.String(), "`medic postmortem "+inc.ID+"`")}
}
