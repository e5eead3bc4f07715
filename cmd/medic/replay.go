package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"go.uber.org/zap"

	"github.com/ecs-medic/ecs-medic/internal/app"
	"github.com/ecs-medic/ecs-medic/internal/boltstore"
	"github.com/ecs-medic/ecs-medic/internal/config"
	"github.com/ecs-medic/ecs-medic/internal/deployment"
	"github.com/ecs-medic/ecs-medic/internal/event"
	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/pipeline"
	"github.com/ecs-medic/ecs-medic/internal/remediate/autoscaling"
	"github.com/ecs-medic/ecs-medic/internal/servicestate"
	"github.com/ecs-medic/ecs-medic/internal/tasklogs/awslogs"
)

// scenario is a recorded incident: the services' state as DescribeServices showed it, the task
// definitions its deployments ran, the events in the order EventBridge delivered them, and what
// happened besides them (script). Plain event files replay too.
type scenario struct {
	Description string            `json:"description"`
	Services    []recordedService `json:"services"`
	// TaskDefinitions are DescribeTaskDefinition's taskDefinition objects, for comparing a
	// deployment's revisions.
	TaskDefinitions []json.RawMessage `json:"task_definitions"`
	Events          []json.RawMessage `json:"events"`
	Script          []scriptStep      `json:"script"`
}

type recordedService struct {
	Region         string `json:"region"`
	Cluster        string `json:"cluster"`
	Service        string `json:"service"`
	Desired        int    `json:"desired"`
	Running        int    `json:"running"`
	Pending        int    `json:"pending"`
	TaskDefinition string `json:"task_definition"`
	// Controller is the deployment controller (ECS when empty, CODE_DEPLOY, EXTERNAL).
	Controller  string                    `json:"deployment_controller"`
	Deployments []servicestate.Deployment `json:"deployments"`
}

func (s recordedService) snapshot() *servicestate.Snapshot {
	return &servicestate.Snapshot{Cluster: s.Cluster, Service: s.Service, Desired: s.Desired, Running: s.Running, Pending: s.Pending,
		TaskDefinition: s.TaskDefinition, Controller: s.Controller, Deployments: s.Deployments, Status: "ACTIVE"}
}

// scriptStep is what happened at a time besides the events: a service's new state (as the next
// DescribeServices would read it), a human's acknowledgement or resolution of the service's
// active incident, or nothing (the clock moves on). With a script, the reconciler runs on every
// minute of the recorded clock, as it does every minute in production: services that stay
// recovered resolve, relapses count as flaps, unacknowledged incidents escalate.
type scriptStep struct {
	Time time.Time `json:"time"`
	// State replaces the service's state (a field left empty keeps its value).
	State *recordedService `json:"state,omitempty"`
	// Ack and Resolve name a service, "<cluster>/<service>"; By is the actor recorded.
	Ack     string `json:"ack,omitempty"`
	Resolve string `json:"resolve,omitempty"`
	By      string `json:"by,omitempty"`
}

// recordedTaskDefinitions serves DescribeTaskDefinition from a scenario.
type recordedTaskDefinitions map[string]*ecstypes.TaskDefinition

