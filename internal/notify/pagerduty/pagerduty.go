// Package pagerduty pages through the PagerDuty Events API v2 (github.com/PagerDuty/go-pagerduty):
// trigger, acknowledge and resolve, with the incident id as dedup_key; and, with a REST API token,
// escalates a page nobody acknowledged to the next level of its escalation policy.
// https://developer.pagerduty.com/docs/events-api-v2/overview/
package pagerduty

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/PagerDuty/go-pagerduty"

	"github.com/ecs-medic/ecs-medic/internal/config"
	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/notify"
	"github.com/ecs-medic/ecs-medic/internal/severity"
)

// Name is the notifier's name in timelines and metrics.
const Name = "pagerduty"

// Notifier pages PagerDuty.
type Notifier struct {
	client     *pagerduty.Client
	routingKey config.Secret
	pageP3     bool
	// rest is the REST API client (MEDIC_PAGERDUTY_API_TOKEN), nil without a token; from is the
	// From header PagerDuty requires of account-level tokens on changes.
	rest *pagerduty.Client
	from string
}

var _ notify.Notifier = (*Notifier)(nil)

// Option configures a Notifier.
type Option func(*Notifier, *[]pagerduty.ClientOptions)

// WithEndpoint overrides the Events API base URL (MEDIC_PAGERDUTY_EVENTS_URL: the EU service,
// tests). Either the base ("https://events.eu.pagerduty.com") or the full enqueue URL is accepted.
func WithEndpoint(u string) Option {
	return func(_ *Notifier, o *[]pagerduty.ClientOptions) {
		*o = append(*o, pagerduty.WithV2EventsAPIEndpoint(strings.TrimSuffix(strings.TrimSuffix(u, "/"), "/v2/enqueue")))
	}
}

// WithP3 pages P3 incidents too, at low urgency (severity "warning"); by default P3 goes to Slack only.
func WithP3() Option { return func(n *Notifier, _ *[]pagerduty.ClientOptions) { n.pageP3 = true } }

// WithAPI enables escalation through the REST API with token (MEDIC_PAGERDUTY_API_TOKEN). from is
// the email of a PagerDuty user, sent as the From header that account-level tokens need
// ("" for a user token); endpoint overrides https://api.pagerduty.com ("" for it; tests).
func WithAPI(token config.Secret, from, endpoint string) Option {
	return func(n *Notifier, _ *[]pagerduty.ClientOptions) {
		var o []pagerduty.ClientOptions
		if endpoint != "" {
			o = append(o, pagerduty.WithAPIEndpoint(strings.TrimSuffix(endpoint, "/")))
		}
		n.rest = pagerduty.NewClient(token.Reveal(), o...)
		n.rest.HTTPClient = &http.Client{Timeout: 10 * time.Second}
		n.from = from
	}
}

// KeyLength is the length of an Events API v2 integration (routing) key.
const KeyLength = 32

// New returns a notifier sending with routingKey.
func New(routingKey config.Secret, opts ...Option) *Notifier {
	n := &Notifier{routingKey: routingKey}
	var copts []pagerduty.ClientOptions
	for _, o := range opts {
		o(n, &copts)
	}
	// The Events API needs no REST token; the client's HTTP timeout bounds one attempt.
	n.client = pagerduty.NewClient("", copts...)
	n.client.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	return n
}

// Name implements notify.Notifier.
func (*Notifier) Name() string { return Name }

// Notify implements notify.Notifier. PagerDuty answers 202 when it accepts an event, 400 for an
// invalid one (never retried), 429 when the integration's rate limit (about 120 events a minute)
// is hit and 5xx when it fails: those, and network errors, are worth a retry.
// https://developer.pagerduty.com/docs/events-api-v2/overview/#response-codes--retry-logic
func (n *Notifier) Notify(ctx context.Context, note notify.Notification) (bool, error) {
	inc := note.Incident
	if note.Kind == notify.Test {
		return n.change(ctx, inc)
	}
	paged := note.Ref(Name) != ""
	var action string
	switch note.Kind {
	case notify.Opened, notify.Raised:
		if inc.Severity == severity.P3 && !n.pageP3 && !inc.Page {
			return false, &notify.Skip{Reason: "P3 incidents are not paged unless their runbook says page: true"}
		}
		action = "trigger"
	case notify.Escalated:
		// A second trigger with the same dedup_key only adds a log entry to the open alert: it
		// notifies nobody. Escalating means moving the incident to the next escalation level,
		// which only the REST API does.
		if !paged {
			return false, &notify.Skip{Reason: "never paged"}
		}
		if n.rest == nil {
			return false, &notify.Skip{Reason: "not moved to the next escalation level: set MEDIC_PAGERDUTY_API_TOKEN for that; the escalation policy's own timeouts apply"}
		}
		return n.escalate(ctx, inc)
	case notify.Acknowledged:
		if !paged {
			return false, &notify.Skip{Reason: "never paged"}
		}
		action = "acknowledge"
	case notify.Resolved:
		if !paged {
			return false, &notify.Skip{Reason: "never paged"}
		}
		action = "resolve"
	case notify.Action:
		// A fix applied, refused by a guardrail, or failed: a trigger with the same dedup_key
		// adds it to the open alert's log, so the responder can see why; it pages nobody again.
		if !paged {
			return false, &notify.Skip{Reason: "never paged"}
		}
		action = "trigger"
	default:
		return false, &notify.Skip{Reason: "not a paging event"}
	}
	ev := Event(n.routingKey.Reveal(), action, note.Kind, inc)
	if _, err := n.client.ManageEventWithContext(ctx, ev); err != nil {
		return retryable(err), fmt.Errorf("pagerduty %s %s: %w", action, inc.ID, err)
	}
	if action == "trigger" && note.Kind != notify.Action {
		note.SetRef(inc.ID)
	}
	return false, nil
}

