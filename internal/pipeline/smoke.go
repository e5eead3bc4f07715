package pipeline

import (
	"context"

	"go.uber.org/zap"

	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/notify"
	"github.com/ecs-medic/ecs-medic/internal/smoke"
)

// smokeTest tells every receiver about a smoke test and stores nothing: no incident, no mark,
// so there is nothing to clean up. Its actions say what each receiver did.
func (p *Pipeline) smokeTest(ctx context.Context, t smoke.Test, bad error) Result {
	res := Result{ID: t.ID, DetailType: smoke.DetailType, Outcome: OutcomeSmoke, Actions: []string{}}
	if bad != nil {
		res.Outcome, res.Error = OutcomeError, bad.Error()
		return res
	}
	stand := &incident.Incident{ID: t.ID, Title: t.Summary()}
	for _, r := range p.sender.Send(ctx, notify.Notification{Kind: notify.Test, Incident: stand}) {
		switch {
		case r.Err != nil:
			res.Actions = append(res.Actions, r.Notifier+": failed: "+r.Err.Error())
		case r.Skipped != "":
			res.Actions = append(res.Actions, r.Notifier+": skipped: "+r.Skipped)
		default:
			res.Actions = append(res.Actions, r.Notifier+": sent")
		}
	}
	p.log.Info("smoke test", zap.String("event_id", t.ID), zap.Strings("actions", res.Actions))
	return res
}
