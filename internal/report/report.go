// Package report turns stored incidents into what a team reviews: the period report (per service,
// incidents by cause and severity, time to acknowledge and to resolve, SLA met or missed, the fixes
// and how they went, recurring causes, texts nobody could classify) and one incident's postmortem
// draft. It is pure: it reads incidents handed to it and a clock value, nothing else.
package report

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ecs-medic/ecs-medic/internal/classify"
	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/severity"
)

// Period is the report over the incidents opened from From to To, both included.
type Period struct {
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
	Services []Service `json:"services"`
	Totals   Stats     `json:"totals"`
	// TopCauses are the causes by how many incidents they opened, most first.
	TopCauses []CauseCount `json:"top_causes"`
	// Recurring are (service, cause) pairs that opened more than one incident in the period: the
	// problems a fix did not stay fixed.
	Recurring []Recurrence `json:"recurring"`
	// Unknown are the distinct texts no rule could classify, most frequent first: what a new
	// classification rule should cover.
	Unknown []UnknownText `json:"unknown"`
}

// Service is one scope's part of the report. Alarm scopes that belong to no service are reported
// under their alarm name, with Service empty.
type Service struct {
	Account string `json:"account"`
	Region  string `json:"region"`
	Cluster string `json:"cluster,omitempty"`
	Service string `json:"service,omitempty"`
	Alarm   string `json:"alarm,omitempty"`
	Stats
}

// Name is how people call the service ("prod/checkout", "alarm HighCPU").
func (s Service) Name() string {
	return incident.Scope{Cluster: s.Cluster, Service: s.Service, Alarm: s.Alarm}.Name()
}

// Stats are the figures of a set of incidents.
type Stats struct {
	Incidents  int            `json:"incidents"`
	ByCause    map[string]int `json:"by_cause"`
	BySeverity map[string]int `json:"by_severity"`
	// MTTASeconds is the mean time from opening to acknowledgement over the acknowledged
	// incidents; MTTRSeconds from opening to resolution over the resolved ones. Nil when no
	// incident was acknowledged (resolved).
	MTTASeconds  *float64 `json:"mtta_seconds"`
	MTTRSeconds  *float64 `json:"mttr_seconds"`
	Acknowledged int      `json:"acknowledged"`
	Resolved     int      `json:"resolved"`
	// SLAMet counts incidents answered (acknowledged, or resolved before anyone had to) by their
	// response deadline; SLAMissed those answered late or still unanswered past it. Incidents still
	// inside their deadline count in neither.
	SLAMet    int `json:"sla_met"`
	SLAMissed int `json:"sla_missed"`
	// Actions counts fixes applied; ActionOutcomes every fix considered, by outcome (applied,
	// failed, refused, planned, suggested).
	Actions        int            `json:"actions"`
	ActionOutcomes map[string]int `json:"action_outcomes"`
	// TasksLost counts the stopped tasks the incidents recorded.
	TasksLost int `json:"tasks_lost"`
	// CostUSD is the monthly cost change of the fixes applied, where they could be priced.
	CostUSD float64 `json:"cost_change_usd_month"`
	// Flaps counts the times a service recovered and failed again within an incident.
	Flaps       int      `json:"flaps"`
	IncidentIDs []string `json:"incident_ids"`

	ackSum, resolveSum time.Duration
}

// CauseCount is how many incidents one cause opened, and in how many services.
type CauseCount struct {
	Cause     string `json:"cause"`
	Incidents int    `json:"incidents"`
	Services  int    `json:"services"`
}

// Recurrence is a cause that opened more than one incident of one service.
type Recurrence struct {
	Scope     string `json:"scope"`
	Cause     string `json:"cause"`
	Incidents int    `json:"incidents"`
}

// UnknownText is one text no rule classified, and how many incidents carried it.
type UnknownText struct {
	Text      string   `json:"text"`
	Incidents int      `json:"incidents"`
	Services  []string `json:"services"`
}

// SLA outcomes of one incident at a point in time.
const (
	SLAMet     = "met"
	SLAMissed  = "missed"
	SLAPending = "pending"
)

// SLAOutcome says whether the incident was answered by its response deadline: acknowledged in
// time, or resolved in time (by a fix or by the service itself) before anyone had to. An incident
// not answered yet is pending until the deadline passes, then missed.
func SLAOutcome(inc *incident.Incident, now time.Time) string {
	answered := answeredAt(inc)
	switch {
	case inc.SLADeadline.IsZero():
		return SLAPending
	case answered != nil && !answered.After(inc.SLADeadline):
		return SLAMet
	case answered != nil:
		return SLAMissed
	case now.After(inc.SLADeadline):
		return SLAMissed
	default:
		return SLAPending
	}
}

