package event

import (
	"encoding/binary"
	"math/bits"
	"strconv"
	"time"
	"unicode/utf8"
	"unsafe"
)

// decodeFast decodes a well-formed event in a single pass over its bytes, without reflection and
// without building a tree: the JSON is validated as it is read, and the fields the pipeline reads
// go straight into the event. It is several times faster than the reflective decoder, which
// matters because every event pays it.
//
// It accepts exactly what the reflective decoder (decodeStrict) accepts and decodes it the same
// way (FuzzFastMatchesStrict checks this): on anything it is not sure of — a \u escape, invalid
// UTF-8, a duplicate name, a field of an unexpected JSON type, a number that is not a plain
// integer, a time that is not RFC 3339, a missing required field, deep nesting — it reports
// ok=false, and the reflective decoder decides and words the error.
func decodeFast(raw []byte) (ev *Event, ok bool) {
	// Invalid UTF-8 is rare in real events; leaving it to the strict decoder keeps string
	// handling identical. (utf8.Valid runs at memory speed on ASCII.)
	if !utf8.Valid(raw) {
		return nil, false
	}
	d := decoder{in: raw, ok: true}
	ev = d.event()
	if !d.ok || !d.end() {
		return nil, false
	}
	d.keepStrings()
	return ev, true
}

// decoder reads one event. It lives on the caller's stack: the names of the objects being read
// (for the duplicate check) and the strings to keep are in fixed arrays, not slices it grows.
type decoder struct {
	in    []byte
	pos   int
	ok    bool // cleared by the first thing the strict decoder must decide
	depth int

	// names holds a hash of every name of the objects being read, innermost object last: the
	// strict decoder refuses a duplicate name anywhere, in fields it ignores too. Two names with
	// the same hash count as a duplicate, which at worst sends a valid event to the strict decoder.
	names  [160]uint64
	nnames int

	// Strings the event keeps are copied out of the input only once it has been read whole, all
	// into one block of exactly their size (the input may be much larger: indentation and the
	// many fields the pipeline does not read). pend records where each one goes.
	pend     [64]pending
	npend    int
	textSize int
}

// pending is one string to copy into the event: the JSON text between its quotes, and whether it
// has escapes to undo.
type pending struct {
	dst        *string
	start, end int32
	escaped    bool
}

// maxDepth bounds nesting (recursion); deeper input goes to the strict decoder.
const maxDepth = 64

func (d *decoder) fail() { d.ok = false }

// ws skips JSON whitespace.
func (d *decoder) ws() {
	for d.pos < len(d.in) {
		// One comparison for what follows most tokens, in indented JSON too: a byte above the
		// space is not whitespace.
		if c := d.in[d.pos]; c > ' ' || c != ' ' && c != '\n' && c != '\t' && c != '\r' {
			return
		}
		d.pos++
	}
}

// peek returns the next byte after whitespace, 0 at the end.
func (d *decoder) peek() byte {
	d.ws()
	if d.pos < len(d.in) {
		return d.in[d.pos]
	}
	return 0
}

// end reports whether only whitespace is left.
func (d *decoder) end() bool {
	d.ws()
	return d.pos == len(d.in)
}

// literal consumes one of true, false, null.
func (d *decoder) literal(w string) {
	if len(d.in)-d.pos >= len(w) && string(d.in[d.pos:d.pos+len(w)]) == w {
		d.pos += len(w)
		return
	}
	d.fail()
}

// object is the state of one object being read.
type object struct {
	base  int    // where its names start in decoder.names
	bloom uint64 // one bit per name's hash, so that most names need no comparison
	first bool
}

// open consumes the '{' of an object (false for null; anything else fails).
func (d *decoder) open() (object, bool) {
	switch d.peek() {
	case '{':
		d.pos++
	case 'n':
		d.literal("null")
		return object{}, false
	default:
		d.fail()
		return object{}, false
	}
	if d.depth++; d.depth > maxDepth {
		d.fail()
	}
	return object{base: d.nnames, first: true}, d.ok
}

