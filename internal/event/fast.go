package event

import (
	"bytes"
	"encoding/binary"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/valyala/fastjson"
)

// decodeFast decodes a well-formed event in one pass without reflection: fastjson parses the
// bytes once (validated first, so no malformed JSON gets through), and the fields the pipeline
// reads are taken from the parsed tree. It is several times faster than the reflective decoder,
// which matters because every event pays it.
//
// It accepts exactly what the reflective decoder (decodeStrict) accepts and decodes it the same
// way (FuzzFastMatchesStrict checks this): on anything it is not sure of — invalid or escaped
// Unicode, duplicate names, a field of an unexpected JSON type, a number that is not a plain
// integer, a time that is not RFC 3339, a missing required field — it reports ok=false, and the
// reflective decoder decides and words the error.
func decodeFast(raw []byte) (ev *Event, ok bool) {
	// \u escapes (and lone surrogates among them) and invalid UTF-8 are rare in real events;
	// leaving them to the strict decoder keeps string handling identical.
	if bytes.Contains(raw, []byte(`\u`)) || !utf8.Valid(raw) {
		return nil, false
	}
	// fastjson's parser is lenient where the strict decoder is not (control characters and bad
	// escapes in strings, loose numbers). Events as EventBridge delivers them are compact JSON with
	// no control byte, where only the escapes need a look and the numbers are checked below.
	// Anything else (pretty-printed JSON, say) is left to the strict decoder: validating it here
	// first would cost more than the strict decoder does.
	if !plainJSONText(raw) {
		return nil, false
	}
	p := parsers.Get()
	defer parsers.Put(p)
	root, err := p.ParseBytes(raw)
	if err != nil || root.Type() != fastjson.TypeObject || !uniqueNames(root, 0) {
		return nil, false
	}
	r := reader{ok: true, text: make([]byte, 0, len(raw))}
	ev = &Event{}
	detail := r.envelope(root, ev)
	if !r.ok || ev.ID == "" || ev.DetailType == "" || detail == nil || detail.Type() != fastjson.TypeObject {
		return nil, false
	}
	switch ev.DetailType {
	case TypeTaskStateChange:
		ev.Task = r.task(detail)
		ok = r.ok && ev.Task.TaskArn != "" && ev.Task.ClusterArn != ""
	case TypeServiceAction:
		ev.Service = r.service(detail)
		ok = r.ok && ev.Service.EventName != "" && ev.ServiceArn() != ""
	case TypeDeploymentStateChange:
		ev.Deployment = r.deployment(detail)
		ok = r.ok && ev.Deployment.EventName != "" && ev.ServiceArn() != ""
	case TypeAlarmStateChange:
		// Alarms carry loosely typed metric dimensions (any JSON value); they are rare beside
		// task events and left to the strict decoder.
		return nil, false
	}
	if !ok {
		return nil, false
	}
	return ev, true
}

// parsers recycles fastjson's parsers, whose value arena is most of the cost of a parse when
// allocated anew. A pool holds no state anyone can observe: every parse starts afresh, and no
// parsed value outlives decodeFast (strings are copied out).
var parsers fastjson.ParserPool

// plainJSONText reports whether raw has no control byte and no escape but the simple ones
// (\" \\ \/ \b \f \n \r \t): then the only thing fastjson's parser does not check that the
// strict decoder does is number syntax, which uniqueNames checks. Eight bytes are tested at a time.
func plainJSONText(raw []byte) bool {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	for i := 0; i < len(raw); {
		if i+8 <= len(raw) {
			x := binary.LittleEndian.Uint64(raw[i:])
			y := x ^ (ones * '\\')
			// no byte below 0x20 and no backslash among these eight
			if (x-ones*0x20)&^x&highs == 0 && (y-ones)&^y&highs == 0 {
				i += 8
				continue
			}
		}
		switch c := raw[i]; {
		case c < 0x20:
			return false
		case c == '\\':
			if i+1 == len(raw) {
				return false
			}
			switch raw[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			default:
				return false
			}
		}
		i++
	}
	return true
}

