package chatops

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/ecs-medic/ecs-medic/internal/accounts"
	"github.com/ecs-medic/ecs-medic/internal/config"
	"github.com/ecs-medic/ecs-medic/internal/notify"
	"github.com/ecs-medic/ecs-medic/internal/notify/pagerduty"
	"github.com/ecs-medic/ecs-medic/internal/route"
)

// OnCallFinder reads who is on call for PagerDuty routing keys (pagerduty.Directory): one Rota
// per key, in order.
type OnCallFinder interface {
	OnCall(ctx context.Context, keys []config.Secret) ([]pagerduty.Rota, error)
}

// OnCall is what `/medic oncall` knows of paging: the routes and the routing key of each.
type OnCall struct {
	// Finder is nil without MEDIC_PAGERDUTY_API_TOKEN.
	Finder OnCallFinder
	Routes *route.File // nil without MEDIC_ROUTES
	// Keys are the routing keys by route name (route.DefaultName for the default route, and for
	// MEDIC_PAGERDUTY_ROUTING_KEY without routes). A route whose key could not be read has the
	// reason in KeyErrors instead.
	Keys      map[string]config.Secret
	KeyErrors map[string]string
}

const onCallUsage = "Usage: `/medic oncall [<cluster>/<service>]` (or `<account>/<cluster>/<service>`, or a service name alone); without a service, everyone on call for the routes ecs-medic pages"

// onCallCommand answers `oncall [service]`: read-only, for anyone; PagerDuty is asked after the
// acknowledgement, since listing an account's services can take more than 3 seconds.
func (h *Handler) onCallCommand(ctx context.Context, args []string, responseURL string) Reply {
	if len(args) > 1 {
		return Reply{Text: onCallUsage}
	}
	if len(args) == 1 {
		if _, ok := onCallSubject(args[0]); !ok {
			return Reply{Text: fmt.Sprintf("`%s` is not a service. %s", echo(args[0]), onCallUsage)}
		}
	}
	oc := h.OnCall
	if oc == nil || oc.Finder == nil {
		return Reply{Text: "Who is on call comes from PagerDuty's REST API, and ecs-medic has no token for it. " +
			"An operator sets MEDIC_PAGERDUTY_API_TOKEN (or MEDIC_PAGERDUTY_API_TOKEN_ARN / _SSM) to a REST API key: " +
			"PagerDuty → Integrations → API Access Keys, read-only is enough. The same token lets ecs-medic escalate an unacknowledged page."}
	}
	if len(oc.Keys) == 0 && len(oc.KeyErrors) == 0 {
		return Reply{Text: "ecs-medic pages nobody: no PagerDuty routing key is configured (MEDIC_PAGERDUTY_ROUTING_KEY, or pagerduty_routing_key in MEDIC_ROUTES), so nobody is on call for its incidents."}
	}
	h.runLater(ctx, Job{Kind: JobOncall, Args: args, ResponseURL: responseURL})
	return Reply{Text: "Asking PagerDuty who is on call…"}
}

// onCallSubject reads `<service>`, `<cluster>/<service>` or `<account>/<cluster>/<service>`;
// what is not given is not known, and routes that depend on it are listed with their condition.
func onCallSubject(s string) (route.Subject, bool) {
	parts := strings.Split(s, "/")
	for _, p := range parts {
		if p == "" {
			return route.Subject{}, false
		}
	}
	switch len(parts) {
	case 1:
		return route.Subject{Service: parts[0]}, true
	case 2:
		return route.Subject{Cluster: parts[0], Service: parts[1]}, true
	case 3:
		if !accounts.IsAccountID(parts[0]) {
			return route.Subject{}, false
		}
		return route.Subject{Account: parts[0], Cluster: parts[1], Service: parts[2]}, true
	}
	return route.Subject{}, false
}

// rotaGroup is one routing key and the routes that page with it.
type rotaGroup struct {
	routes []string
	when   string // for one service: which of its incidents take these routes
	key    config.Secret
	keyErr string
}