// member reads the next member's name and the ':' after it; false at the object's end (or on
// an error). Names with escapes go to the strict decoder.
func (d *decoder) member(o *object) ([]byte, bool) {
	if !d.ok {
		return nil, false
	}
	c := d.peek()
	switch {
	case c == '}':
		d.pos++
		d.nnames = o.base
		d.depth--
		return nil, false
	case o.first:
		o.first = false
	case c == ',':
		d.pos++
		c = d.peek()
	default:
		d.fail()
		return nil, false
	}
	if c != '"' {
		d.fail()
		return nil, false
	}
	start, end, escaped := d.str()
	if !d.ok || escaped {
		d.fail()
		return nil, false
	}
	name := d.in[start:end]
	h := nameHash(d.in, start, end)
	if bit := uint64(1) << (h & 63); o.bloom&bit != 0 {
		for _, seen := range d.names[o.base:d.nnames] {
			if seen == h {
				d.fail()
				return nil, false
			}
		}
	} else {
		o.bloom |= bit
	}
	if d.nnames == len(d.names) {
		d.fail()
		return nil, false
	}
	d.names[d.nnames] = h
	d.nnames++
	if d.peek() != ':' {
		d.fail()
		return nil, false
	}
	d.pos++
	return name, true
}

// array is the state of one array being read.
type array struct{ first bool }

// openArray consumes the '[' of an array (false for null; anything else fails).
func (d *decoder) openArray() (array, bool) {
	switch d.peek() {
	case '[':
		d.pos++
	case 'n':
		d.literal("null")
		return array{}, false
	default:
		d.fail()
		return array{}, false
	}
	if d.depth++; d.depth > maxDepth {
		d.fail()
	}
	return array{first: true}, d.ok
}

// element reports whether another element follows (and consumes the ',' before it).
func (d *decoder) element(a *array) bool {
	if !d.ok {
		return false
	}
	switch c := d.peek(); {
	case c == ']':
		d.pos++
		d.depth--
		return false
	case a.first:
		a.first = false
		return true
	case c == ',':
		d.pos++
		return true
	}
	d.fail()
	return false
}

// str reads a string at pos (its opening quote): the span between the quotes and whether it has
// escapes. Control bytes, bad escapes and \u escapes (left to the strict decoder, with their
// surrogates) fail. Eight bytes are tested at a time.
func (d *decoder) str() (start, end int, escaped bool) {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	in := d.in
	i := d.pos + 1
	start = i
	for {
		for i+8 <= len(in) {
			x := binary.LittleEndian.Uint64(in[i:])
			// y has a byte below 0x21 exactly where x has a control byte or a quote (0x22 ^ 0x02
			// is 0x20; a control byte stays one); b has a zero byte where x has a backslash.
			y := x ^ (ones * 0x02)
			b := x ^ (ones * '\\')
			// the high bit of each byte below 0x20, quote or backslash among these eight (and
			// perhaps of bytes after the first such one, where a borrow carried: the lowest set
			// bit is exact)
			if m := ((y-ones*0x21)&^y | (b-ones)&^b) & highs; m != 0 {
				// Straight to the first of them: stepping a byte at a time and testing eight
				// again would cost most strings, which are short, a dozen tests each.
				i += bits.TrailingZeros64(m) >> 3
				break
			}
			i += 8
		}
		if i >= len(in) {
			d.fail()
			return 0, 0, false
		}
		switch c := in[i]; {
		case c == '"':
			d.pos = i + 1
			return start, i, escaped
		case c == '\\':
			if i+1 == len(in) {
				d.fail()
				return 0, 0, false
			}
			switch in[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				escaped = true
				i += 2
			default:
				d.fail()
				return 0, 0, false
			}
		case c < 0x20:
			d.fail()
			return 0, 0, false
		default:
			i++
		}
	}
}

// keep reads a string (or null, "") into *dst; the bytes are copied when the event is complete.
func (d *decoder) keep(dst *string) {
	var p pending
	if d.span(&p); d.ok {
		d.keepSpan(dst, p)
	}
}

// keepNow reads a string (or null) and copies it at once, for values that go into a map.
func (d *decoder) keepNow() (s string, isNull bool) {
	switch d.peek() {
	case '"':
	case 'n':
		d.literal("null")
		return "", true
	default:
		d.fail()
		return "", false
	}
	start, end, escaped := d.str()
	if !d.ok {
		return "", false
	}
	return string(unescape(nil, d.in[start:end], escaped)), false
}