// jsonNumber reports whether lit is a number as JSON writes it: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func jsonNumber(lit []byte) bool {
	i := 0
	if i < len(lit) && lit[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(lit) && lit[i] >= '0' && lit[i] <= '9' {
			i++
			n++
		}
		return n
	}
	switch {
	case i < len(lit) && lit[i] == '0':
		i++
	case digits() == 0:
		return false
	}
	if i < len(lit) && lit[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(lit) && (lit[i] == 'e' || lit[i] == 'E') {
		i++
		if i < len(lit) && (lit[i] == '+' || lit[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(lit)
}

// uniqueNames reports whether no object in the tree repeats a name (the strict decoder refuses
// duplicates, wherever they are) and every number is a JSON number.
func uniqueNames(v *fastjson.Value, depth int) bool {
	w := &walker{ok: true, depth: depth}
	w.names, w.bases = w.nameStack[:0], w.baseStack[:0]
	w.visit = func(k []byte, child *fastjson.Value) {
		if !w.ok {
			return
		}
		h := nameHash(k)
		for _, seen := range w.names[w.bases[len(w.bases)-1]:] {
			if seen == h {
				w.ok = false
				return
			}
		}
		w.names = append(w.names, h)
		w.walk(child)
	}
	w.walk(v)
	return w.ok
}

// walker checks a parsed tree. The names of the objects being walked are kept as 64-bit hashes
// on one stack (no pointers, so no write barriers, and one visitor for the whole walk, so no
// allocation per object); two names with the same hash count as a duplicate, which at worst sends
// a valid event to the strict decoder.
type walker struct {
	ok        bool
	depth     int
	names     []uint64 // the names of the objects being walked, innermost last
	bases     []int    // where each object's names start in names
	visit     func(k []byte, child *fastjson.Value)
	buf       [64]byte
	nameStack [64]uint64
	baseStack [16]int
}

func (w *walker) walk(v *fastjson.Value) {
	if w.depth > 64 {
		w.ok = false // leave pathological nesting to the strict decoder
		return
	}
	w.depth++
	w.check(v)
	w.depth--
}

func (w *walker) check(v *fastjson.Value) {
	switch v.Type() {
	case fastjson.TypeNumber:
		w.ok = w.ok && jsonNumber(v.MarshalTo(w.buf[:0]))
	case fastjson.TypeObject:
		o, _ := v.Object()
		w.bases = append(w.bases, len(w.names))
		o.Visit(w.visit)
		w.names = w.names[:w.bases[len(w.bases)-1]]
		w.bases = w.bases[:len(w.bases)-1]
	case fastjson.TypeArray:
		a, _ := v.Array()
		for _, child := range a {
			if w.walk(child); !w.ok {
				return
			}
		}
	}
}

// nameHash is FNV-1a, 64 bits.
func nameHash(k []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range k {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}

// reader takes typed values out of the parsed tree; the first value of an unexpected JSON type
// clears ok. Objects are read in one pass over their members (names are unique, checked before).
type reader struct {
	ok bool
	// text holds the bytes of every string read, one allocation per event instead of one per
	// field; it is never grown past its capacity, so the strings made over it stay valid.
	text []byte
}

// members calls fn for each member of an object; absent or null is no member, another type is
// an error.
func (r *reader) members(v *fastjson.Value, fn func(k []byte, v *fastjson.Value)) {
	if v == nil || v.Type() == fastjson.TypeNull {
		return
	}
	o, err := v.Object()
	if err != nil {
		r.ok = false
		return
	}
	o.Visit(fn)
}

// str reads a string; null is "".
func (r *reader) str(v *fastjson.Value) string {
	if v.Type() == fastjson.TypeNull {
		return ""
	}
	b, err := v.StringBytes()
	if err != nil {
		r.ok = false
		return ""
	}
	return r.keep(b)
}

// keep copies b into the event's text block and returns it as a string.
func (r *reader) keep(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(r.text)+len(b) > cap(r.text) {
		return string(b) // cannot happen (no string is longer than its JSON), but never grow
	}
	start := len(r.text)
	r.text = append(r.text, b...)
	return unsafe.String(&r.text[start], len(b))
}

// strs reads an array of strings; null is nil.
func (r *reader) strs(v *fastjson.Value) []string {
	if v.Type() == fastjson.TypeNull {
		return nil
	}
	a, err := v.Array()
	if err != nil {
		r.ok = false
		return nil
	}
	out := make([]string, 0, len(a))
	for _, e := range a {
		out = append(out, r.str(e))
	}
	return out
}

// integer reads a plain integer literal; null is nil. A fraction or an exponent is left to the
// strict decoder.
func (r *reader) integer(v *fastjson.Value) *int64 {
	if v.Type() == fastjson.TypeNull {
		return nil
	}
	if v.Type() != fastjson.TypeNumber {
		r.ok = false
		return nil
	}
	lit := v.String() // the number as written
	for i := 0; i < len(lit); i++ {
		if c := lit[i]; (c < '0' || c > '9') && !(i == 0 && c == '-') {
			r.ok = false
			return nil
		}
	}
	n, err := v.Int64()
	if err != nil {
		r.ok = false
		return nil
	}
	return &n
}

func (r *reader) intPtr(v *fastjson.Value) *int {
	n := r.integer(v)
	if n == nil {
		return nil
	}
	i := int(*n)
	return &i
}

// time reads an RFC 3339 time the way the strict decoder does (time.Time's UnmarshalText, and
// the strict decoder's extra checks); null is absent (false).
func (r *reader) time(v *fastjson.Value) (time.Time, bool) {
	var t time.Time
	if v.Type() == fastjson.TypeNull {
		return t, false
	}
	b, err := v.StringBytes()
	if err != nil || !plainRFC3339(b) || t.UnmarshalText(b) != nil {
		r.ok = false
		return t, false
	}
	return t, true
}

// timePtr is time for an optional field.
func (r *reader) timePtr(v *fastjson.Value) *time.Time {
	if t, ok := r.time(v); ok {
		return &t
	}
	return nil
}

// plainRFC3339 reports whether b has the shape 2006-01-02T15:04:05[.000]Z07:00 exactly, with a
// time zone in range: the time package alone accepts a few malformed forms (a one-digit hour)
// that the strict decoder refuses, so anything else is left to it.
func plainRFC3339(b []byte) bool {
	digits := func(s []byte) bool {
		for _, c := range s {
			if c < '0' || c > '9' {
				return false
			}
		}
		return len(s) > 0
	}
	if len(b) < 20 || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' ||
		!digits(b[0:4]) || !digits(b[5:7]) || !digits(b[8:10]) || !digits(b[11:13]) || !digits(b[14:16]) || !digits(b[17:19]) {
		return false
	}
	rest := b[19:]
	if rest[0] == '.' {
		i := 1
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 1 {
			return false
		}
		rest = rest[i:]
	}
	switch {
	case len(rest) == 1 && rest[0] == 'Z':
		return true
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':' && digits(rest[1:3]) && digits(rest[4:6]):
		return (rest[1]-'0')*10+rest[2]-'0' < 24 && (rest[4]-'0')*10+rest[5]-'0' < 60
	}
	return false
}

func (r *reader) envelope(root *fastjson.Value, ev *Event) (detail *fastjson.Value) {
	r.members(root, func(k []byte, v *fastjson.Value) {
		switch string(k) {
		case "version":
			ev.Version = r.str(v)
		case "id":
			ev.ID = r.str(v)
		case "detail-type":
			ev.DetailType = r.str(v)
		case "source":
			ev.Source = r.str(v)
		case "account":
			ev.Account = r.str(v)
		case "region":
			ev.Region = r.str(v)
		case "resources":
			ev.Resources = r.strs(v)
		case "time":
			if t, ok := r.time(v); ok {
				ev.Time = t
			}
		case "detail":
			detail = v
		}
	})
	return detail
}

func (r *reader) task(d *fastjson.Value) *TaskDetail {
	// The task and its times in one allocation.
	block := &struct {
		task  TaskDetail
		times [5]time.Time
	}{}
	t := &block.task
	at := func(i int, v *fastjson.Value) *time.Time {
		tm, ok := r.time(v)
		if !ok {
			return nil
		}
		block.times[i] = tm
		return &block.times[i]
	}
	r.members(d, func(k []byte, v *fastjson.Value) {
		switch string(k) {
		case "clusterArn":
			t.ClusterArn = r.str(v)
		case "taskArn":
			t.TaskArn = r.str(v)
		case "taskDefinitionArn":
			t.TaskDefinitionArn = r.str(v)
		case "group":
			t.Group = r.str(v)
		case "launchType":
			t.LaunchType = r.str(v)
		case "capacityProviderName":
			t.CapacityProvider = r.str(v)
		case "platformVersion":
			t.PlatformVersion = r.str(v)
		case "cpu":
			t.CPU = r.str(v)
		case "memory":
			t.Memory = r.str(v)
		case "lastStatus":
			t.LastStatus = r.str(v)
		case "desiredStatus":
			t.DesiredStatus = r.str(v)
		case "stopCode":
			t.StopCode = r.str(v)
		case "stoppedReason":
			t.StoppedReason = r.str(v)
		case "startedBy":
			t.StartedBy = r.str(v)
		case "availabilityZone":
			t.AvailabilityZone = r.str(v)
		case "containerInstanceArn":
			t.ContainerInstance = r.str(v)
		case "createdAt":
			t.CreatedAt = at(0, v)
		case "startedAt":
			t.StartedAt = at(1, v)
		case "stoppingAt":
			t.StoppingAt = at(2, v)
		case "stoppedAt":
			t.StoppedAt = at(3, v)
		case "updatedAt":
			t.UpdatedAt = at(4, v)
		case "version":
			if n := r.integer(v); n != nil {
				t.Version = *n
			}
		case "containers":
			t.Containers = r.containers(v)
		}
	})
	return t
}

func (r *reader) containers(v *fastjson.Value) []Container {
	if v.Type() == fastjson.TypeNull {
		return nil
	}
	a, err := v.Array()
	if err != nil {
		r.ok = false
		return nil
	}
	cs := make([]Container, len(a))
	for i, e := range a {
		c := &cs[i]
		r.members(e, func(k []byte, v *fastjson.Value) {
			switch string(k) {
			case "name":
				c.Name = r.str(v)
			case "image":
				c.Image = r.str(v)
			case "lastStatus":
				c.LastStatus = r.str(v)
			case "exitCode":
				c.ExitCode = r.intPtr(v)
			case "reason":
				c.Reason = r.str(v)
			case "healthStatus":
				c.HealthStatus = r.str(v)
			case "runtimeId":
				c.RuntimeID = r.str(v)
			}
		})
	}
	return cs
}

func (r *reader) service(d *fastjson.Value) *ServiceActionDetail {
	s := &ServiceActionDetail{}
	r.members(d, func(k []byte, v *fastjson.Value) {
		switch string(k) {
		case "eventType":
			s.EventType = r.str(v)
		case "eventName":
			s.EventName = r.str(v)
		case "clusterArn":
			s.ClusterArn = r.str(v)
		case "capacityProviderArns":
			s.CapacityProviderArns = r.strs(v)
		case "reason":
			s.Reason = r.str(v)
		case "desiredCount":
			s.DesiredCount = r.intPtr(v)
		case "taskArns":
			s.TaskArns = r.strs(v)
		case "createdAt":
			s.CreatedAt = r.timePtr(v)
		}
	})
	return s
}

func (r *reader) deployment(d *fastjson.Value) *DeploymentDetail {
	dd := &DeploymentDetail{}
	r.members(d, func(k []byte, v *fastjson.Value) {
		switch string(k) {
		case "eventType":
			dd.EventType = r.str(v)
		case "eventName":
			dd.EventName = r.str(v)
		case "deploymentId":
			dd.DeploymentID = r.str(v)
		case "reason":
			dd.Reason = r.str(v)
		case "updatedAt":
			dd.UpdatedAt = r.timePtr(v)
		}
	})
	return dd
}
