package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/ecs-medic/ecs-medic/internal/app"
	"github.com/ecs-medic/ecs-medic/internal/classify"
	"github.com/ecs-medic/ecs-medic/internal/event"
	"github.com/ecs-medic/ecs-medic/internal/pipeline"
	"github.com/ecs-medic/ecs-medic/internal/runbook"
)

// classifyLine is one line of `medic classify` output (SPEC §5).
type classifyLine struct {
	ID         string `json:"id"`
	DetailType string `json:"detail_type"`
	Cluster    string `json:"cluster"`
	Service    string `json:"service"`
	TaskArn    string `json:"task_arn"`
	Cause      string `json:"cause"`
	Sub        string `json:"sub"`
	Evidence   string `json:"evidence"`
	Incident   bool   `json:"incident"`
}

const classifyAbout = `Diagnoses EventBridge events without network or state: one JSON line per event, in input order,
{"id","detail_type","cluster","service","task_arn","cause","sub","evidence","incident"}.
A malformed event gives {"error": "FILE:LINE: ...", "id": ...} and the rest go on; the exit code is 1
when any line was an error. An event of a kind ecs-medic does not handle gets no cause, no incident. Input: a JSON event, a JSON array of events, or JSON lines; stdin when
no FILE is given.`

// unhandledLine is the line of a well-formed event ecs-medic does not handle: its id and type,
// no cause, no incident.
func unhandledLine(raw []byte) classifyLine {
	var env struct {
		ID         string `json:"id"`
		DetailType string `json:"detail-type"`
	}
	_ = json.Unmarshal(raw, &env)
	return classifyLine{ID: env.ID, DetailType: env.DetailType}
}

type errorLine struct {
	Error string `json:"error"`
	ID    string `json:"id,omitempty"`
}

// operatorClassifier is the classifier the pipeline uses: the operator's rules, which live beside
// the runbooks (MEDIC_RUNBOOKS/classify.yaml), before the built-in ones.
func operatorClassifier(getenv func(string) string) (*classify.Classifier, error) {
	dir := getenv("MEDIC_RUNBOOKS")
	if dir == "" {
		return nil, nil
	}
	set, err := app.LoadRunbooks(dir)
	if err != nil && !errors.Is(err, runbook.ErrEmpty) { // classifying needs no runbook
		return nil, err
	}
	return set.Classifier, nil
}

func classifyCmd(args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := newFlags("classify", stderr)
	explain := fs.Bool("explain", false, "for each event, print which rule and which text decided, and what else matched, instead of JSON")
	if wantsHelp(args) {
		printHelp(stdout, fs, "medic classify [--explain] [FILE ...]", classifyAbout)
		return 0
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cl, err := operatorClassifier(getenv)
	if err != nil {
		fmt.Fprintf(stderr, "medic classify: %v\n", err)
		return 1
	}
	inputs, err := readNamedInputs(fs.Args(), stdin)
	if err != nil {
		fmt.Fprintf(stderr, "medic classify: %v\n", err)
		return 1
	}
	enc := json.NewEncoder(stdout)
	failed := false
	for _, in := range inputs {
		raws, err := event.Split(in.data)
		if err != nil {
			failed = true
			_ = enc.Encode(errorLine{Error: in.name + ": " + err.Error()})
			continue
		}
		lines := lineFinder{data: in.data}
		for _, raw := range raws {
			at := in.name
			if n := lines.line(raw); n > 0 {
				at = fmt.Sprintf("%s:%d", in.name, n)
			}
			ev, err := event.Decode(raw)
			if errors.Is(err, event.ErrUnsupported) {
				// A well-formed event of a kind ecs-medic does not handle (a container instance
				// change, an EC2 event): not a failure, and not an error either.
				_ = enc.Encode(unhandledLine(raw))
				continue
			}
			if err != nil {
				failed = true
				// Where the event is, so a user can open it: file:line: reason.
				line := errorLine{Error: at + ": " + err.Error()}
				var de *event.DecodeError
				if errors.As(err, &de) {
					line.ID = de.ID
				}
				_ = enc.Encode(line)
				continue
			}
			it := pipeline.InterpretWith(ev, cl)
			if *explain {
				writeExplanation(stdout, ev, it, cl)
				continue
			}
			s := it.Signal
			line := classifyLine{
				ID: ev.ID, DetailType: ev.DetailType, Cluster: s.Scope.Cluster, Service: s.Scope.Service,
				TaskArn: s.Facts.TaskArn, Cause: string(s.Cause), Sub: s.Sub, Evidence: s.Evidence, Incident: it.Opens,
			}
			if s.Scope.Alarm != "" {
				line.Service = ""
			}
			_ = enc.Encode(line)
		}
	}
	if failed {
		return 1
	}
	return 0
}

// writeExplanation prints, for people, why an event got its diagnosis: the rule and the text that
// decided, and the other rules that matched lower in precedence.
func writeExplanation(w io.Writer, ev *event.Event, it pipeline.Interpretation, cl *classify.Classifier) {
	s := it.Signal
	where := s.Scope.Name()
	if ev.Task != nil {
		where += " task " + event.TaskID(ev.Task.TaskArn)
	}
	fmt.Fprintf(w, "event %s (%s) %s\n", ev.ID, ev.DetailType, where)
	if ev.Task == nil || it.Diagnosis == nil {
		switch {
		case s.Cause != "":
			fmt.Fprintf(w, "  cause     %s (not a stopped task: from the event name)\n", s.Cause)
		case it.Why != "":
			fmt.Fprintf(w, "  no diagnosis: %s\n", it.Why)
		default:
			fmt.Fprintf(w, "  no diagnosis: context for open incidents only\n")
		}
		fmt.Fprintf(w, "  incident  %t\n\n", it.Opens)
		return
	}
	ex := cl.Explain(ev.Task)
	d := ex.Diagnosis
	cause := string(d.Cause)
	if d.Sub != "" {
		cause += " / " + d.Sub
	}
	fmt.Fprintf(w, "  cause     %s (%s)", cause, d.Confidence)
	if d.Container != "" {
		fmt.Fprintf(w, ", container %s", d.Container)
	}
	fmt.Fprintf(w, "\n  incident  %t\n", it.Opens)
	if ex.Decided.Rule == "" {
		fmt.Fprintf(w, "  decided   by no rule: nothing in the event names a cause (rule %s)\n", d.Rule)
	} else {
		fmt.Fprintf(w, "  decided   by rule %s", d.Rule)
		if ex.Decided.Phrase != "" {
			fmt.Fprintf(w, " reading %q", ex.Decided.Phrase)
		}
		fmt.Fprintf(w, " in %s:\n            %s\n", ex.Decided.Field, ex.Decided.Text)
	}
	if len(ex.Also) == 0 {
		fmt.Fprintf(w, "  also      nothing else matched\n\n")
		return
	}
	fmt.Fprintf(w, "  also matched, lower in precedence:\n")
	for _, f := range ex.Also {
		c := string(f.Cause)
		if f.Sub != "" {
			c += " / " + f.Sub
		}
		fmt.Fprintf(w, "    %-28s → %-24s %s", f.Rule, c, f.Field)
		if f.Phrase != "" {
			fmt.Fprintf(w, " reading %q", f.Phrase)
		} else if f.Text != "" {
			fmt.Fprintf(w, " %q", f.Text)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w)
}
