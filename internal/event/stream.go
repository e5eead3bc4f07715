package event

import (
	"bytes"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// Split cuts an input holding events into one raw message per event. It accepts a single JSON
// object, a JSON array of objects, or a sequence of objects (JSON lines, or concatenated and
// pretty-printed). When one object of a sequence is broken, Split hands it on as its own message
// (so Decode reports it, with its id if it can) and resumes at the next line that opens an
// object: one bad event loses nothing else.
func Split(data []byte) ([][]byte, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, nil
	}
	if data[0] == '[' {
		var arr []jsontext.Value
		if err := json.Unmarshal(data, &arr); err != nil {
			return nil, &DecodeError{Kind: ErrMalformed, Reason: "event array: " + jsonReason(err)}
		}
		out := make([][]byte, len(arr))
		for i, v := range arr {
			out[i] = v
		}
		return out, nil
	}
	var out [][]byte
	for pos := 0; pos < len(data); {
		rest := bytes.TrimLeft(data[pos:], " \t\r\n")
		if len(rest) == 0 {
			break
		}
		pos = len(data) - len(rest)
		dec := jsontext.NewDecoder(bytes.NewReader(rest))
		if v, err := dec.ReadValue(); err == nil {
			out = append(out, bytes.Clone(v))
			pos += int(dec.InputOffset())
			continue
		}
		// Broken: this message runs to the next line that opens an object.
		next := bytes.Index(rest[1:], []byte("\n{"))
		if next < 0 {
			out = append(out, rest)
			break
		}
		out = append(out, bytes.TrimSpace(rest[:next+1]))
		pos += next + 2
	}
	return out, nil
}
