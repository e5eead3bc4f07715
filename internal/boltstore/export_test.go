package boltstore

import (
	"encoding/json"
	"fmt"
)

// RecordFields is a log record's payload as its JSON form's fields, whichever form it was written
// in: the tests read the log's records by what they hold, not by how they are encoded. A binary
// record's occurrences come back as their JSON form ("o"), its marks as "m" and "x".
func RecordFields(payload []byte) (map[string]json.RawMessage, error) {
	out := map[string]json.RawMessage{}
	if len(payload) == 0 || payload[0] != binaryRecord {
		err := json.Unmarshal(payload, &out)
		return out, err
	}
	marks, exp, occ, err := decodeBinaryRecord(payload)
	if err != nil {
		return nil, err
	}
	put := func(k string, v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("record field %s: %w", k, err)
		}
		out[k] = b
		return nil
	}
	if len(marks) > 0 {
		if err := put("m", marks); err != nil {
			return nil, err
		}
		if err := put("x", exp); err != nil {
			return nil, err
		}
	}
	if len(occ) > 0 {
		plain := make([]occurred, len(occ))
		for i, o := range occ {
			plain[i] = o.occurred
		}
		if err := put("o", plain); err != nil {
			return nil, err
		}
	}
	return out, nil
}
