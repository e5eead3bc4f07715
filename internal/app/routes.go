package app

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"go.uber.org/zap"

	"github.com/ecs-medic/ecs-medic/internal/config"
	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/notify"
	"github.com/ecs-medic/ecs-medic/internal/notify/console"
	"github.com/ecs-medic/ecs-medic/internal/notify/pagerduty"
	"github.com/ecs-medic/ecs-medic/internal/notify/slack"
	"github.com/ecs-medic/ecs-medic/internal/route"
	"github.com/ecs-medic/ecs-medic/internal/secrets"
)

// routeOf chooses a new incident's route from its scope, cause and its service's tags.
func routeOf(f *route.File) func(incident.Signal) string {
	return func(sig incident.Signal) string {
		s := route.Subject{Account: sig.Scope.Account, Region: sig.Scope.Region, Cluster: sig.Scope.Cluster,
			Service: sig.Scope.Service, Cause: string(sig.Cause)}
		if sig.Scope.Alarm != "" {
			s.Service = ""
		}
		if sig.State != nil {
			s.Tags = sig.State.Tags
			if s.Tags == nil {
				s.Tags = map[string]string{} // read, and the service has none
			}
		}
		return f.Choose(s)
	}
}

// senders builds the receivers: without routes, one fan-out to MEDIC_SLACK_CHANNEL and
// MEDIC_PAGERDUTY_ROUTING_KEY; with routes, one fan-out per route, the default's included. A
// route whose key cannot be read gets a receiver that fails saying why, and the others work.
// The keys read are returned by route too, for `/medic oncall`.
// Each channel's notifier goes through queue (a background notify.Queue per channel in an App
// that is started).
func senders(ctx context.Context, cfg config.Config, routes *route.File, awsCfg aws.Config, awsReason string, out io.Writer, log *zap.Logger,
	queue func(notify.Notifier) notify.Notifier) (notify.Sender, pagerKeys, error) {
	pk := pagerKeys{keys: map[string]config.Secret{}, errs: map[string]string{}}
	token := cfg.SlackBotToken.Value
	channels := map[string]notify.Notifier{} // one per channel, so routes sharing one share its pacing and queue
	slackFor := func(channel string) notify.Notifier {
		n, ok := channels[channel]
		if !ok {
			var so []slack.Option
			if cfg.SlackAPIURL != "" {
				so = append(so, slack.WithAPIURL(cfg.SlackAPIURL))
			}
			n = queue(slack.New(token, channel, so...))
			channels[channel] = n
		}
		return n
	}
	pagerFor := func(key config.Secret, p3 bool) notify.Notifier {
		var po []pagerduty.Option
		if cfg.PagerDutyEventsURL != "" {
			po = append(po, pagerduty.WithEndpoint(cfg.PagerDutyEventsURL))
		}
		if p3 {
			po = append(po, pagerduty.WithP3())
		}
		if tok := cfg.PagerDutyAPIToken.Value; tok != "" {
			// Escalation to the next level goes through the REST API (one token for every route).
			po = append(po, pagerduty.WithAPI(tok, cfg.PagerDutyFrom, cfg.PagerDutyAPIURL))
		}
		return pagerduty.New(key, po...)
	}
	if routes == nil {
		var notifiers []notify.Notifier
		if key := cfg.PagerDutyRoutingKey.Value; key != "" {
			notifiers = append(notifiers, pagerFor(key, false))
			pk.keys[route.DefaultName] = key
		} else {
			log.Info("MEDIC_PAGERDUTY_ROUTING_KEY is not set: no paging")
		}
		switch {
		case token != "" && cfg.SlackChannel != "":
			notifiers = append(notifiers, slackFor(cfg.SlackChannel))
		case token != "" || cfg.SlackChannel != "":
			return nil, pk, errors.New("posting to Slack needs both MEDIC_SLACK_BOT_TOKEN and MEDIC_SLACK_CHANNEL")
		}
		if len(notifiers) == 0 && out != nil {
			notifiers = append(notifiers, console.New(out))
		}
		return notify.NewFanout(notifiers), pk, nil
	}

	var sm secrets.SecretsManager
	var ps secrets.Parameters
	if awsReason == "" {
		rd := secrets.NewAWS(awsCfg)
		sm, ps = rd, rd
	}
	keys := map[config.SecretRef]config.Secret{} // each key read once, however many routes share it
	keyErrs := map[config.SecretRef]error{}
	byRoute := map[string]notify.Sender{}
	var fallback notify.Sender
	paging := false
	for _, name := range routes.Names() {
		rec := routes.Receivers(name, route.Receivers{SlackChannel: cfg.SlackChannel})
		var notifiers []notify.Notifier
		key, keyErr := cfg.PagerDutyRoutingKey.Value, error(nil)
		if rec.HasKey() {
			ref := config.SecretRef{Value: config.Secret(rec.PagerDutyRoutingKey), ARN: rec.PagerDutyRoutingKeyARN, SSM: rec.PagerDutyRoutingKeySSM}
			if _, done := keys[ref]; !done && keyErrs[ref] == nil {
				r := ref
				switch {
				case ref.Value == "" && awsReason != "":
					keyErrs[ref] = fmt.Errorf("route %s: reading its PagerDuty key needs AWS: %s", name, awsReason)
				default:
					if err := secrets.ResolveRef(ctx, "route "+name+": pagerduty_routing_key", &r, sm, ps); err != nil {
						keyErrs[ref] = err
					} else {
						keys[ref] = r.Value
					}
				}
			}
			key, keyErr = keys[ref], keyErrs[ref]
		}
		p3 := rec.PageP3 != nil && *rec.PageP3
		switch {
		case keyErr != nil:
			log.Error("a route's PagerDuty key could not be read: its incidents are not paged; other routes are", zap.String("route", name), zap.Error(keyErr))
			notifiers = append(notifiers, route.Broken{Receiver: pagerduty.Name, Err: keyErr})
			pk.errs[name] = keyErr.Error()
		case key != "":
			notifiers = append(notifiers, pagerFor(key, p3))
			pk.keys[name] = key
			paging = true
		}
		if rec.SlackChannel != "" {
			if token == "" {
				return nil, pk, fmt.Errorf("%s: route %s posts to Slack channel %s, but MEDIC_SLACK_BOT_TOKEN is not set", routes.Path, name, rec.SlackChannel)
			}
			notifiers = append(notifiers, slackFor(rec.SlackChannel))
		}
		if len(notifiers) == 0 && out != nil {
			notifiers = append(notifiers, console.New(out))
		}
		f := notify.NewFanout(notifiers)
		if name == route.DefaultName {
			fallback = f
		} else {
			byRoute[name] = f
		}
	}
	if !paging {
		log.Info("no PagerDuty routing key in MEDIC_ROUTES or MEDIC_PAGERDUTY_ROUTING_KEY: no paging")
	}
	return route.NewSender(byRoute, fallback), pk, nil
}

// pagerKeys are the PagerDuty routing keys by route name (route.DefaultName without routes), and
// why a route's could not be read.
type pagerKeys struct {
	keys map[string]config.Secret
	errs map[string]string
}