func (r recordedTaskDefinitions) DescribeTaskDefinition(_ context.Context, in *ecs.DescribeTaskDefinitionInput, _ ...func(*ecs.Options)) (*ecs.DescribeTaskDefinitionOutput, error) {
	td, ok := r[aws.ToString(in.TaskDefinition)]
	if !ok {
		return nil, fmt.Errorf("task definition %s is not in the scenario", aws.ToString(in.TaskDefinition))
	}
	return &ecs.DescribeTaskDefinitionOutput{TaskDefinition: td}, nil
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
({"services": [...], "task_definitions": [...], "events": [...], "script": [...]}, see
testdata/scenarios/) carries the services' recorded state and deployments, and a script of what
happened besides the events (new service states, acknowledgements, resolutions), with the
reconciler run on every minute of the recorded clock; plain event files ask ECS when AWS
credentials are found.`

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
	taskDefs := recordedTaskDefinitions{}
	var script []scriptStep
	recorded := map[string]time.Time{} // event id → the time EventBridge gave it
	for _, in := range inputs {
		var sc scenario
		if t := bytes.TrimSpace(in); len(t) > 0 && t[0] == '{' && json.Unmarshal(t, &sc) == nil && sc.Events != nil {
			for _, e := range sc.Events {
				raws = append(raws, e)
			}
			for _, s := range sc.Services {
				states[s.Cluster+"/"+s.Service] = s.snapshot()
			}
			for _, raw := range sc.TaskDefinitions {
				var td ecstypes.TaskDefinition
				if err := json.Unmarshal(raw, &td); err != nil || td.TaskDefinitionArn == nil {
					fmt.Fprintf(stderr, "medic replay: a task definition of the scenario is not DescribeTaskDefinition's taskDefinition (taskDefinitionArn, containerDefinitions, ...)\n")
					return 1
				}
				arn := aws.ToString(td.TaskDefinitionArn)
				taskDefs[arn] = &td
				taskDefs[deployment.Revision(arn)] = &td
			}
			for _, st := range sc.Script {
				if problem := st.check(states); problem != "" {
					fmt.Fprintf(stderr, "medic replay: script step at %s: %s\n", st.Time.UTC().Format(time.RFC3339), problem)
					return 1
				}
			}
			script = append(script, sc.Script...)
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
	opts := app.Options{Store: store, Console: io.Discard, ProbeCredentials: true, Logs: awslogs.ForAccounts, Scaling: autoscaling.ForAccount,
		IncidentClock: func() time.Time {
			if eventTime.IsZero() {
				return time.Now()
			}
			return eventTime
		}}
	if len(states) > 0 {
		opts.States = states
		// The deployments the scenario recorded are compared from its task definitions, never
		// from whatever account the machine's credentials reach.
		opts.Deployments = func(context.Context, string, string) (deployment.ECS, error) { return taskDefs, nil }
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
	slices.SortStableFunc(script, func(x, y scriptStep) int { return x.Time.Compare(y.Time) })
	play := &scriptPlayer{steps: script, states: states, app: a, clock: &eventTime}
	for _, raw := range raws {
		if ev, err := event.Decode(raw); err == nil && !ev.Time.IsZero() {
			recorded[ev.ID] = ev.Time
			if err := play.until(ctx, ev.Time); err != nil {
				fmt.Fprintf(stderr, "medic replay: %v\n", err)
				return 1
			}
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
	if err := play.until(ctx, time.Time{}); err != nil { // the rest of the script
		fmt.Fprintf(stderr, "medic replay: %v\n", err)
		return 1
	}
	// Every incident the replay made, however many: its store is its own.
	sum.Incidents = []*incident.Incident{}
	err = incident.Each(ctx, store, incident.Filter{Limit: 1000}, func(inc *incident.Incident) bool {
		sum.Incidents = append(sum.Incidents, inc)
		return true
	})
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

// check says what is wrong with a step ("" when nothing).
func (st scriptStep) check(states recordedStates) string {
	n := 0
	for _, set := range []bool{st.State != nil, st.Ack != "", st.Resolve != ""} {
		if set {
			n++
		}
	}
	switch {
	case st.Time.IsZero():
		return "no time"
	case n > 1:
		return "give one of state, ack, resolve"
	case st.State != nil && states[st.State.Cluster+"/"+st.State.Service] == nil:
		return fmt.Sprintf("state of %s/%s, which is not among the scenario's services", st.State.Cluster, st.State.Service)
	case (st.Ack != "" || st.Resolve != "") && !strings.Contains(st.Ack+st.Resolve, "/"):
		return "ack and resolve name a service: <cluster>/<service>"
	}
	return ""
}

// scriptPlayer plays a scenario's script on the recorded clock, with the reconciler's pass on
// every whole minute, as it runs in production.
type scriptPlayer struct {
	steps  []scriptStep
	states recordedStates
	app    *app.App
	clock  *time.Time // the incidents' clock: the replay's recorded time
	last   time.Time  // the last minute the reconciler ran at
}

// until plays the steps up to t (zero: all of them), ticking the reconciler on the way.
func (p *scriptPlayer) until(ctx context.Context, t time.Time) error {
	if len(p.steps) == 0 {
		return nil
	}
	for len(p.steps) > 0 && (t.IsZero() || !p.steps[0].Time.After(t)) {
		st := p.steps[0]
		p.steps = p.steps[1:]
		if err := p.tick(ctx, st.Time); err != nil {
			return err
		}
		if err := p.do(ctx, st); err != nil {
			return fmt.Errorf("script step at %s: %w", st.Time.UTC().Format(time.RFC3339), err)
		}
	}
	if !t.IsZero() {
		return p.tick(ctx, t)
	}
	return nil
}

// tick runs the reconciler at every whole minute after the last one, up to t.
func (p *scriptPlayer) tick(ctx context.Context, t time.Time) error {
	if p.last.IsZero() {
		p.last = p.clock.Truncate(time.Minute)
		if p.clock.IsZero() {
			p.last = t.Truncate(time.Minute)
		}
	}
	r := p.app.Reconciler()
	for m := p.last.Add(time.Minute); !m.After(t); m = m.Add(time.Minute) {
		if m.After(*p.clock) {
			*p.clock = m
		}
		if _, err := r.Run(ctx); err != nil {
			return fmt.Errorf("reconciler at %s: %w", m.UTC().Format(time.RFC3339), err)
		}
		p.last = m
	}
	if t.After(*p.clock) {
		*p.clock = t
	}
	return nil
}

func (p *scriptPlayer) do(ctx context.Context, st scriptStep) error {
	switch {
	case st.State != nil:
		key := st.State.Cluster + "/" + st.State.Service
		old := p.states[key]
		snap := st.State.snapshot()
		snap.TaskDefinition = cmp.Or(snap.TaskDefinition, old.TaskDefinition)
		snap.Controller = cmp.Or(snap.Controller, old.Controller)
		if snap.Deployments == nil {
			snap.Deployments = old.Deployments
		}
		p.states[key] = snap
	case st.Ack != "" || st.Resolve != "":
		name := st.Ack + st.Resolve
		cluster, service, _ := strings.Cut(name, "/")
		active, err := p.app.Manager().List(ctx, incident.Filter{Active: true, Cluster: cluster, Service: service})
		if err != nil {
			return err
		}
		var inc *incident.Incident
		for _, i := range active {
			// The exact name: the filter's "" means any, and a name may lack its service.
			if i.Scope.Cluster+"/"+i.Scope.Service == name && (inc == nil || i.OpenedAt.After(inc.OpenedAt)) {
				inc = i
			}
		}
		if inc == nil {
			return fmt.Errorf("no active incident on %s", name)
		}
		by := cmp.Or(st.By, "replay")
		if st.Ack != "" {
			_, _, err = p.app.Manager().Acknowledge(ctx, inc.ID, by)
		} else {
			_, _, err = p.app.Manager().Resolve(ctx, inc.ID, by, "resolved by hand")
		}
		return err
	}
	return nil
}