// keepStrings copies the kept strings into one block.
func (d *decoder) keepStrings() {
	if d.npend == 0 {
		return
	}
	text := make([]byte, 0, d.textSize)
	for _, p := range d.pend[:d.npend] {
		at := len(text)
		text = unescape(text, d.in[p.start:p.end], p.escaped)
		*p.dst = unsafe.String(&text[at], len(text)-at) // never empty: empty strings are not kept
	}
}

// movePending points the pending strings that were to go into old's elements at the same
// elements of moved, after an append moved a slice.
func movePending[T any](d *decoder, old, moved []T) {
	if len(old) == 0 || &old[0] == &moved[0] {
		return
	}
	lo := uintptr(unsafe.Pointer(&old[0]))
	hi := lo + uintptr(len(old))*unsafe.Sizeof(old[0])
	for i := range d.pend[:d.npend] {
		p := &d.pend[i]
		if at := uintptr(unsafe.Pointer(p.dst)); at >= lo && at < hi {
			p.dst = (*string)(unsafe.Add(unsafe.Pointer(&moved[0]), at-lo))
		}
	}
}

// unescape appends s with its simple escapes undone (str admitted no others).
func unescape(dst, s []byte, escaped bool) []byte {
	if !escaped {
		return append(dst, s...)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			dst = append(dst, c)
			continue
		}
		i++
		switch s[i] {
		case 'b':
			c = '\b'
		case 'f':
			c = '\f'
		case 'n':
			c = '\n'
		case 'r':
			c = '\r'
		case 't':
			c = '\t'
		default: // " \ /
			c = s[i]
		}
		dst = append(dst, c)
	}
	return dst
}

// strings reads an array of strings (null: nil) into *dst, the first of them into inline.
func (d *decoder) strings(dst *[]string, inline []string) {
	a, ok := d.openArray()
	if !ok {
		return
	}
	out := inline[:0:len(inline)]
	for d.element(&a) {
		if len(out) == cap(out) {
			moved := append(out, "")[:len(out)]
			movePending(d, out, moved)
			out = moved
		}
		out = out[:len(out)+1]
		d.keep(&out[len(out)-1])
	}
	if len(out) == 0 {
		out = []string{}
	}
	*dst = out
}

// number consumes a JSON number and returns its text.
func (d *decoder) number() []byte {
	start := d.pos
	for d.pos < len(d.in) {
		switch c := d.in[d.pos]; {
		case c >= '0' && c <= '9', c == '-', c == '+', c == '.', c == 'e', c == 'E':
			d.pos++
			continue
		}
		break
	}
	lit := d.in[start:d.pos]
	if !jsonNumber(lit) {
		d.fail()
	}
	return lit
}

// integer reads a plain integer (null: absent); a fraction or an exponent is left to the strict
// decoder.
func (d *decoder) integer() (n int64, present bool) {
	switch c := d.peek(); {
	case c == 'n':
		d.literal("null")
		return 0, false
	case c == '-' || c >= '0' && c <= '9':
	default:
		d.fail()
		return 0, false
	}
	lit := d.number()
	if !d.ok {
		return 0, false
	}
	for i, c := range lit {
		if (c < '0' || c > '9') && !(i == 0 && c == '-') {
			d.fail()
			return 0, false
		}
	}
	n, err := strconv.ParseInt(unsafe.String(&lit[0], len(lit)), 10, 64)
	if err != nil {
		d.fail()
		return 0, false
	}
	return n, true
}

// time reads an RFC 3339 time the way the strict decoder does (time.Time's UnmarshalText, and
// the strict decoder's extra checks); null is absent.
func (d *decoder) time(dst *time.Time) (present bool) {
	switch d.peek() {
	case '"':
	case 'n':
		d.literal("null")
		return false
	default:
		d.fail()
		return false
	}
	start, end, escaped := d.str()
	if !d.ok {
		return false
	}
	b := d.in[start:end]
	if escaped || !plainRFC3339(b) || dst.UnmarshalText(b) != nil {
		d.fail()
		return false
	}
	return true
}

