package boltstore

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/servicestate"
)

// A log record's payload is JSON (it starts with '{') or, for the record of an event that only
// counted occurrences and recorded marks — nearly every event of a storm — the binary form
// below, which starts with binaryRecord. The binary form exists for speed: it is written with no
// reflection, and it carries an occurrence's samples as what changed from the incident before
// it (the tasks dropped from the front, the ones added at the end) rather than whole, so the
// record is a few hundred bytes instead of about a kilobyte, and the log's pages fill (and are
// faulted in and synced) several times more slowly. A record is replayed in order after the
// records before it, so the incident it changes is always the one it was computed from.
//
//	binaryRecord
//	uvarint marks, then if any: varint expiry, and each mark as a string
//	uvarint occurrences, each:
//	  string id, varint version, time updated, varint count, time first seen, time last seen,
//	  delta tasks, delta evidence, delta task definitions, string state error,
//	  byte state: 0 unchanged, 1 changed to none, 2 changed to the JSON that follows as a string
//
// A string is its uvarint length and its bytes; a time is its length-prefixed
// time.Time.AppendBinary form; a delta is uvarint dropped from the front, uvarint added, then
// each added string.
const binaryRecord = 0x01

// delta is how a sample slice changed: the first drop elements of the previous one went, add
// were appended.
type delta struct {
	drop int
	add  []string
}

// deltaOf is how next follows from prev: the shortest drop from prev's front after which prev
// is a prefix of next. Any next has one (at worst, drop everything and add next).
func deltaOf(prev, next []string) delta {
	for k := range len(prev) {
		rest := prev[k:]
		if len(rest) <= len(next) && slices.Equal(rest, next[:len(rest)]) {
			return delta{drop: k, add: next[len(rest):]}
		}
	}
	return delta{drop: len(prev), add: next} // no sample is kept: next is all new
}

// apply is the slice the delta makes of prev, in new memory (prev may be shared).
func (d delta) apply(prev []string) ([]string, error) {
	if d.drop > len(prev) {
		return nil, fmt.Errorf("sample delta drops %d of %d", d.drop, len(prev))
	}
	n := len(prev) - d.drop + len(d.add)
	if n == 0 {
		return nil, nil
	}
	out := make([]string, 0, n)
	return append(append(out, prev[d.drop:]...), d.add...), nil
}

// binaryForm reports whether rec is written in the binary form: it changes no incident whole.
func binaryForm(rec *record) bool { return len(rec.Incidents) == 0 }

// appendBinaryRecord appends rec's binary form; prev gives, for each occurrence, the incident it
// changed (the base of its deltas).
func appendBinaryRecord(b []byte, rec *record, prev func(id string) *incident.Incident) ([]byte, error) {
	b = append(b, binaryRecord)
	b = binary.AppendUvarint(b, uint64(len(rec.Marks)))
	if len(rec.Marks) > 0 {
		b = binary.AppendVarint(b, rec.Exp)
		for _, mk := range rec.Marks {
			b = appendString(b, mk)
		}
	}
	b = binary.AppendUvarint(b, uint64(len(rec.Occurred)))
	for i := range rec.Occurred {
		o := &rec.Occurred[i]
		p := prev(o.ID)
		if p == nil {
			return b, fmt.Errorf("occurrence of %s: no previous incident", o.ID)
		}
		b = appendString(b, o.ID)
		b = binary.AppendVarint(b, o.Version)
		b = appendTime(b, o.UpdatedAt)
		b = binary.AppendVarint(b, int64(o.Occurrences.Count))
		b = appendTime(b, o.Occurrences.FirstSeen)
		b = appendTime(b, o.Occurrences.LastSeen)
		b = appendDelta(b, deltaOf(p.Occurrences.Tasks, o.Occurrences.Tasks))
		b = appendDelta(b, deltaOf(p.Occurrences.Evidence, o.Occurrences.Evidence))
		b = appendDelta(b, deltaOf(p.Occurrences.TaskDefinitions, o.Occurrences.TaskDefinitions))
		b = appendString(b, o.StateError)
		switch {
		case !o.NewState:
			b = append(b, 0)
		case o.State == nil:
			b = append(b, 1)
		default:
			raw, err := json.Marshal(o.State)
			if err != nil {
				return b, fmt.Errorf("service state of %s: %w", o.ID, err)
			}
			b = appendString(append(b, 2), string(raw))
		}
	}
	return b, nil
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

func appendTime(b []byte, t time.Time) []byte {
	at := len(b)
	b = append(b, 0)
	b, err := t.AppendBinary(b)
	if err != nil { // a zone offset beyond what the binary form holds: keep the instant, in UTC
		b, _ = t.UTC().AppendBinary(b[:at+1])
	}
	b[at] = byte(len(b) - at - 1) // 15 or 16 bytes
	return b
}

func appendDelta(b []byte, d delta) []byte {
	b = binary.AppendUvarint(b, uint64(d.drop))
	b = binary.AppendUvarint(b, uint64(len(d.add)))
	for _, s := range d.add {
		b = appendString(b, s)
	}
	return b
}

// binaryOccurred is one occurrence of a binary record, its samples still as deltas.
type binaryOccurred struct {
	occurred
	tasks, evidence, taskDefs delta
}

// applyTo is the incident with the change made, its samples rebuilt from prev's.
func (o *binaryOccurred) applyTo(prev *incident.Incident) (*incident.Incident, error) {
	var err error
	occ := &o.Occurrences
	if occ.Tasks, err = o.tasks.apply(prev.Occurrences.Tasks); err != nil {
		return nil, err
	}
	if occ.Evidence, err = o.evidence.apply(prev.Occurrences.Evidence); err != nil {
		return nil, err
	}
	if occ.TaskDefinitions, err = o.taskDefs.apply(prev.Occurrences.TaskDefinitions); err != nil {
		return nil, err
	}
	return o.occurred.applyTo(prev), nil
}

// errShort is a binary record that ends early or holds an impossible length.
var errShort = errors.New("binary log record cut short")

// reader reads a binary record; the first error sticks.
type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errShort
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errShort
		return 0
	}
	r.b = r.b[n:]
	return v
}