// escalate moves the open PagerDuty incident of inc (found by its incident key, the dedup_key
// ecs-medic triggered it with) one level up its escalation policy.
// https://developer.pagerduty.com/api-reference/8a0e1aa2ec666-update-incidents
func (n *Notifier) escalate(ctx context.Context, inc *incident.Incident) (bool, error) {
	list, err := n.rest.ListIncidentsWithContext(ctx, pagerduty.ListIncidentsOptions{IncidentKey: inc.ID,
		Statuses: []string{"triggered", "acknowledged"}, Limit: 5})
	if err != nil {
		return restRetryable(err), fmt.Errorf("pagerduty find incident %s: %w", inc.ID, err)
	}
	if len(list.Incidents) == 0 {
		return false, &notify.Skip{Reason: "no open PagerDuty incident for it (resolved or acknowledged in PagerDuty already)"}
	}
	pd := list.Incidents[0]
	if pd.Status == "acknowledged" {
		return false, &notify.Skip{Reason: "already acknowledged in PagerDuty"}
	}
	level, err := n.level(ctx, pd)
	if err != nil {
		return restRetryable(err), fmt.Errorf("pagerduty escalation level of %s: %w", pd.ID, err)
	}
	if _, err := n.rest.ManageIncidentsWithContext(ctx, n.from, []pagerduty.ManageIncidentsOptions{{ID: pd.ID, EscalationLevel: level + 1}}); err != nil {
		var apiErr pagerduty.APIError
		if errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusBadRequest {
			// Not worth a re-send every minute: most often the policy has no level after this one.
			return false, &notify.Skip{Reason: fmt.Sprintf("PagerDuty did not move it to level %d (its escalation policy may have no further level): %s", level+1, apiErr.Error())}
		}
		return restRetryable(err), fmt.Errorf("pagerduty escalate %s to level %d: %w", pd.ID, level+1, err)
	}
	return false, nil
}

// change sends a smoke test as a change event: it shows on the service's timeline and never
// opens an alert or pages anyone.
// https://developer.pagerduty.com/docs/events-api-v2/send-change-events
func (n *Notifier) change(ctx context.Context, inc *incident.Incident) (bool, error) {
	ev := pagerduty.ChangeEvent{RoutingKey: n.routingKey.Reveal(), Payload: pagerduty.ChangeEventPayload{
		Summary: inc.Title, Source: "ecs-medic", // no timestamp: PagerDuty uses the time it receives it
		CustomDetails: map[string]any{"smoke_test": inc.ID},
	}}
	if _, err := n.client.CreateChangeEventWithContext(ctx, ev); err != nil {
		return retryable(err), fmt.Errorf("pagerduty change event %s: %w", inc.ID, err)
	}
	return false, nil
}

// level is the escalation level an incident is at: the level its assignees are on call at in its
// escalation policy (1 when that cannot be told).
func (n *Notifier) level(ctx context.Context, pd pagerduty.Incident) (uint, error) {
	var users []string
	for _, a := range pd.Assignments {
		users = append(users, a.Assignee.ID)
	}
	if pd.EscalationPolicy.ID == "" || len(users) == 0 {
		return 1, nil
	}
	out, err := n.rest.ListOnCallsWithContext(ctx, pagerduty.ListOnCallOptions{EscalationPolicyIDs: []string{pd.EscalationPolicy.ID}, UserIDs: users})
	if err != nil {
		return 0, err
	}
	level := uint(0)
	for _, oc := range out.OnCalls {
		if oc.EscalationLevel > 0 && (level == 0 || oc.EscalationLevel < level) {
			level = oc.EscalationLevel
		}
	}
	return max(level, 1), nil
}

// restRetryable: the REST API answers 429 when rate limited and 5xx when it fails.
// https://developer.pagerduty.com/docs/rest-api-v2/rate-limiting/
func restRetryable(err error) bool {
	var apiErr pagerduty.APIError
	if errors.As(err, &apiErr) {
		return apiErr.StatusCode == http.StatusTooManyRequests || apiErr.StatusCode >= 500
	}
	var netErr net.Error
	return errors.As(err, &netErr) || transportFailed(err)
}

