package report

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/ecs-medic/ecs-medic/internal/incident"
)

// WriteText writes the period report as plain text for a terminal or a Slack code block.
func WriteText(w io.Writer, p Period) error {
	b := &strings.Builder{}
	fmt.Fprintf(b, "ecs-medic report: %s → %s (%s)\n", p.From.UTC().Format(time.DateTime), p.To.UTC().Format(time.DateTime), incident.HumanDuration(p.To.Sub(p.From)))
	t := p.Totals
	if t.Incidents == 0 {
		fmt.Fprintln(b, "\nNo incidents in this period.")
		_, err := io.WriteString(w, b.String())
		return err
	}
	fmt.Fprintf(b, "\n%d incident(s) in %d service(s): %s\n", t.Incidents, len(p.Services), counts(t.BySeverity))
	fmt.Fprintf(b, "  MTTA %s over %d acknowledged · MTTR %s over %d resolved · SLA met %d, missed %d\n",
		seconds(t.MTTASeconds), t.Acknowledged, seconds(t.MTTRSeconds), t.Resolved, t.SLAMet, t.SLAMissed)
	fmt.Fprintf(b, "  fixes applied %d%s%s · tasks lost %d%s\n", t.Actions, outcomes(t.ActionOutcomes), costOf(t.CostUSD), t.TasksLost, flaps(t.Flaps))

	fmt.Fprintln(b, "\nBy service")
	for _, s := range p.Services {
		fmt.Fprintf(b, "\n  %s  (%s, %s)\n", s.Name(), s.Account, s.Region)
		fmt.Fprintf(b, "    incidents %d: %s; %s\n", s.Incidents, counts(s.ByCause), counts(s.BySeverity))
		fmt.Fprintf(b, "    MTTA %s · MTTR %s · SLA met %d, missed %d · fixes applied %d%s%s · tasks lost %d%s\n",
			seconds(s.MTTASeconds), seconds(s.MTTRSeconds), s.SLAMet, s.SLAMissed, s.Actions, outcomes(s.ActionOutcomes), costOf(s.CostUSD), s.TasksLost, flaps(s.Flaps))
		fmt.Fprintf(b, "    %s\n", strings.Join(s.IncidentIDs, " "))
	}
	if len(p.TopCauses) > 0 {
		fmt.Fprintln(b, "\nTop causes")
		for _, c := range p.TopCauses {
			fmt.Fprintf(b, "  %-18s %3d incident(s) in %d service(s)\n", c.Cause, c.Incidents, c.Services)
		}
	}
	if len(p.Recurring) > 0 {
		fmt.Fprintln(b, "\nRecurring (the same cause opened again after it resolved)")
		for _, r := range p.Recurring {
			fmt.Fprintf(b, "  %s  %s ×%d\n", r.Scope, r.Cause, r.Incidents)
		}
	}
	if len(p.Unknown) > 0 {
		fmt.Fprintln(b, "\nUnclassified texts (add a rule for these to your runbook folder's classify.yaml)")
		for _, u := range p.Unknown {
			fmt.Fprintf(b, "  ×%d %q  (%s)\n", u.Incidents, u.Text, strings.Join(u.Services, ", "))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// counts renders a tally as "oom-killed 3, image-pull 1", largest first.
func counts(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	keys := slices.SortedFunc(maps.Keys(m), func(a, b string) int { return cmp.Or(cmp.Compare(m[b], m[a]), cmp.Compare(a, b)) })
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func outcomes(m map[string]int) string {
	var parts []string
	for _, k := range []string{ActionFailed, ActionRefused, ActionPlanned, ActionSuggested} {
		if m[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

func costOf(usd float64) string {
	if usd == 0 {
		return ""
	}
	return fmt.Sprintf(" · fixes cost %+.2f USD/month", usd)
}

func flaps(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(" · flapped %d×", n)
}

func seconds(s *float64) string {
	if s == nil {
		return "—"
	}
	return incident.HumanDuration(time.Duration(*s * float64(time.Second)))
}