// skip reads a value nobody keeps, checking it all the same.
func (d *decoder) skip() {
	switch c := d.peek(); {
	case c == '"':
		d.str()
	case c == '{':
		o, _ := d.open()
		for _, ok := d.member(&o); ok; _, ok = d.member(&o) {
			d.skip()
		}
	case c == '[':
		a, _ := d.openArray()
		for d.element(&a) {
			d.skip()
		}
	case c == 't':
		d.literal("true")
	case c == 'f':
		d.literal("false")
	case c == 'n':
		d.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		d.number()
	default:
		d.fail()
	}
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

// nameHash hashes the name in[start:end] eight bytes at a time, its length mixed in (a byte at a
// time cost more than the rest of reading a name). Names of up to seven bytes, mixed by a
// bijection, never collide with each other; a collision only sends an event to the strict decoder.
func nameHash(in []byte, start, end int) uint64 {
	const mul = 0xff51afd7ed558ccd
	h := uint64(end-start) << 56
	i := start
	for ; i+8 <= end; i += 8 {
		h = (h ^ binary.LittleEndian.Uint64(in[i:])) * mul
	}
	// The last 0–7 bytes: the bytes after the name (its closing quote and more) are masked off,
	// or, at the end of the input, the same word is read a byte at a time.
	if i+8 <= len(in) {
		h ^= binary.LittleEndian.Uint64(in[i:]) & (1<<(8*(end-i)) - 1)
	} else {
		for j := end - 1; j >= i; j-- {
			h ^= uint64(in[j]) << (8 * (j - i))
		}
	}
	h *= mul
	return h ^ h>>29
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

// The event and its detail are allocated together, with room for the usual number of
// resources, containers and times: one allocation for the structure of an event, one for its
// strings.
type (
	taskBlock struct {
		ev         Event
		task       TaskDetail
		times      [5]time.Time
		containers [3]Container
		exits      [3]int
		resources  [1]string
	}
	serviceBlock struct {
		ev        Event
		svc       ServiceActionDetail
		created   time.Time
		desired   int
		resources [1]string
	}
	deploymentBlock struct {
		ev         Event
		deployment DeploymentDetail
		updated    time.Time
		resources  [1]string
	}
	alarmBlock struct {
		ev        Event
		alarm     AlarmDetail
		resources [1]string
	}
)

// Envelope strings are noted where they are in the input while it is read (the event they go
// into is allocated once its detail-type is known) and kept with the others at the end.
const (
	envVersion = iota
	envID
	envDetailType
	envSource
	envAccount
	envRegion
	envStrings
	maxResources = 4 // more go to the strict decoder
)

// event reads the envelope and the detail. The detail is read as it comes when the detail-type
// came before it (as EventBridge writes events); otherwise it is checked, and read once the
// envelope is done.
func (d *decoder) event() *Event {
	var env [envStrings]pending
	var res [maxResources]pending
	nres := -1 // no resources, or null
	var at time.Time
	detail := -1
	o, ok := d.open()
	if !ok {
		d.fail()
		return nil
	}
	var ev *Event
	var inline []string // room for one resource in the event's block
	for name, ok := d.member(&o); ok; name, ok = d.member(&o) {
		switch string(name) {
		case "version":
			d.span(&env[envVersion])
		case "id":
			d.span(&env[envID])
		case "detail-type":
			d.span(&env[envDetailType])
		case "source":
			d.span(&env[envSource])
		case "account":
			d.span(&env[envAccount])
		case "region":
			d.span(&env[envRegion])
		case "resources":
			nres = d.spans(res[:])
		case "time":
			d.time(&at)
		case "detail":
			if dt := d.text(env[envDetailType]); dt != "" {
				if ev, inline = d.detail(dt); ev == nil {
					return nil
				}
				continue
			}
			detail = d.pos
			d.skip()
		default:
			d.skip()
		}
	}
	if !d.ok || env[envID].end == env[envID].start || env[envDetailType].end == env[envDetailType].start {
		d.fail()
		return nil
	}
	if ev == nil {
		if detail < 0 {
			d.fail() // the strict decoder says which
			return nil
		}
		// The detail came before its type: read it now, from where it starts.
		end := d.pos
		d.pos = detail
		ev, inline = d.detail(d.text(env[envDetailType]))
		if ev == nil || !d.ok {
			d.fail()
			return nil
		}
		d.pos = end
	}
	if (ev.Service != nil || ev.Deployment != nil) && !d.namesService(res[:max(nres, 0)]) {
		d.fail()
		return nil
	}
	ev.Time = at
	for i, dst := range [envStrings]*string{&ev.Version, &ev.ID, &ev.DetailType, &ev.Source, &ev.Account, &ev.Region} {
		d.keepSpan(dst, env[i])
	}
	switch {
	case nres == 0:
		ev.Resources = []string{}
	case nres == 1:
		ev.Resources = inline[:1:1]
	case nres > 1:
		ev.Resources = make([]string, nres)
	}
	for i := range ev.Resources {
		d.keepSpan(&ev.Resources[i], res[i])
	}
	return ev
}

// span notes where a string (or null: nothing) is in the input.
func (d *decoder) span(p *pending) {
	switch d.peek() {
	case '"':
		start, end, escaped := d.str()
		*p = pending{start: int32(start), end: int32(end), escaped: escaped}
	case 'n':
		d.literal("null")
	default:
		d.fail()
	}
}

// spans notes an array of strings (null: -1); more than fit go to the strict decoder.
func (d *decoder) spans(ps []pending) int {
	a, ok := d.openArray()
	if !ok {
		return -1
	}
	n := 0
	for d.element(&a) {
		if n == len(ps) {
			d.fail()
			return -1
		}
		d.span(&ps[n])
		n++
	}
	return n
}

// text is a noted string as it is in the input: only for comparing (an escaped one is none we
// look for, and reads as "").
func (d *decoder) text(p pending) string {
	if p.escaped || p.end == p.start {
		return ""
	}
	b := d.in[p.start:p.end]
	return unsafe.String(&b[0], len(b))
}

// keepSpan keeps a noted string into *dst.
func (d *decoder) keepSpan(dst *string, p pending) {
	switch {
	case p.end == p.start:
	case d.npend == len(d.pend):
		*dst = string(unescape(nil, d.in[p.start:p.end], p.escaped)) // more strings than expected: rare
	default:
		p.dst = dst
		d.pend[d.npend] = p
		d.npend++
		d.textSize += int(p.end - p.start)
	}
}

// namesService is ServiceArn before the strings are kept: whether a resource names a service.
func (d *decoder) namesService(res []pending) bool {
	for _, p := range res {
		if containsBytes(d.in[p.start:p.end], ":service/") {
			return true
		}
	}
	return false
}

// pended reports whether a string is waiting to be kept (so it is not empty).
func (d *decoder) pended(dst *string) bool {
	for _, p := range d.pend[:d.npend] {
		if p.dst == dst {
			return true
		}
	}
	return false
}

func containsBytes(s []byte, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if string(s[i:i+len(sub)]) == sub {
			return true
		}
	}
	return false
}

// detail reads the detail of the type named, and returns the event with the room for one
// resource in its block; nil for a type the strict decoder must handle.
func (d *decoder) detail(detailType string) (*Event, []string) {
	switch detailType {
	case TypeTaskStateChange:
		b := &taskBlock{}
		b.ev.Task = &b.task
		if d.task(b) && d.given(&b.task.TaskArn) && d.given(&b.task.ClusterArn) {
			return &b.ev, b.resources[:]
		}
	case TypeServiceAction:
		b := &serviceBlock{}
		b.ev.Service = &b.svc
		if d.service(b) && d.given(&b.svc.EventName) {
			return &b.ev, b.resources[:]
		}
	case TypeDeploymentStateChange:
		b := &deploymentBlock{}
		b.ev.Deployment = &b.deployment
		if d.deployment(b) && d.given(&b.deployment.EventName) {
			return &b.ev, b.resources[:]
		}
	case TypeAlarmStateChange:
		b := &alarmBlock{}
		b.ev.Alarm = &b.alarm
		if d.alarm(&b.alarm) && d.given(&b.alarm.AlarmName) {
			return &b.ev, b.resources[:]
		}
	}
	d.fail()
	return nil, nil
}

// given reports whether a string field is not empty, kept already or waiting to be.
func (d *decoder) given(s *string) bool { return *s != "" || d.pended(s) }

func (d *decoder) task(b *taskBlock) bool {
	o, ok := d.open()
	if !ok {
		d.fail()
		return false
	}
	t := &b.task
	at := func(i int, dst **time.Time) {
		if d.time(&b.times[i]) {
			*dst = &b.times[i]
		} else {
			*dst = nil
		}
	}
	for name, ok := d.member(&o); ok; name, ok = d.member(&o) {
		switch string(name) {
		case "clusterArn":
			d.keep(&t.ClusterArn)
		case "taskArn":
			d.keep(&t.TaskArn)
		case "taskDefinitionArn":
			d.keep(&t.TaskDefinitionArn)
		case "group":
			d.keep(&t.Group)
		case "launchType":
			d.keep(&t.LaunchType)
		case "capacityProviderName":
			d.keep(&t.CapacityProvider)
		case "platformVersion":
			d.keep(&t.PlatformVersion)
		case "cpu":
			d.keep(&t.CPU)
		case "memory":
			d.keep(&t.Memory)
		case "lastStatus":
			d.keep(&t.LastStatus)
		case "desiredStatus":
			d.keep(&t.DesiredStatus)
		case "stopCode":
			d.keep(&t.StopCode)
		case "stoppedReason":
			d.keep(&t.StoppedReason)
		case "startedBy":
			d.keep(&t.StartedBy)
		case "availabilityZone":
			d.keep(&t.AvailabilityZone)
		case "containerInstanceArn":
			d.keep(&t.ContainerInstance)
		case "createdAt":
			at(0, &t.CreatedAt)
		case "startedAt":
			at(1, &t.StartedAt)
		case "stoppingAt":
			at(2, &t.StoppingAt)
		case "stoppedAt":
			at(3, &t.StoppedAt)
		case "updatedAt":
			at(4, &t.UpdatedAt)
		case "version":
			t.Version, _ = d.integer()
		case "containers":
			d.containers(b)
		default:
			d.skip()
		}
	}
	return d.ok
}

func (d *decoder) containers(b *taskBlock) {
	a, ok := d.openArray()
	if !ok {
		b.task.Containers = nil
		return
	}
	cs := b.containers[:0:len(b.containers)]
	for d.element(&a) {
		if len(cs) == cap(cs) {
			moved := append(cs, Container{})[:len(cs)]
			movePending(d, cs, moved)
			cs = moved
		}
		cs = cs[:len(cs)+1]
		c := &cs[len(cs)-1]
		*c = Container{}
		o, ok := d.open()
		if !ok {
			continue
		}
		for name, ok := d.member(&o); ok; name, ok = d.member(&o) {
			switch string(name) {
			case "name":
				d.keep(&c.Name)
			case "image":
				d.keep(&c.Image)
			case "lastStatus":
				d.keep(&c.LastStatus)
			case "exitCode":
				c.ExitCode = nil
				if n, ok := d.integer(); ok {
					if i := len(cs) - 1; i < len(b.exits) {
						b.exits[i] = int(n)
						c.ExitCode = &b.exits[i]
					} else {
						e := int(n)
						c.ExitCode = &e
					}
				}
			case "reason":
				d.keep(&c.Reason)
			case "healthStatus":
				d.keep(&c.HealthStatus)
			case "runtimeId":
				d.keep(&c.RuntimeID)
			default:
				d.skip()
			}
		}
	}
	if len(cs) == 0 {
		cs = []Container{}
	}
	b.task.Containers = cs
}

func (d *decoder) service(b *serviceBlock) bool {
	o, ok := d.open()
	if !ok {
		d.fail()
		return false
	}
	s := &b.svc
	for name, ok := d.member(&o); ok; name, ok = d.member(&o) {
		switch string(name) {
		case "eventType":
			d.keep(&s.EventType)
		case "eventName":
			d.keep(&s.EventName)
		case "clusterArn":
			d.keep(&s.ClusterArn)
		case "capacityProviderArns":
			d.strings(&s.CapacityProviderArns, nil)
		case "reason":
			d.keep(&s.Reason)
		case "desiredCount":
			s.DesiredCount = nil
			if n, ok := d.integer(); ok {
				b.desired = int(n)
				s.DesiredCount = &b.desired
			}
		case "taskArns":
			d.strings(&s.TaskArns, nil)
		case "createdAt":
			s.CreatedAt = nil
			if d.time(&b.created) {
				s.CreatedAt = &b.created
			}
		default:
			d.skip()
		}
	}
	return d.ok
}

func (d *decoder) deployment(b *deploymentBlock) bool {
	o, ok := d.open()
	if !ok {
		d.fail()
		return false
	}
	dd := &b.deployment
	for name, ok := d.member(&o); ok; name, ok = d.member(&o) {
		switch string(name) {
		case "eventType":
			d.keep(&dd.EventType)
		case "eventName":
			d.keep(&dd.EventName)
		case "deploymentId":
			d.keep(&dd.DeploymentID)
		case "reason":
			d.keep(&dd.Reason)
		case "updatedAt":
			dd.UpdatedAt = nil
			if d.time(&b.updated) {
				dd.UpdatedAt = &b.updated
			}
		default:
			d.skip()
		}
	}
	return d.ok
}

func (d *decoder) alarm(a *AlarmDetail) bool {
	o, ok := d.open()
	if !ok {
		d.fail()
		return false
	}
	for name, ok := d.member(&o); ok; name, ok = d.member(&o) {
		switch string(name) {
		case "alarmName":
			d.keep(&a.AlarmName)
		case "state":
			d.alarmState(&a.State)
		case "previousState":
			d.alarmState(&a.PreviousState)
		case "configuration":
			d.alarmConfiguration(a)
		default:
			d.skip()
		}
	}
	return d.ok
}

func (d *decoder) alarmState(s *AlarmState) {
	*s = AlarmState{}
	o, ok := d.open()
	if !ok {
		return
	}
	for name, ok := d.member(&o); ok; name, ok = d.member(&o) {
		switch string(name) {
		case "value":
			d.keep(&s.Value)
		case "reason":
			d.keep(&s.Reason)
		case "timestamp":
			d.keep(&s.Timestamp)
		default:
			d.skip()
		}
	}
}

func (d *decoder) alarmConfiguration(a *AlarmDetail) {
	c := &a.Configuration
	*c = struct {
		Description string        `json:"description"`
		AlarmRule   string        `json:"alarmRule"`
		Metrics     []AlarmMetric `json:"metrics"`
	}{}
	o, ok := d.open()
	if !ok {
		return
	}
	for name, ok := d.member(&o); ok; name, ok = d.member(&o) {
		switch string(name) {
		case "description":
			d.keep(&c.Description)
		case "alarmRule":
			d.keep(&c.AlarmRule)
		case "metrics":
			c.Metrics = d.alarmMetrics()
		default:
			d.skip()
		}
	}
}

// alarmMetrics reads an alarm's metrics. Their strings are copied at once (the slice grows
// while it is read); alarms are rare beside task events.
func (d *decoder) alarmMetrics() []AlarmMetric {
	a, ok := d.openArray()
	if !ok {
		return nil
	}
	ms := []AlarmMetric{}
	for d.element(&a) {
		var m AlarmMetric
		d.alarmMetric(&m)
		ms = append(ms, m)
	}
	return ms
}

func (d *decoder) alarmMetric(m *AlarmMetric) {
	o, ok := d.open()
	if !ok {
		return
	}
	for name, ok := d.member(&o); ok; name, ok = d.member(&o) {
		switch string(name) {
		case "id":
			m.ID, _ = d.keepNow()
		case "metricStat":
			m.MetricStat = nil
			d.metricStat(m)
		default:
			d.skip()
		}
	}
}

func (d *decoder) metricStat(m *AlarmMetric) {
	o, ok := d.open()
	if !ok {
		return
	}
	ms := alloc(&m.MetricStat)
	for name, ok := d.member(&o); ok; name, ok = d.member(&o) {
		if string(name) != "metric" {
			d.skip()
			continue
		}
		met := &ms.Metric
		met.Namespace, met.Name, met.Dimensions = "", "", nil
		mo, ok := d.open()
		if !ok {
			continue
		}
		for name, ok := d.member(&mo); ok; name, ok = d.member(&mo) {
			switch string(name) {
			case "namespace":
				met.Namespace, _ = d.keepNow()
			case "name":
				met.Name, _ = d.keepNow()
			case "dimensions":
				met.Dimensions = d.dimensions()
			default:
				d.skip()
			}
		}
	}
}

// dimensions reads a metric's dimensions. Their values are strings (or null) in every alarm
// CloudWatch sends; any other value goes to the strict decoder, which decodes it as the any it is.
func (d *decoder) dimensions() map[string]any {
	o, ok := d.open()
	if !ok {
		return nil
	}
	dims := make(map[string]any, 2)
	for name, ok := d.member(&o); ok; name, ok = d.member(&o) {
		v, isNull := d.keepNow()
		if isNull {
			dims[string(name)] = nil
		} else {
			dims[string(name)] = v
		}
	}
	return dims
}

// alloc sets *p to a new T and returns it (for fields of an unnamed struct type).
func alloc[T any](p **T) *T {
	*p = new(T)
	return *p
}
