package pagerduty

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/PagerDuty/go-pagerduty"

	"github.com/ecs-medic/ecs-medic/internal/config"
)

// Directory reads who is on call from the REST API (MEDIC_PAGERDUTY_API_TOKEN): the service an
// Events API v2 routing key pages, its escalation policy, and who is on call at each level of it.
// A read-only API key is enough.
type Directory struct {
	rest *pagerduty.Client
}

// NewDirectory returns a Directory reading with token; endpoint overrides
// https://api.pagerduty.com ("" for it; tests).
func NewDirectory(token config.Secret, endpoint string) *Directory {
	var o []pagerduty.ClientOptions
	if endpoint != "" {
		o = append(o, pagerduty.WithAPIEndpoint(strings.TrimSuffix(endpoint, "/")))
	}
	c := pagerduty.NewClient(token.Reveal(), o...)
	c.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	return &Directory{rest: c}
}

// Rota is who is on call for one routing key.
type Rota struct {
	// Service is the PagerDuty service whose integration has the key; nil when none has it (the
	// key of an Event Orchestration or a ruleset routes by rules, not to one service).
	Service *Ref
	// Disabled: PagerDuty drops the events of a disabled service, so nobody gets the page.
	Disabled bool
	Policy   *Ref
	Levels   []Level
}

// Ref names a PagerDuty object, with its web address.
type Ref struct{ ID, Name, URL string }

// Level is one escalation level and who is on call at it.
type Level struct {
	Level  uint
	OnCall []Shift
}

// Shift is one person on call at a level.
type Shift struct {
	User, UserURL string
	// Schedule is the schedule that puts them there ("" when the policy names them directly).
	Schedule string
	// Until is when their shift ends; zero when it does not (named directly in the policy).
	Until time.Time
}

// pageSize is PagerDuty's largest page; maxPages bounds a listing (10,000 services), so a
// misbehaving endpoint that always says "more" cannot keep a Slack answer waiting for ever.
const (
	pageSize = 100
	maxPages = 100
)

// OnCall returns who is on call for each routing key, in the order given: the services are
// listed once, with their integrations, and each escalation policy's on-calls read once.
func (d *Directory) OnCall(ctx context.Context, keys []config.Secret) ([]Rota, error) {
	services, err := d.services(ctx)
	if err != nil {
		return nil, fmt.Errorf("pagerduty list services: %w", err)
	}
	byKey := map[string]*pagerduty.Service{}
	for i := range services {
		for _, in := range services[i].Integrations {
			if in.IntegrationKey != "" {
				byKey[in.IntegrationKey] = &services[i]
			}
		}
	}
	levels := map[string][]Level{}
	out := make([]Rota, len(keys))
	for i, k := range keys {
		s := byKey[k.Reveal()]
		if s == nil {
			continue
		}
		r := Rota{Service: &Ref{ID: s.ID, Name: cmp.Or(s.Name, s.Summary), URL: s.HTMLURL}, Disabled: s.Status == "disabled"}
		if p := s.EscalationPolicy; p.ID != "" {
			r.Policy = &Ref{ID: p.ID, Name: cmp.Or(p.Name, p.Summary), URL: p.HTMLURL}
			if _, done := levels[p.ID]; !done {
				if levels[p.ID], err = d.levels(ctx, p.ID); err != nil {
					return nil, fmt.Errorf("pagerduty on-calls of escalation policy %s: %w", p.ID, err)
				}
			}
			r.Levels = levels[p.ID]
		}
		out[i] = r
	}
	return out, nil
}

// services lists every service with its integrations (whose integration_key is the routing key).
// https://developer.pagerduty.com/api-reference/e960cca205c0f-list-services
func (d *Directory) services(ctx context.Context) ([]pagerduty.Service, error) {
	var all []pagerduty.Service
	o := pagerduty.ListServiceOptions{Limit: pageSize, Includes: []string{"integrations"}}
	for range maxPages {
		page, err := d.rest.ListServicesWithContext(ctx, o)
		if err != nil {
			return nil, err
		}
		all = append(all, page.Services...)
		if !page.More || len(page.Services) == 0 {
			return all, nil
		}
		o.Offset += uint(len(page.Services))
	}
	return all, nil
}

