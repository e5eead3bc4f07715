package scenario

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// SideBySide sends the same crash-loop storm, one event per request from s.Clients senders, to
// ecs-medic and to Prometheus Alertmanager in turn, rounds times, and reports each one's ingest
// rate and their ratio (the median of the rounds). Alternating on the same machine in one run
// makes the ratio fair under whatever else the machine is doing. ecs-medic's counts are checked
// in every round: one incident and one page per service and cause, every occurrence counted once,
// every redelivery recognised.
func SideBySide(ctx context.Context, s Scale, rounds int) (Result, error) {
	r := Result{Name: "ingest side by side: ecs-medic ÷ Alertmanager"}
	bodies, dups := stormEvents(s.Events, s.Services, 1)
	alerts, err := amAlerts(bodies)
	if err != nil {
		return r, err
	}
	var ratios, cpuRatios []float64
	var medicRates, amRates, medicCPU, amCPU, firstPages []string
	for round := range max(rounds, 1) {
		cpu0 := selfCPU()
		medic, firstPage, err := medicRound(ctx, s, bodies, dups, &r)
		if err != nil {
			return r, fmt.Errorf("round %d: %w", round+1, err)
		}
		firstPages = append(firstPages, firstPage.Round(time.Millisecond).String())
		medicPer := (selfCPU() - cpu0) / time.Duration(len(bodies))
		am, err := startAlertmanager(ctx)
		if err != nil {
			return r, err
		}
		cpu0, amCPU0 := selfCPU(), procCPU(am.pid)
		sent := am.post(ctx, alerts, s.Clients)
		amPer := (selfCPU() - cpu0 + procCPU(am.pid) - amCPU0) / time.Duration(len(alerts))
		am.stop()
		amRate := float64(len(alerts)) / sent.Elapsed.Seconds()
		ratios = append(ratios, medic/amRate)
		medicRates = append(medicRates, fmt.Sprintf("%.0f", medic))
		amRates = append(amRates, fmt.Sprintf("%.0f", amRate))
		medicCPU = append(medicCPU, medicPer.Round(time.Microsecond).String())
		amCPU = append(amCPU, amPer.Round(time.Microsecond).String())
		if medicPer > 0 {
			cpuRatios = append(cpuRatios, float64(amPer)/float64(medicPer))
		}
	}
	slices.Sort(ratios)
	slices.Sort(cpuRatios)
	r.figure("events, one per request / senders", "%d / %d (%d services × 3 causes, 5 %% redelivered)", len(bodies), s.Clients, s.Services)
	r.figure("ecs-medic, events/s by round", "%s", strings.Join(medicRates, ", "))
	r.figure("Alertmanager, alerts/s by round", "%s", strings.Join(amRates, ", "))
	r.figure("ratio of events/s (median of rounds)", "%.2f×", ratios[len(ratios)/2])
	r.figure("ecs-medic, first event → first page, by round", "%s", strings.Join(firstPages, ", "))
	r.figure("CPU per event, server and load generator: ecs-medic / Alertmanager", "%s / %s", strings.Join(medicCPU, ", "), strings.Join(amCPU, ", "))
	if len(cpuRatios) > 0 {
		r.figure("events per CPU-second, ecs-medic ÷ Alertmanager (median)", "%.2f×", cpuRatios[len(cpuRatios)/2])
	}
	return r, nil
}

// medicRound sends the storm through a fresh `medic serve` stack and checks its counts; it
// returns the events per second and the time from the first event to the first page accepted
// by PagerDuty (as the incident's timeline records it).
func medicRound(ctx context.Context, s Scale, bodies [][]byte, dups int, r *Result) (float64, time.Duration, error) {
	e, err := NewEnv(ctx, Options{Services: services(s.Services)})
	if err != nil {
		return 0, 0, err
	}
	// The storm's Slack messages go out over the next minute at Slack's pace (the crash-loop
	// storm scenario checks they all do); here the round ends with the ingest.
	defer func() {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		e.closeWithin(cctx)
	}()
	sent, err := Post(ctx, e.URL+"/events", bodies, s.Clients)
	if err != nil {
		return 0, 0, err
	}
	rate := float64(len(bodies)) / sent.Elapsed.Seconds()
	r.expect(sent.Rejected == 0, "%d events refused", sent.Rejected)
	want := s.Services * 3
	incs := e.incidents(ctx)
	occ, dupSeen := 0, 0
	for _, inc := range incs {
		occ += inc.Occurrences.Count
		dupSeen += inc.Suppressed["duplicate"]
	}
	r.expect(len(incs) == want, "%d incidents, want %d", len(incs), want)
	r.expect(occ == s.Events, "%d occurrences, want %d", occ, s.Events)
	r.expect(dupSeen == dups, "%d redeliveries recognised, %d sent", dupSeen, dups)
	r.expect(len(e.PD.Events("trigger")) == want, "%d pages, want %d", len(e.PD.Events("trigger")), want)
	var firstPage time.Time
	for _, inc := range incs {
		for _, en := range inc.Timeline {
			if en.Actor == "pagerduty" && en.Kind == "notified" && (firstPage.IsZero() || en.At.Before(firstPage)) {
				firstPage = en.At
			}
		}
	}
	return rate, firstPage.Sub(sent.First), nil
}
