package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/ecs-medic/ecs-medic/internal/event"
	"github.com/ecs-medic/ecs-medic/internal/pipeline"
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

func classifyCmd(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("classify", stderr)
	if wantsHelp(args) {
		printHelp(stdout, fs, "medic classify [FILE ...]", classifyAbout)
		return 0
	}
	if err := fs.Parse(args); err != nil {
		return 2
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
			it := pipeline.Interpret(ev)
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