// levels reads who is on call now on an escalation policy, grouped by level.
// https://developer.pagerduty.com/api-reference/3a6b910f11050-list-all-of-the-on-calls
func (d *Directory) levels(ctx context.Context, policy string) ([]Level, error) {
	var calls []pagerduty.OnCall
	// earliest: one entry per level and user, the current shift, rather than every future one.
	o := pagerduty.ListOnCallOptions{Limit: pageSize, EscalationPolicyIDs: []string{policy}, Earliest: true, TimeZone: "UTC"}
	for range maxPages {
		page, err := d.rest.ListOnCallsWithContext(ctx, o)
		if err != nil {
			return nil, err
		}
		calls = append(calls, page.OnCalls...)
		if !page.More || len(page.OnCalls) == 0 {
			break
		}
		o.Offset += uint(len(page.OnCalls))
	}
	var out []Level
	for _, c := range calls {
		if c.EscalationPolicy.ID != "" && c.EscalationPolicy.ID != policy {
			continue
		}
		i := slices.IndexFunc(out, func(l Level) bool { return l.Level == c.EscalationLevel })
		if i < 0 {
			out = append(out, Level{Level: c.EscalationLevel})
			i = len(out) - 1
		}
		s := Shift{User: cmp.Or(c.User.Name, c.User.Summary, c.User.ID), UserURL: c.User.HTMLURL,
			Schedule: cmp.Or(c.Schedule.Name, c.Schedule.Summary)}
		if c.End != "" {
			if t, err := time.Parse(time.RFC3339, c.End); err == nil {
				s.Until = t.UTC()
			}
		}
		if !slices.ContainsFunc(out[i].OnCall, func(x Shift) bool { return x.User == s.User && x.Schedule == s.Schedule }) {
			out[i].OnCall = append(out[i].OnCall, s)
		}
	}
	slices.SortFunc(out, func(a, b Level) int { return cmp.Compare(a.Level, b.Level) })
	return out, nil
}

// Explain says in a sentence why a REST API call failed, for a responder: the status PagerDuty
// answered and what to do about it. It never contains the token.
func Explain(err error) string {
	var apiErr pagerduty.APIError
	if errors.As(err, &apiErr) {
		switch code := apiErr.StatusCode; {
		case code == http.StatusUnauthorized:
			return "PagerDuty refused the API token (401 Unauthorized): MEDIC_PAGERDUTY_API_TOKEN is not a valid REST API key. " +
				"Create one under Integrations → API Access Keys (read-only is enough) and set it"
		case code == http.StatusForbidden:
			return "PagerDuty does not let this API token read services and on-calls (403 Forbidden): use a REST API key " +
				"of the account (read-only is enough), or a user token of someone who can see them"
		case code == http.StatusTooManyRequests:
			return "PagerDuty is rate limiting this account's REST API (429 Too Many Requests): try again in a minute"
		case code >= 500:
			return fmt.Sprintf("PagerDuty's REST API failed (HTTP %d): try again in a few minutes; https://status.pagerduty.com says whether it is down", code)
		default:
			return fmt.Sprintf("PagerDuty's REST API answered HTTP %d%s", code, apiMessage(apiErr))
		}
	}
	var netErr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout(),
		strings.Contains(err.Error(), "Client.Timeout"), strings.Contains(err.Error(), "deadline exceeded"):
		return "PagerDuty's REST API did not answer in time: try again in a minute"
	case errors.As(err, &netErr), transportFailed(err):
		return "PagerDuty's REST API could not be reached from here (network): check the outbound route to api.pagerduty.com (or MEDIC_PAGERDUTY_API_URL)"
	}
	return "PagerDuty's answer could not be read"
}

// transportFailed: go-pagerduty reports a request that got no response with its own words and
// the cause formatted in (%v), so the network error's type is lost.
func transportFailed(err error) bool {
	return strings.Contains(err.Error(), "error calling the API endpoint")
}

func apiMessage(e pagerduty.APIError) string {
	if e.APIError.Valid && e.APIError.ErrorObject.Message != "" {
		return ": " + e.APIError.ErrorObject.Message
	}
	return ""
}