func retryable(err error) bool {
	var apiErr pagerduty.EventsAPIV2Error
	if errors.As(err, &apiErr) {
		return apiErr.Temporary()
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	// A proxy or load balancer in front of PagerDuty may answer 502/503/429 without the JSON
	// body go-pagerduty decodes; the status is still in the message.
	if m := statusRE.FindStringSubmatch(err.Error()); m != nil {
		code, _ := strconv.Atoi(m[1])
		return code == http.StatusTooManyRequests || code == http.StatusRequestTimeout || code >= 500
	}
	var netErr net.Error
	return errors.As(err, &netErr) || strings.Contains(err.Error(), "connection refused") || strings.Contains(err.Error(), "EOF")
}

var statusRE = regexp.MustCompile(`status code (\d{3})`)

// Event renders the Events API v2 event for an incident. Exported for golden tests.
func Event(routingKey, action string, kind notify.Kind, inc *incident.Incident) *pagerduty.V2Event {
	ev := &pagerduty.V2Event{RoutingKey: routingKey, Action: action, DedupKey: inc.ID, Client: "ecs-medic"}
	if action != "trigger" {
		return ev
	}
	for _, l := range notify.Links(inc) {
		ev.Links = append(ev.Links, map[string]string{"href": l.URL, "text": l.Text})
	}
	if len(ev.Links) > 0 {
		ev.ClientURL = notify.Links(inc)[0].URL
	}
	details := map[string]any{
		"incident":     inc.ID,
		"cause":        string(inc.Cause),
		"confidence":   string(inc.Confidence),
		"occurrences":  inc.Occurrences.Count,
		"first_seen":   inc.Occurrences.FirstSeen.UTC().Format(time.RFC3339),
		"last_seen":    inc.Occurrences.LastSeen.UTC().Format(time.RFC3339),
		"sla_deadline": inc.SLADeadline.UTC().Format(time.RFC3339),
	}
	if inc.Sub != "" {
		details["sub_cause"] = inc.Sub
	}
	if item := inc.Cause.SOPItem(); item != "" {
		details["sop_002"] = item
	}
	if len(inc.Occurrences.Evidence) > 0 {
		details["evidence"] = inc.Occurrences.Evidence
	}
	if d := inc.Diagnosis; d != nil && d.Container != "" {
		details["container"] = d.Container
		if d.ExitCode != nil {
			details["exit_code"] = *d.ExitCode
		}
	}
	if s := inc.ServiceState; s != nil {
		details["service_state"] = fmt.Sprintf("%d running / %d desired / %d pending", s.Running, s.Desired, s.Pending)
		if s.TaskDefinition != "" {
			details["task_definition"] = s.TaskDefinition
		}
		for _, d := range s.Deployments {
			if d.Status == "PRIMARY" {
				details["deployment"] = fmt.Sprintf("%s %s (%s)", d.ID, d.RolloutState, d.TaskDefinition)
			}
		}
	} else if inc.StateError != "" {
		details["service_state"] = "unknown: " + inc.StateError
	}
	if inc.Facts.TaskDefinition != "" {
		details["failed_task_definition"] = inc.Facts.TaskDefinition
	}
	if inc.Runbook != "" {
		details["runbook"] = notify.RunbookURL(inc)
	}
	if len(inc.LogLines) > 0 {
		details["log_tail"] = strings.Join(inc.LogLines, "\n")
	} else if inc.LogError != "" {
		details["log_tail"] = "unavailable: " + inc.LogError
	}
	if inc.Escalated {
		details["escalated"] = "not acknowledged within the " + notify.HumanDuration(inc.Severity.SLA()) + " response time"
	}
	for i := len(inc.Timeline) - 1; i >= 0; i-- {
		if e := inc.Timeline[i]; strings.HasPrefix(e.Kind, "action") {
			details["automation"] = e.Message + " (" + e.Actor + ")"
			break
		}
	}
	if inc.Stopped != "" {
		details["automation_stopped"] = inc.Stopped
	}
	component, group := inc.Scope.Service, inc.Scope.Cluster
	if inc.Scope.Alarm != "" {
		component, group = inc.Scope.Alarm, "cloudwatch-alarms"
	}
	ev.Payload = &pagerduty.V2Payload{
		Summary:   notify.Summary(inc),
		Source:    fmt.Sprintf("%s/%s/%s", inc.Scope.Account, inc.Scope.Region, strings.TrimPrefix(inc.Scope.Key(), inc.Scope.Account+"/"+inc.Scope.Region+"/")),
		Severity:  map[severity.Level]string{severity.P1: "critical", severity.P2: "error", severity.P3: "warning"}[inc.Severity],
		Timestamp: inc.OpenedAt.UTC().Format(time.RFC3339),
		Component: component,
		Group:     group,
		Class:     string(inc.Cause),
		Details:   details,
	}
	return ev
}
