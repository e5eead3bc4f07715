package main

import (
	"encoding/json"
	"errors"
	"flag"
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

type errorLine struct {
	Error string `json:"error"`
	ID    string `json:"id,omitempty"`
}

func classifyCmd(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("classify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	inputs, err := readInputs(fs.Args(), stdin)
	if err != nil {
		fmt.Fprintf(stderr, "medic classify: %v\n", err)
		return 1
	}
	enc := json.NewEncoder(stdout)
	failed := false
	for _, in := range inputs {
		raws, err := event.Split(in)
		if err != nil {
			failed = true
			_ = enc.Encode(errorLine{Error: err.Error()})
			continue
		}
		for _, raw := range raws {
			ev, err := event.Decode(raw)
			if err != nil {
				failed = true
				line := errorLine{Error: err.Error()}
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