func answeredAt(inc *incident.Incident) *time.Time {
	if inc.AcknowledgedAt != nil {
		return inc.AcknowledgedAt
	}
	return inc.ResolvedAt
}

// Action outcomes, from the timeline entries remediation records.
const (
	ActionApplied   = "applied"
	ActionFailed    = "failed"
	ActionRefused   = "refused"
	ActionPlanned   = "planned"
	ActionSuggested = "suggested"
)

// actionOutcome maps a timeline entry to the outcome of a fix, or "" when it is not about one.
func actionOutcome(e incident.Entry) string {
	switch e.Kind {
	case incident.KindAction:
		return ActionApplied
	case incident.KindActionFailed:
		return ActionFailed
	case incident.KindActionSkipped:
		return ActionRefused
	case incident.KindActionPlanned:
		return ActionPlanned
	case incident.KindActionConsidered:
		return ActionSuggested
	}
	return ""
}

// Build reports the incidents opened from from to to, both included. now decides which open incidents are past
// their deadline (usually to, or the current time).
func Build(incs []*incident.Incident, from, to, now time.Time) Period {
	p := Period{From: from, To: to, Services: []Service{}, TopCauses: []CauseCount{}, Recurring: []Recurrence{}, Unknown: []UnknownText{}}
	byScope := map[string]*Service{}
	var order []string
	causeServices := map[string]map[string]bool{}
	recur := map[[2]string]int{}
	unknown := map[string]*UnknownText{}
	for _, inc := range incs {
		if inc.OpenedAt.Before(from) || inc.OpenedAt.After(to) {
			continue
		}
		key := inc.Scope.Key()
		s := byScope[key]
		if s == nil {
			s = &Service{Account: inc.Scope.Account, Region: inc.Scope.Region, Cluster: inc.Scope.Cluster, Service: inc.Scope.Service, Alarm: inc.Scope.Alarm}
			byScope[key] = s
			order = append(order, key)
		}
		s.add(inc, now)
		p.Totals.add(inc, now)

		cause := string(inc.Cause)
		if causeServices[cause] == nil {
			causeServices[cause] = map[string]bool{}
		}
		causeServices[cause][key] = true
		recur[[2]string{key, cause}]++
		if inc.Cause == classify.Unknown {
			for _, text := range unknownTexts(inc) {
				u := unknown[text]
				if u == nil {
					u = &UnknownText{Text: text}
					unknown[text] = u
				}
				u.Incidents++
				if name := inc.Scope.Name(); !slices.Contains(u.Services, name) {
					u.Services = append(u.Services, name)
				}
			}
		}
	}
	for _, key := range order {
		s := byScope[key]
		s.finish()
		p.Services = append(p.Services, *s)
	}
	p.Totals.finish()
	// Busiest services first; ties by name, so the report reads the same every time.
	slices.SortStableFunc(p.Services, func(a, b Service) int {
		return cmp.Or(cmp.Compare(b.Incidents, a.Incidents), cmp.Compare(a.Account, b.Account), cmp.Compare(a.Name(), b.Name()))
	})
	for cause, scopes := range causeServices {
		p.TopCauses = append(p.TopCauses, CauseCount{Cause: cause, Incidents: p.Totals.ByCause[cause], Services: len(scopes)})
	}
	slices.SortFunc(p.TopCauses, func(a, b CauseCount) int {
		return cmp.Or(cmp.Compare(b.Incidents, a.Incidents), cmp.Compare(a.Cause, b.Cause))
	})
	for k, n := range recur {
		if n > 1 {
			s := byScope[k[0]]
			p.Recurring = append(p.Recurring, Recurrence{Scope: s.Name(), Cause: k[1], Incidents: n})
		}
	}
	slices.SortFunc(p.Recurring, func(a, b Recurrence) int {
		return cmp.Or(cmp.Compare(b.Incidents, a.Incidents), cmp.Compare(a.Scope, b.Scope), cmp.Compare(a.Cause, b.Cause))
	})
	for _, u := range unknown {
		slices.Sort(u.Services)
		p.Unknown = append(p.Unknown, *u)
	}
	slices.SortFunc(p.Unknown, func(a, b UnknownText) int {
		return cmp.Or(cmp.Compare(b.Incidents, a.Incidents), cmp.Compare(a.Text, b.Text))
	})
	if len(p.Unknown) > MaxUnknown {
		p.Unknown = p.Unknown[:MaxUnknown]
	}
	return p
}

