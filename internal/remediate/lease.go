package remediate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/runbook"
)

// nonce names one handler's hold on a lease: distinct even for handlers started at one instant.
func nonce() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// lease takes the service's action lease and checks cooldown and the daily cap, atomically.
// hint says what to do about a cooldown.
func (r *Remediator) lease(ctx context.Context, inc *incident.Incident, holder string, fix runbook.Fix, force bool, hint string) (string, error) {
	now := r.Manager.Now()
	reason := ""
	_, err := r.Guards.UpdateGuard(ctx, inc.Scope, func(g *incident.Guard) error {
		reason = ""
		var recent []time.Time
		for _, t := range g.Actions {
			if now.Sub(t) < 24*time.Hour {
				recent = append(recent, t)
			}
		}
		g.Actions = recent
		switch {
		case g.LeaseUntil.After(now) && g.LeaseHolder != holder:
			reason = "another action on this service is under way: wait a minute or two for its outcome in the thread"
		case len(recent) > 0 && now.Sub(recent[len(recent)-1]) < fix.Cooldown.Duration && !force:
			reason = fmt.Sprintf("cooldown: the last action on this service was %s ago and the runbook waits %s between actions; %s",
				incident.HumanDuration(now.Sub(recent[len(recent)-1])), incident.HumanDuration(fix.Cooldown.Duration), hint)
		case len(recent) >= fix.MaxPerDay:
			// Not even force passes this: it is the bound on what automation and people together
			// may do to a service in a day.
			reason = fmt.Sprintf("%d actions on this service in the last 24 h, the most its runbook allows (max_per_day); the next is possible after %s UTC, or do it by hand in the ECS console",
				len(recent), recent[len(recent)-fix.MaxPerDay].Add(24*time.Hour).UTC().Format("Jan 2 15:04"))
		}
		if reason != "" {
			return errSkip
		}
		g.LeaseHolder, g.LeaseUntil = holder, now.Add(2*time.Minute)
		// The action is counted when it is about to start, not when it ends: a handler killed
		// mid-action leaves the cooldown in force, so a retry cannot act a second time.
		g.Actions = append(g.Actions, now)
		return nil
	})
	if errors.Is(err, errSkip) {
		return reason, nil
	}
	return "", err
}

// unclaim takes back the action counted at the lease when nothing was changed after all
// (planning refused, dry run).
func (r *Remediator) unclaim(ctx context.Context, inc *incident.Incident) {
	_, _ = r.Guards.UpdateGuard(ctx, inc.Scope, func(g *incident.Guard) error {
		if len(g.Actions) > 0 {
			g.Actions = g.Actions[:len(g.Actions)-1]
		}
		return nil
	})
}

func (r *Remediator) release(ctx context.Context, inc *incident.Incident, holder string) {
	_, _ = r.Guards.UpdateGuard(ctx, inc.Scope, func(g *incident.Guard) error {
		if g.LeaseHolder == holder {
			g.LeaseHolder, g.LeaseUntil = "", time.Time{}
		}
		return nil
	})
}
