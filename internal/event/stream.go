package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
)

// Split cuts an input holding events into one raw message per event. It accepts a single JSON
// object, a JSON array of objects, or a sequence of objects (JSON lines or concatenated), which is
// what `medic classify`, `medic replay` and POST /events take. When the input is a sequence and one
// line is broken, the others still come out, each line as its own message, so one bad event loses
// nothing else.
func Split(data []byte) ([]json.RawMessage, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, nil
	}
	if data[0] == '[' {
		var arr []json.RawMessage
		if err := json.Unmarshal(data, &arr); err != nil {
			return nil, &DecodeError{Kind: ErrMalformed, Reason: "event array: " + jsonReason(err)}
		}
		return arr, nil
	}
	var out []json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		var msg json.RawMessage
		err := dec.Decode(&msg)
		if err == nil {
			out = append(out, msg)
			continue
		}
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		// Fall back to lines: a JSON-lines input with one damaged line.
		if lines := splitLines(data); len(lines) > 1 {
			return lines, nil
		}
		// One damaged object: hand it on whole so Decode reports it with its id if it can.
		return []json.RawMessage{data}, nil
	}
}

func splitLines(data []byte) []json.RawMessage {
	var out []json.RawMessage
	for _, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) > 0 {
			out = append(out, json.RawMessage(line))
		}
	}
	// Only a true JSON-lines input has a complete object on its first line.
	if len(out) == 0 || !json.Valid(out[0]) {
		return nil
	}
	return out
}