// count is a uvarint count of items of at least one byte each: never more than what is left.
func (r *reader) count() int {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.err = errShort
		return 0
	}
	return int(n)
}

func (r *reader) raw() []byte {
	n := r.count()
	if r.err != nil {
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) str() string { return string(r.raw()) }

func (r *reader) flag() byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) == 0 {
		r.err = errShort
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) time() time.Time {
	raw := r.raw()
	var t time.Time
	if r.err == nil {
		if err := t.UnmarshalBinary(raw); err != nil {
			r.err = fmt.Errorf("binary log record: %w", err)
		}
	}
	return t
}

// maxDrop bounds a delta's drop: it counts entries of the previous sample list, not bytes of the
// record (a list of eight emptied is a drop of 8 with two bytes after it), so it cannot be
// bounded by what is left; the lists it counts are bounded far below this, and apply refuses a
// drop longer than the list.
const maxDrop = 1 << 20

func (r *reader) delta() delta {
	drop := r.uvarint()
	if drop > maxDrop {
		r.err = errShort
		return delta{}
	}
	d := delta{drop: int(drop)}
	n := r.count()
	for range n {
		if r.err != nil {
			break
		}
		d.add = append(d.add, r.str())
	}
	return d
}

// decodeBinaryRecord reads a binary record (payload[0] is binaryRecord).
func decodeBinaryRecord(payload []byte) (marks []string, exp int64, occ []binaryOccurred, err error) {
	if len(payload) == 0 || payload[0] != binaryRecord {
		return nil, 0, nil, errors.New("not a binary log record")
	}
	r := &reader{b: payload[1:]}
	if n := r.count(); n > 0 {
		exp = r.varint()
		for range n {
			if r.err != nil {
				break
			}
			marks = append(marks, r.str())
		}
	}
	n := r.count()
	for range n {
		if r.err != nil {
			break
		}
		var o binaryOccurred
		o.ID = r.str()
		o.Version = r.varint()
		o.UpdatedAt = r.time()
		o.Occurrences.Count = int(r.varint())
		o.Occurrences.FirstSeen = r.time()
		o.Occurrences.LastSeen = r.time()
		o.tasks, o.evidence, o.taskDefs = r.delta(), r.delta(), r.delta()
		o.StateError = r.str()
		switch r.flag() {
		case 0:
		case 1:
			o.NewState = true
		case 2:
			o.NewState, o.State = true, &servicestate.Snapshot{}
			if raw := r.raw(); r.err == nil {
				if err := json.Unmarshal(raw, o.State); err != nil {
					r.err = fmt.Errorf("binary log record: service state: %w", err)
				}
			}
		default:
			if r.err == nil {
				r.err = errors.New("binary log record: unknown service state flag")
			}
		}
		occ = append(occ, o)
	}
	if r.err == nil && len(r.b) != 0 {
		r.err = errors.New("binary log record: bytes after its end")
	}
	if r.err != nil {
		return nil, 0, nil, r.err
	}
	return marks, exp, occ, nil
}