// onCall is the deferred `oncall` job.
func (h *Handler) onCall(ctx context.Context, args []string) Reply {
	oc := h.OnCall
	if oc == nil || oc.Finder == nil {
		return Reply{Text: "Who is on call needs MEDIC_PAGERDUTY_API_TOKEN."}
	}
	var groups []*rotaGroup
	var title string
	if len(args) == 1 {
		subject, ok := onCallSubject(args[0])
		if !ok {
			return Reply{Text: onCallUsage}
		}
		title = fmt.Sprintf("*Who is on call for `%s`*", echo(args[0]))
		for _, c := range oc.Routes.Candidates(subject) {
			groups = append(groups, &rotaGroup{routes: []string{c.Name}, when: c.When, key: oc.Keys[c.Name], keyErr: oc.KeyErrors[c.Name]})
		}
	} else {
		title = "*Who is on call* for every route ecs-medic pages"
		byKey := map[config.Secret]*rotaGroup{}
		slackOnly := &rotaGroup{}
		for _, name := range oc.Routes.Names() {
			key, keyErr := oc.Keys[name], oc.KeyErrors[name]
			switch {
			case keyErr != "":
				groups = append(groups, &rotaGroup{routes: []string{name}, keyErr: keyErr})
			case key == "":
				slackOnly.routes = append(slackOnly.routes, name)
			case byKey[key] != nil:
				byKey[key].routes = append(byKey[key].routes, name)
			default:
				byKey[key] = &rotaGroup{routes: []string{name}, key: key}
				groups = append(groups, byKey[key])
			}
		}
		if len(slackOnly.routes) > 0 {
			groups = append(groups, slackOnly)
		}
	}
	var keys []config.Secret
	index := map[config.Secret]int{}
	for _, g := range groups {
		if _, seen := index[g.key]; g.key != "" && !seen {
			index[g.key] = len(keys)
			keys = append(keys, g.key)
		}
	}
	var rotas []pagerduty.Rota
	if len(keys) > 0 {
		var err error
		if rotas, err = oc.Finder.OnCall(ctx, keys); err != nil {
			h.Log.Warn("pagerduty on-call", zap.Error(err))
			return Reply{Text: ":warning: Could not read who is on call: " + esc(pagerduty.Explain(err)) + "."}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, ":pager: %s\n", title)
	for i, g := range groups {
		b.WriteString(h.routeLine(oc.Routes, g, len(args) == 1, i))
		switch {
		case g.keyErr != "":
			fmt.Fprintf(&b, "   :warning: its PagerDuty key could not be read, so its incidents page nobody: %s\n", esc(g.keyErr))
		case g.key == "":
			b.WriteString("   pages nobody: no PagerDuty key (MEDIC_PAGERDUTY_ROUTING_KEY or pagerduty_routing_key), Slack only\n")
		case index[g.key] >= len(rotas): // a finder that answered fewer keys than asked
			b.WriteString("   PagerDuty said nothing about this key\n")
		default:
			writeRota(&b, rotas[index[g.key]], h.now())
		}
	}
	return Reply{Text: strings.TrimRight(b.String(), "\n")}
}

// routeLine names a group's routes: for one service, which of its incidents take them; for the
// list, what each route matches.
func (h *Handler) routeLine(f *route.File, g *rotaGroup, forService bool, i int) string {
	var names []string
	for _, n := range g.routes {
		s := "`" + esc(n) + "`"
		if !forService {
			if m := matchWords(f, n); m != "" {
				// In code: a glob's * would otherwise start or end bold text.
				s += " (`" + esc(m) + "`)"
			}
		}
		names = append(names, s)
	}
	word := "Route"
	if len(names) > 1 {
		word = "Routes"
	}
	switch {
	case !forService:
		return fmt.Sprintf("*%s* %s\n", word, strings.Join(names, ", "))
	case g.when != "":
		return fmt.Sprintf("*Incidents with %s* → route %s\n", esc(g.when), names[0])
	case i > 0:
		return fmt.Sprintf("*Its other incidents* → route %s\n", names[0])
	}
	return fmt.Sprintf("*Route* %s\n", names[0])
}

// matchWords says what a route matches, e.g. "cluster prod, service pay*".
func matchWords(f *route.File, name string) string {
	if f == nil {
		return ""
	}
	if name == route.DefaultName {
		return "everything no other route takes"
	}
	for _, r := range f.Routes {
		if r.Name != name {
			continue
		}
		var w []string
		for _, p := range [][2]string{{"account", r.Match.Account}, {"region", r.Match.Region}, {"cluster", r.Match.Cluster},
			{"service", r.Match.Service}, {"cause", r.Match.Cause}} {
			if p[1] != "" {
				w = append(w, p[0]+" "+p[1])
			}
		}
		if len(r.Match.Tags) > 0 {
			w = append(w, fmt.Sprintf("%d tag(s)", len(r.Match.Tags)))
		}
		if len(w) == 0 {
			return "everything"
		}
		return strings.Join(w, ", ")
	}
	return ""
}

// writeRota writes one key's PagerDuty service, policy and people, level by level.
func writeRota(b *strings.Builder, r pagerduty.Rota, now time.Time) {
	if r.Service == nil {
		b.WriteString("   :warning: no PagerDuty service has an Events API v2 integration with this key. A key of an Event Orchestration routes by its rules: look there; otherwise the key is wrong and pages are dropped\n")
		return
	}
	fmt.Fprintf(b, "   PagerDuty service %s", link(r.Service))
	if r.Policy != nil {
		fmt.Fprintf(b, " · escalation policy %s", link(r.Policy))
	}
	b.WriteString("\n")
	if r.Disabled {
		b.WriteString("   :warning: the service is disabled in PagerDuty: it drops every page\n")
	}
	if r.Policy == nil {
		b.WriteString("   :warning: the service has no escalation policy: a page reaches nobody\n")
		return
	}
	if len(r.Levels) == 0 {
		b.WriteString("   :warning: nobody is on call on this policy right now: a page reaches nobody\n")
		return
	}
	for _, l := range r.Levels {
		var people []string
		for _, s := range l.OnCall {
			p := notify.SlackEscape(s.User)
			if s.UserURL != "" {
				p = notify.SlackLink(s.UserURL, s.User)
			}
			switch {
			case s.Schedule != "" && !s.Until.IsZero():
				left := "in " + age(s.Until.Sub(now))
				if s.Until.Sub(now) < time.Minute {
					left = "handing over now"
				}
				p += fmt.Sprintf(" (%s, until %s, %s)", esc(s.Schedule), s.Until.UTC().Format("Mon Jan 2 15:04 UTC"), left)
			case s.Schedule != "":
				p += fmt.Sprintf(" (%s)", esc(s.Schedule))
			default:
				p += " (named in the policy, always)"
			}
			people = append(people, p)
		}
		fmt.Fprintf(b, "   Level %d: %s\n", l.Level, strings.Join(people, " · "))
	}
}

func link(r *pagerduty.Ref) string {
	if r.URL == "" {
		return "*" + esc(r.Name) + "*"
	}
	return notify.SlackLink(r.URL, r.Name)
}
