package server

import (
	"encoding/json"
	"strconv"

	"github.com/ecs-medic/ecs-medic/internal/pipeline"
)

// appendAnswer appends POST /events' answer exactly as encoding/json's Encoder with an indent of
// two spaces writes it (TestAppendAnswerMatchesEncodingJSON holds it to that), without
// reflection: the answer is written for every event of a storm, and reflection made it about a
// tenth of the handler's CPU. A string that needs escaping is left to encoding/json, so its
// escapes are json's own.
func appendAnswer(b []byte, resp *eventsResponse) []byte {
	b = append(b, "{\n  \"results\": "...)
	switch {
	case resp.Results == nil:
		b = append(b, "null"...)
	case len(resp.Results) == 0:
		b = append(b, "[]"...)
	default:
		b = append(b, "[\n"...)
		for i := range resp.Results {
			if i > 0 {
				b = append(b, ",\n"...)
			}
			b = appendResult(b, &resp.Results[i])
		}
		b = append(b, "\n  ]"...)
	}
	if resp.Error != "" {
		b = appendField(b, "  ", "error", resp.Error)
	}
	return append(b, "\n}\n"...)
}

// appendResult writes one result at the indent of the answer's results array.
func appendResult(b []byte, r *pipeline.Result) []byte {
	const in = "      "
	b = append(b, "    {"...)
	first := true
	field := func(name, v string, always bool) {
		if v == "" && !always {
			return
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, '\n')
		b = append(b, in...)
		b = appendString(b, name)
		b = append(b, ": "...)
		b = appendString(b, v)
	}
	field("id", r.ID, false)
	field("detail_type", r.DetailType, false)
	field("account", r.Account, false)
	field("region", r.Region, false)
	field("cluster", r.Cluster, false)
	field("service", r.Service, false)
	field("task_arn", r.TaskArn, false)
	field("cause", r.Cause, false)
	field("sub", r.Sub, false)
	field("confidence", r.Confidence, false)
	field("evidence", r.Evidence, false)
	field("severity", r.Severity, false)
	field("incident", r.Incident, false)
	field("outcome", string(r.Outcome), true)
	b = append(b, ",\n"+in+"\"actions\": "...)
	switch {
	case r.Actions == nil:
		b = append(b, "null"...)
	case len(r.Actions) == 0:
		b = append(b, "[]"...)
	default:
		b = append(b, '[')
		for i, a := range r.Actions {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, "\n  "+in...)
			b = appendString(b, a)
		}
		b = append(b, "\n"+in+"]"...)
	}
	first = false
	field("why", r.Why, false)
	field("error", r.Error, false)
	return append(b, "\n    }"...)
}

// appendField writes `,\n<indent>"name": "v"`.
func appendField(b []byte, indent, name, v string) []byte {
	b = append(b, ",\n"...)
	b = append(b, indent...)
	b = appendString(b, name)
	b = append(b, ": "...)
	return appendString(b, v)
}

// appendString writes s as a JSON string: as it is when no byte of it needs escaping (printable
// ASCII but for " \ < > &, which encoding/json escapes for HTML), else as encoding/json writes it.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			raw, err := json.Marshal(s)
			if err != nil { // not reached: every Go string encodes
				return strconv.AppendQuote(b, s)
			}
			return append(b, raw...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