// MaxUnknown bounds the unknown texts a report lists.
const MaxUnknown = 20

// unknownTexts are the verbatim texts an unknown incident kept: its evidence samples, else the
// stopped reason of the event that opened it.
func unknownTexts(inc *incident.Incident) []string {
	if len(inc.Occurrences.Evidence) > 0 {
		return inc.Occurrences.Evidence
	}
	if t := strings.TrimSpace(inc.Facts.StoppedReason); t != "" {
		return []string{t}
	}
	return nil
}

func (s *Stats) add(inc *incident.Incident, now time.Time) {
	if s.ByCause == nil {
		s.ByCause, s.BySeverity, s.ActionOutcomes = map[string]int{}, map[string]int{}, map[string]int{}
	}
	s.Incidents++
	s.ByCause[string(inc.Cause)]++
	s.BySeverity[severityName(inc.Severity)]++
	s.IncidentIDs = append(s.IncidentIDs, inc.ID)
	if inc.AcknowledgedAt != nil {
		s.Acknowledged++
		s.ackSum += inc.AcknowledgedAt.Sub(inc.OpenedAt)
	}
	if inc.ResolvedAt != nil {
		s.Resolved++
		s.resolveSum += inc.ResolvedAt.Sub(inc.OpenedAt)
	}
	switch SLAOutcome(inc, now) {
	case SLAMet:
		s.SLAMet++
	case SLAMissed:
		s.SLAMissed++
	}
	for _, e := range inc.Timeline {
		if o := actionOutcome(e); o != "" {
			s.ActionOutcomes[o]++
			if o == ActionApplied {
				s.Actions++
				if e.CostUSD != nil {
					s.CostUSD += *e.CostUSD
				}
			}
		}
	}
	if isTaskCause(inc.Cause) {
		s.TasksLost += inc.Occurrences.Count
	}
	s.Flaps += inc.Flaps
}

func (s *Stats) finish() {
	if s.ByCause == nil {
		s.ByCause, s.BySeverity, s.ActionOutcomes = map[string]int{}, map[string]int{}, map[string]int{}
	}
	if s.IncidentIDs == nil {
		s.IncidentIDs = []string{}
	}
	slices.Sort(s.IncidentIDs)
	if s.Acknowledged > 0 {
		v := (s.ackSum / time.Duration(s.Acknowledged)).Seconds()
		s.MTTASeconds = &v
	}
	if s.Resolved > 0 {
		v := (s.resolveSum / time.Duration(s.Resolved)).Seconds()
		s.MTTRSeconds = &v
	}
}

func severityName(l severity.Level) string {
	if l < severity.P1 || l > severity.P3 {
		return "P3"
	}
	return l.String()
}

// isTaskCause reports whether the cause's occurrences are stopped tasks (not service actions,
// deployments or alarm transitions), so they count as tasks lost.
func isTaskCause(c classify.Cause) bool {
	return c != classify.Expected && slices.Contains(classify.Causes, c)
}

// MaxSince bounds a report's period: ten years, enough to take in any recorded scenario (the
// incidents read are capped anyway).
const MaxSince = 3660 * 24 * time.Hour

// ParseSince reads a report period as people write it: a Go duration ("36h", "90m") or a number
// of days or weeks ("7d", "2w"), from one minute to ten years.
func ParseSince(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	var d time.Duration
	if n, unit, ok := cutUnit(s); ok {
		d = time.Duration(n) * unit
	} else {
		parsed, err := time.ParseDuration(s)
		if err != nil {
			return 0, fmt.Errorf("%q is not a period: write it as 24h, 7d or 2w", s)
		}
		d = parsed
	}
	if d < time.Minute || d > MaxSince {
		return 0, fmt.Errorf("%q: a period is between 1m and 3660d", s)
	}
	return d, nil
}

func cutUnit(s string) (int, time.Duration, bool) {
	if len(s) < 2 {
		return 0, 0, false
	}
	unit := map[byte]time.Duration{'d': 24 * time.Hour, 'w': 7 * 24 * time.Hour}[s[len(s)-1]]
	if unit == 0 {
		return 0, 0, false
	}
	n, err := strconv.Atoi(s[:len(s)-1])
	if err != nil || n < 0 || n > 10000 {
		return 0, 0, false
	}
	return n, unit, true
}
