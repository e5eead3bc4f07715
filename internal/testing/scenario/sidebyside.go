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
//
// post is the load generator, the same for both: with a ChildPoster it is a process of its own,
// and each server's CPU is measured alone (ecs-medic's stack is this process, Alertmanager is its
// own), with InProcess ecs-medic's figure includes the load generator's.
func SideBySide(ctx context.Context, s Scale, rounds int, post Poster) (Result, error) {
	r := Result{Name: "ingest side by side: ecs-medic ÷ Alertmanager"}
	bodies, dups := stormEvents(s.Events, s.Services, 1)
	alerts, err := amAlerts(bodies)
	if err != nil {
		return r, err
	}
	separate := true
	var ratios, cpuRatios, serverRatios []float64
	var medicRates, amRates, medicCPU, amCPU, firstPages, loadCPU, servers []string
	for round := range max(rounds, 1) {
		medic, medicCPUUsed, medicLoad, firstPage, err := medicRound(ctx, s, bodies, dups, post, &r)
		if err != nil {
			return r, fmt.Errorf("round %d: %w", round+1, err)
		}
		firstPages = append(firstPages, firstPage.Round(time.Millisecond).String())
		// With the load generator in this process, its CPU is in medicCPUUsed already.
		medicServer := medicCPUUsed / time.Duration(len(bodies))
		medicPer := medicServer
		am, err := startAlertmanager(ctx)
		if err != nil {
			return r, err
		}
		cpu0, amCPU0 := selfCPU(), procCPU(am.pid)
		// Errors are not counted: Alertmanager's answer to each post is not what is compared.
		sent, amLoad, _ := post(ctx, am.base+"/api/v2/alerts", alerts, s.Clients)
		if amLoad < 0 {
			// In this process, which in Alertmanager's round is only the load generator (and an
			// idle webhook): its CPU is the client's cost, the same on ecs-medic's side.
			amLoad = selfCPU() - cpu0
		}
		loadPer := amLoad / time.Duration(len(alerts))
		amServer := (procCPU(am.pid) - amCPU0) / time.Duration(len(alerts))
		amPer := loadPer + amServer
		separate = separate && medicLoad >= 0
		if medicLoad >= 0 {
			medicPer = medicServer + medicLoad/time.Duration(len(bodies))
		} else {
			medicServer -= loadPer // the client's cost as measured in Alertmanager's round
		}
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
		loadCPU = append(loadCPU, loadPer.Round(time.Microsecond).String())
		servers = append(servers, medicServer.Round(time.Microsecond).String()+" / "+amServer.Round(time.Microsecond).String())
		if medicServer > 0 {
			serverRatios = append(serverRatios, float64(amServer)/float64(medicServer))
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
	r.figure("CPU per request of the load generator alone (Alertmanager's rounds)", "%s", strings.Join(loadCPU, ", "))
	how := "measured apart, the load generator a process of its own"
	if !separate {
		how = "ecs-medic's is its process's less the load generator's"
	}
	r.figure("CPU per event of the server alone ("+how+"): ecs-medic / Alertmanager", "%s", strings.Join(servers, ", "))
	if len(serverRatios) > 0 {
		slices.Sort(serverRatios)
		r.figure("events per server CPU-second, ecs-medic ÷ Alertmanager (median)", "%.2f×", serverRatios[len(serverRatios)/2])
	}
	return r, nil
}

// medicRound sends the storm through a fresh `medic serve` stack and checks its counts; it
// returns the events per second, the CPU time the process spent while the storm was sent (the
// stack's start and stop left out, as Alertmanager's are), and the time from the first event to
// the first page accepted by PagerDuty (as the incident's timeline records it).
func medicRound(ctx context.Context, s Scale, bodies [][]byte, dups int, post Poster, r *Result) (rate float64, used, load, firstPage time.Duration, err error) {
	e, err := NewEnv(ctx, Options{Services: services(s.Services)})
	if err != nil {
		return 0, 0, 0, 0, err
	}
	// The storm's Slack messages go out over the next minute at Slack's pace (the crash-loop
	// storm scenario checks they all do); here the round ends with the ingest.
	defer func() {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		e.closeWithin(cctx)
	}()
	cpu0 := selfCPU()
	sent, load, err := post(ctx, e.URL+"/events", bodies, s.Clients)
	used = selfCPU() - cpu0
	if err != nil {
		return 0, 0, 0, 0, err
	}
	rate = float64(len(bodies)) / sent.Elapsed.Seconds()
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
	var first time.Time
	for _, inc := range incs {
		for _, en := range inc.Timeline {
			if en.Actor == "pagerduty" && en.Kind == "notified" && (first.IsZero() || en.At.Before(first)) {
				first = en.At
			}
		}
	}
	return rate, used, load, first.Sub(sent.First), nil
}
