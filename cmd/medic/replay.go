package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/ecs-medic/ecs-medic/internal/app"
	"github.com/ecs-medic/ecs-medic/internal/boltstore"
	"github.com/ecs-medic/ecs-medic/internal/config"
	"github.com/ecs-medic/ecs-medic/internal/event"
	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/pipeline"
	"github.com/ecs-medic/ecs-medic/internal/servicestate"
)

// scenario is a recorded incident: the services' state as DescribeServices showed it, and the
// events in the order EventBridge delivered them. Plain event files replay too.
type scenario struct {
	Description string            `json:"description"`
	Services    []recordedService `json:"services"`
	Events      []json.RawMessage `json:"events"`
}

type recordedService struct {
	Region         string `json:"region"`
	Cluster        string `json:"cluster"`
	Service        string `json:"service"`
	Desired        int    `json:"desired"`
	Running        int    `json:"running"`
	Pending        int    `json:"pending"`
	TaskDefinition string `json:"task_definition"`
}

// recordedStates serves the states a scenario recorded, instead of asking ECS.
type recordedStates map[string]*servicestate.Snapshot

func (r recordedStates) Get(_ context.Context, ref servicestate.Ref) (*servicestate.Snapshot, error) {
	if s, ok := r[ref.Cluster+"/"+ref.Service]; ok {
		return s, nil
	}
	return nil, fmt.Errorf("describe service %s: not in the scenario: %w", ref, servicestate.ErrNotFound)
}

type replaySummary struct {
	Events    int                  `json:"events"`
	Outcomes  map[string]int       `json:"outcomes"`
	Incidents []*incident.Incident `json:"incidents"`
	Results   []pipeline.Result    `json:"results,omitempty"`
}

const replayAbout = `Runs events through the whole pipeline (classification, severity, incidents, runbooks) on an
embedded store and prints the incidents with their timelines. It only prints: PagerDuty and Slack
get nothing, whatever the environment holds, unless --notify is given. A scenario file
({"services": [...], "events": [...]}, see testdata/scenarios/demo.json) carries the services'
recorded state; plain event files ask ECS when AWS credentials are found.`

func replayCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := newFlags("replay", stderr)
	asJSON := fs.Bool("json", false, "machine-readable output")
	db := fs.String("db", "", "keep the incidents in this store file (default: a temporary one)")
	notify := fs.Bool("notify", false, "deliver to the PagerDuty and Slack receivers configured in the environment (default: print only)")
	if wantsHelp(args) {
		printHelp(stdout, fs, "medic replay [--json] [--db FILE] [--notify] [FILE ...]", replayAbout)
		return 0
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if !*notify {
		var had bool
		if getenv, had = printOnly(getenv); had {
			fmt.Fprintln(stderr, "medic replay: printing only; PagerDuty and Slack are configured but get nothing without --notify")
		}
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		fmt.Fprintf(stderr, "medic replay: %v\n", err)
		return 2
	}
	inputs, err := readInputs(fs.Args(), stdin)
	if err != nil {
		fmt.Fprintf(stderr, "medic replay: %v\n", err)
		return 1
	}

	var raws [][]byte
	states := recordedStates{}
	recorded := map[string]time.Time{} // event id → the time EventBridge gave it
	for _, in := range inputs {
		var sc scenario
		if t := bytes.TrimSpace(in); len(t) > 0 && t[0] == '{' && json.Unmarshal(t, &sc) == nil && sc.Events != nil {
			for _, e := range sc.Events {
				raws = append(raws, e)
			}
			for _, s := range sc.Services {
				states[s.Cluster+"/"+s.Service] = &servicestate.Snapshot{Cluster: s.Cluster, Service: s.Service,
					Desired: s.Desired, Running: s.Running, Pending: s.Pending, TaskDefinition: s.TaskDefinition, Status: "ACTIVE"}
			}
			continue
		}
		split, err := event.Split(in)
		if err != nil {
			fmt.Fprintf(stderr, "medic replay: %v\n", err)
			return 1
		}
		raws = append(raws, split...)
	}

	path := *db
	if path == "" {
		dir, err := os.MkdirTemp("", "medic-replay-")
		if err != nil {
			fmt.Fprintf(stderr, "medic replay: %v\n", err)
			return 1
		}
		defer os.RemoveAll(dir)
		path = filepath.Join(dir, "medic.db")
	}
	store, err := boltstore.Open(path)
	if err != nil {
		fmt.Fprintf(stderr, "medic replay: %v\n", err)
		return 1
	}
	defer store.Close()

	// The incidents live on the events' clock: each event moves it to its own time (never back),
	// so timelines, response times and durations are the recorded night's.
	var eventTime time.Time
	opts := app.Options{Store: store, Console: io.Discard, ProbeCredentials: true,
		IncidentClock: func() time.Time {
			if eventTime.IsZero() {
				return time.Now()
			}
			return eventTime
		}}
	if len(states) > 0 {
		opts.States = states
	}
	if !*asJSON {
		opts.Console = stdout
	}
	a, err := app.New(ctx, cfg, zap.NewNop(), opts)
	if err != nil {
		fmt.Fprintf(stderr, "medic replay: %v\n", err)
		return 1
	}
	// Replay starts nothing in the background; Stop is there so that it never leaves work behind.
	defer func() { _ = a.Stop(context.Background()) }()

	sum := replaySummary{Events: len(raws), Outcomes: map[string]int{}}
	failed := false
	for _, raw := range raws {
		if ev, err := event.Decode(raw); err == nil && !ev.Time.IsZero() {
			recorded[ev.ID] = ev.Time
			if ev.Time.After(eventTime) {
				eventTime = ev.Time
			}
		}
		res, err := a.Pipeline().HandleRaw(ctx, raw)
		if err != nil || res.Outcome == pipeline.OutcomeError {
			failed = true
		}
		sum.Outcomes[string(res.Outcome)]++
		sum.Results = append(sum.Results, res)
	}
	sum.Incidents, err = store.List(ctx, incident.Filter{Limit: 1000})
	if err != nil {
		fmt.Fprintf(stderr, "medic replay: %v\n", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(sum)
	} else {
		printReplay(stdout, sum, recorded)
	}
	if failed {
		return 1
	}
	return 0
}

// receiverVars are the settings that make ecs-medic deliver outside the machine: PagerDuty,
// Slack and the routes to them, in every form (plain, _ARN, _SSM).
var receiverVars = []string{"MEDIC_PAGERDUTY_", "MEDIC_SLACK_", "MEDIC_ROUTES"}

// printOnly hides the receivers' settings from the configuration, so that nothing leaves the
// machine (secrets given by reference are not even read), and says whether there were any.
func printOnly(getenv func(string) string) (func(string) string, bool) {
	hidden := func(k string) bool {
		for _, p := range receiverVars {
			if strings.HasPrefix(k, p) {
				return true
			}
		}
		return false
	}
	had := false
	for _, k := range []string{"MEDIC_PAGERDUTY_ROUTING_KEY", "MEDIC_SLACK_BOT_TOKEN", "MEDIC_SLACK_CHANNEL", "MEDIC_ROUTES"} {
		for _, suffix := range []string{"", "_ARN", "_SSM"} {
			had = had || getenv(k+suffix) != ""
		}
	}
	return func(k string) string {
		if hidden(k) {
			return ""
		}
		return getenv(k)
	}, had
}

func printReplay(w io.Writer, sum replaySummary, recorded map[string]time.Time) {
	var parts []string
	for _, k := range []string{"opened", "occurrence", "attached", "resolved", "duplicate", "expected", "ignored", "refused", "error"} {
		if n := sum.Outcomes[k]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, k))
		}
	}
	fmt.Fprintf(w, "\n%d event(s) → %d incident(s)   [%s]\n", sum.Events, len(sum.Incidents), strings.Join(parts, ", "))
	// What was left out, by service: scale-in stops, events that open nothing, rejected input.
	type noise struct {
		n        int
		evidence string
	}
	left := map[string]*noise{}
	var order []string
	first, last := map[string]time.Time{}, map[string]time.Time{}
	for _, r := range sum.Results {
		if t, ok := recorded[r.ID]; ok && r.Incident != "" {
			if f, ok := first[r.Incident]; !ok || t.Before(f) {
				first[r.Incident] = t
			}
			if t.After(last[r.Incident]) {
				last[r.Incident] = t
			}
		}
		switch r.Outcome {
		case pipeline.OutcomeError, pipeline.OutcomeRefused:
			fmt.Fprintf(w, "  rejected event %s: %s\n", r.ID, r.Error)
		case pipeline.OutcomeExpected, pipeline.OutcomeIgnored:
			where := r.Cluster + "/" + r.Service
			if r.Service == "" {
				where = r.DetailType
			}
			k := string(r.Outcome) + " " + where
			if left[k] == nil {
				left[k] = &noise{evidence: r.Evidence}
				order = append(order, k)
			}
			left[k].n++
		}
	}
	for _, k := range order {
		outcome, where, _ := strings.Cut(k, " ")
		what := "not a failure, no incident"
		if outcome == string(pipeline.OutcomeIgnored) {
			what = "recorded, opens nothing"
		}
		fmt.Fprintf(w, "  ignored:     %d event(s) on %s — %s", left[k].n, where, what)
		if left[k].evidence != "" {
			fmt.Fprintf(w, " (%q)", left[k].evidence)
		}
		fmt.Fprintln(w)
	}
	for _, inc := range sum.Incidents {
		fmt.Fprintf(w, "\n%s  %s  %-12s %s\n", inc.ID, inc.Severity, inc.State, inc.Title)
		fmt.Fprintf(w, "  scope:       %s (%s, %s)\n", inc.Scope.Name(), inc.Scope.Account, inc.Scope.Region)
		fmt.Fprintf(w, "  cause:       %s", inc.Cause)
		if inc.Sub != "" {
			fmt.Fprintf(w, " / %s", inc.Sub)
		}
		fmt.Fprintf(w, " (%s)", inc.Confidence)
		if item := inc.Cause.SOPItem(); item != "" {
			fmt.Fprintf(w, " — checklist: %s", item)
		}
		fmt.Fprintln(w)
		for _, e := range inc.Occurrences.Evidence {
			fmt.Fprintf(w, "  evidence:    %q\n", e)
		}
		if d := inc.Diagnosis; d != nil && d.Container != "" {
			fmt.Fprintf(w, "  container:   %s", d.Container)
			if d.ExitCode != nil {
				fmt.Fprintf(w, " (exit %d)", *d.ExitCode)
			}
			fmt.Fprintln(w)
		}
		if f, ok := first[inc.ID]; ok {
			fmt.Fprintf(w, "  events:      %s → %s (recorded event times)\n", f.UTC().Format(time.RFC3339), last[inc.ID].UTC().Format(time.RFC3339))
		}
		fmt.Fprintf(w, "  occurrences: %d", inc.Occurrences.Count)
		if n := inc.Suppressed["duplicate"]; n > 0 {
			fmt.Fprintf(w, " (+%d duplicate deliveries ignored)", n)
		}
		fmt.Fprintln(w)
		switch {
		case inc.ServiceState != nil:
			fmt.Fprintf(w, "  service:     %d/%d running, %d pending\n", inc.ServiceState.Running, inc.ServiceState.Desired, inc.ServiceState.Pending)
		case inc.StateError != "":
			fmt.Fprintf(w, "  service:     state unknown (%s)\n", inc.StateError)
		}
		if inc.State.Active() {
			fmt.Fprintf(w, "  respond by:  %s (%s SLA)\n", inc.SLADeadline.UTC().Format(time.RFC3339), inc.Severity.SLA())
		}
		if inc.Fix != "" {
			fmt.Fprintf(w, "  fix:         %s (runbook %s) — Run fix in Slack, or /medic fix %s\n", inc.Fix, inc.Runbook, inc.ID)
		}
		fmt.Fprintln(w, "  timeline:")
		for _, e := range inc.Timeline {
			fmt.Fprintf(w, "    %s  %-10s %s\n", e.At.UTC().Format("15:04:05"), e.Actor, e.Message)
		}
	}
}
