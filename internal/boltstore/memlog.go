package boltstore

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/servicestate"
)

// memory is what the store holds decoded: the active incidents (the truth for them), and what
// changed since the last fold (the log's contents, still to be written into bbolt). Installed
// incidents are never changed in place: a change installs a changed copy, so a pointer handed out
// stays as it was. mu guards the maps and the log and is held only to read or install; the work of
// an update (marks, copies, fn, encoding) is done under its scope's own lock, so handlers of
// different services do not wait for each other.
type memory struct {
	scopes sync.Map // scope key → *scopeState
	marks  [markShards]markShard

	mu      sync.Mutex
	byID    map[string]*incident.Incident // active incident id → incident
	dirty   map[string]*incident.Incident // changed since the last fold, resolved ones too
	folding *foldSet                      // what a fold is writing: still visible until it commits
	seq     uint64                        // the last record's sequence number
}

// scopeState is one scope's active incidents and the lock its updates take.
type scopeState struct {
	mu     sync.Mutex
	active []*incident.Incident
}

// markShards spreads the marks recorded since the last fold over separately locked maps, so
// that checking one costs no global lock.
const markShards = 32

type markShard struct {
	mu      sync.Mutex
	cur     map[string]int64 // mark → expiry (unix seconds)
	folding map[string]int64 // what a fold is writing
}

func (m *memory) shard(mark string) *markShard {
	h := uint32(2166136261) // FNV-1a
	for i := 0; i < len(mark); i++ {
		h = (h ^ uint32(mark[i])) * 16777619
	}
	return &m.marks[h%markShards]
}

// markCount is how many marks wait for a fold.
func (m *memory) markCount() int {
	n := 0
	for i := range m.marks {
		sh := &m.marks[i]
		sh.mu.Lock()
		n += len(sh.cur)
		sh.mu.Unlock()
	}
	return n
}

type foldSet struct {
	dirty map[string]*incident.Incident
	marks []map[string]int64
	upTo  uint64
}

func (m *memory) init() {
	m.byID, m.dirty = map[string]*incident.Incident{}, map[string]*incident.Incident{}
	for i := range m.marks {
		m.marks[i].cur = map[string]int64{}
	}
}

// forgetFolded forgets what a fold wrote: dirty incidents and marks.
func (m *memory) forgetFolded() {
	m.dirty = map[string]*incident.Incident{}
	for i := range m.marks {
		m.marks[i].cur = map[string]int64{}
	}
}

// scope is the state of one scope.
func (m *memory) scope(key string) *scopeState {
	if st, ok := m.scopes.Load(key); ok {
		return st.(*scopeState)
	}
	st, _ := m.scopes.LoadOrStore(key, &scopeState{})
	return st.(*scopeState)
}

// record is one log entry: the marks an Update recorded and the incidents it changed, whole, or
// for an incident that only counted an occurrence, just what that changed.
type record struct {
	Exp       int64                `json:"x,omitempty"`
	Marks     []string             `json:"m,omitempty"`
	Incidents []*incident.Incident `json:"i,omitempty"`
	Occurred  []occurred           `json:"o,omitempty"`
}

// occurred is the change of an incident that only counted an occurrence (incident.OnlyOccurred).
type occurred struct {
	ID          string                 `json:"id"`
	Version     int64                  `json:"v"`
	UpdatedAt   time.Time              `json:"u"`
	Occurrences incident.Occurrences   `json:"o"`
	StateError  string                 `json:"se,omitempty"`
	NewState    bool                   `json:"ns,omitempty"`
	State       *servicestate.Snapshot `json:"st,omitempty"`
}

// occurredOf is the small form of next's change from prev, when it has one.
func occurredOf(prev, next *incident.Incident) (occurred, bool) {
	if !incident.OnlyOccurred(prev, next) {
		return occurred{}, false
	}
	o := occurred{ID: next.ID, Version: next.Version, UpdatedAt: next.UpdatedAt, Occurrences: next.Occurrences, StateError: next.StateError}
	if next.ServiceState != prev.ServiceState {
		o.NewState, o.State = true, next.ServiceState
	}
	return o, true
}

// applyTo is the incident with the change made.
func (o *occurred) applyTo(prev *incident.Incident) *incident.Incident {
	inc := prev.Clone()
	inc.Version, inc.UpdatedAt, inc.Occurrences, inc.StateError = o.Version, o.UpdatedAt, o.Occurrences, o.StateError
	if o.NewState {
		inc.ServiceState = o.State
	}
	return inc
}

// wal is the log: segment files "<db>.log.<first sequence>", each mapped into memory, of frames
// (length, CRC-32C, sequence number, record: JSON or the binary form of record.go); a zero
// length ends a segment. Guarded by memory.mu.
type wal struct {
	size     int // a new segment's size
	cur      *segment
	off      int
	segments []string // every segment not yet folded, the current one last
	readOnly bool
}

// DefaultSegmentSize is a new log segment's size: a sparse file, filled as records come; a fold
// starts the next one, and a record that does not fit in what is left starts one too.
const DefaultSegmentSize = 64 << 20

const frameHeader = 16

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func segmentName(db string, first uint64) string {
	return fmt.Sprintf("%s.log.%020d", db, first)
}

// segments lists the log segments of db in order.
func segments(db string) ([]string, error) {
	names, err := filepath.Glob(db + ".log.*")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range names {
		if _, err := strconv.ParseUint(strings.TrimPrefix(n, db+".log."), 10, 64); err == nil {
			out = append(out, n)
		}
	}
	sort.Strings(out) // zero-padded: name order is sequence order
	return out, nil
}

// open starts a new segment whose first record is first, big enough for at least need bytes.
func (w *wal) open(db string, first uint64, need int) error {
	// The segment we leave is synced first: the syncer and the fold only sync the current
	// one, and a later record may be an occurrence's delta on an earlier one, so after a power
	// loss a later segment must never hold records whose base a torn earlier one lost.
	if w.cur != nil {
		if err := w.cur.sync(); err != nil {
			return fmt.Errorf("sync log segment: %w", err)
		}
	}
	name := segmentName(db, first)
	seg, err := createSegment(name, max(w.size, need+frameHeader))
	if err != nil {
		return err
	}
	if w.cur != nil {
		_ = w.cur.close()
	}
	w.cur, w.off = seg, 0
	w.segments = append(w.segments, name)
	return nil
}

func (w *wal) close() error {
	if w.cur == nil {
		return nil
	}
	err := w.cur.close()
	w.cur = nil
	return err
}

func (w *wal) removeAll() {
	for _, n := range w.segments {
		_ = os.Remove(n)
	}
	w.segments = nil
}

// recordBuf is a record being built, reused: the record of nearly every event holds one
// occurrence, which then costs no allocation.
type recordBuf struct {
	rec record
	occ [2]occurred
}

var records = sync.Pool{New: func() any { return &recordBuf{} }}

// frame is an encoded record waiting for its sequence number.
type frame struct{ b []byte }

var frames = sync.Pool{New: func() any { f := &frame{}; return f }}

// encodeRecord encodes rec after room for the frame header: in the binary form when it changes
// no incident whole (prev gives each occurrence's previous incident), else as JSON.
func encodeRecord(rec *record, prev func(id string) *incident.Incident) (*frame, error) {
	f := frames.Get().(*frame)
	b := append(f.b[:0], make([]byte, frameHeader)...)
	var err error
	if binaryForm(rec) {
		b, err = appendBinaryRecord(b, rec, prev)
	} else {
		var raw []byte
		if raw, err = json.Marshal(rec); err == nil {
			b = append(b, raw...)
		}
	}
	f.b = b
	if err != nil {
		frames.Put(f)
		return nil, fmt.Errorf("encode log record: %w", err)
	}
	return f, nil
}

// appendFrame numbers f as the next record and copies it into the log. Called with s.mem.mu held.
// Once it returns the record is in the operating system's hands.
func (s *Store) appendFrame(f *frame) (uint64, error) {
	m, w := &s.mem, &s.log
	b := f.b
	seq := m.seq + 1
	binary.BigEndian.PutUint32(b[0:4], uint32(len(b)-frameHeader))
	binary.BigEndian.PutUint64(b[8:16], seq)
	binary.BigEndian.PutUint32(b[4:8], crc32.Checksum(b[8:], castagnoli))
	if w.off+len(b)+4 > w.cur.size() { // + room for the zero length that ends the segment
		if err := w.open(s.path, seq, len(b)+4); err != nil {
			return 0, err
		}
	}
	if err := w.cur.write(w.off, b); err != nil {
		return 0, fmt.Errorf("write log: %w", err)
	}
	w.off += len(b)
	m.seq = seq
	s.logged.Add(int64(len(b)))
	return seq, nil
}

// marked returns the first of marks recorded and unexpired, or "". Called under the scope's lock:
// a mark of an event is only ever recorded under the lock of the event's scope.
func (s *Store) marked(marks []string, now int64) string {
	if len(marks) == 0 {
		return ""
	}
	for _, mk := range marks {
		sh := s.mem.shard(mk)
		sh.mu.Lock()
		exp, ok := sh.cur[mk]
		if !ok {
			exp, ok = sh.folding[mk]
		}
		sh.mu.Unlock()
		if ok && exp > now {
			return mk
		}
	}
	// A fold moves marks to bbolt before it forgets them: one not in memory now is there, and in
	// the filter of bbolt's marks, which spares the read for a mark it has never seen.
	if f := s.onDisk.Load(); f != nil {
		maybe := false
		for _, mk := range marks {
			maybe = maybe || f.mayHold(mk)
		}
		if !maybe {
			return ""
		}
	}
	s.diskReads.Add(1)
	found := ""
	_ = s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketMarks)
		for _, mk := range marks {
			if v := b.Get([]byte(mk)); len(v) == 8 && int64(binary.BigEndian.Uint64(v)) > now {
				found = mk
				return nil
			}
		}
		return nil
	})
	return found
}

// Update implements incident.Store: under the scope's lock, the marks are checked and fn
// applied to copies of the scope's active incidents; then one log record is appended.
func (s *Store) Update(ctx context.Context, scope incident.Scope, marks []string, fn func([]*incident.Incident) ([]*incident.Incident, error)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.log.readOnly {
		return errReadOnly
	}
	key := scope.Key()
	st := s.mem.scope(key)
	st.mu.Lock()
	defer st.mu.Unlock()
	now := s.now()
	if mk := s.marked(marks, now.Unix()); mk != "" {
		return fmt.Errorf("mark %s: %w", mk, incident.ErrDuplicate)
	}
	cur := st.active
	copies := make([]*incident.Incident, len(cur))
	for i, inc := range cur {
		copies[i] = inc.Clone()
	}
	changed, err := fn(copies)
	if err == nil {
		err = s.checkChanges(key, cur, changed)
	}
	if err != nil {
		return err
	}
	if len(changed) == 0 && len(marks) == 0 {
		return nil
	}
	if err := s.install(st, changed, marks, now); err != nil {
		return err
	}
	s.writes.Add(1)
	return nil
}

var errReadOnly = errors.New("store opened read-only")

// checkChanges refuses what a store must refuse: a second active incident for a scope and
// cause, a stale version, an id in use. Called under the scope's lock, so cur is current.
func (s *Store) checkChanges(key string, cur, changed []*incident.Incident) error {
	causes := map[string]string{}
	byID := map[string]*incident.Incident{}
	for _, inc := range cur {
		causes[string(inc.Cause)] = inc.ID
		byID[inc.ID] = inc
	}
	for _, inc := range changed {
		if inc.Scope.Key() != key {
			return fmt.Errorf("incident %s is not of scope %s: %w", inc.ID, key, incident.ErrConflict)
		}
		if inc.Version == 0 {
			if _, err := s.find(inc.ID); err == nil {
				return fmt.Errorf("create incident %s: id exists: %w", inc.ID, incident.ErrConflict)
			}
			if id, ok := causes[string(inc.Cause)]; ok && inc.State.Active() && id != inc.ID {
				return fmt.Errorf("create incident %s: %s already has an active %s incident: %w", inc.ID, inc.Scope.Name(), inc.Cause, incident.ErrConflict)
			}
			if inc.State.Active() {
				causes[string(inc.Cause)] = inc.ID
			}
			continue
		}
		live := byID[inc.ID]
		if live == nil || live.Version != inc.Version {
			return fmt.Errorf("update incident %s: %w", inc.ID, incident.ErrConflict)
		}
		if !inc.State.Active() && causes[string(inc.Cause)] == inc.ID {
			delete(causes, string(inc.Cause))
		}
	}
	return nil
}

// install encodes the change as one log record, appends it, and makes the changed incidents the
// live ones. Called under the scope's lock.
func (s *Store) install(st *scopeState, changed []*incident.Incident, marks []string, now time.Time) error {
	cur := st.active
	exp := now.Add(s.markTTL).Unix()
	rb := records.Get().(*recordBuf)
	defer func() { *rb = recordBuf{}; records.Put(rb) }()
	rec := &rb.rec
	rec.Occurred = rb.occ[:0]
	if len(marks) > 0 {
		rec.Marks, rec.Exp = marks, exp
	}
	prevOf := func(id string) *incident.Incident {
		for _, c := range cur {
			if c.ID == id {
				return c
			}
		}
		return nil
	}
	for _, inc := range changed {
		inc.Version++
		if o, ok := occurredOf(prevOf(inc.ID), inc); ok {
			rec.Occurred = append(rec.Occurred, o)
		} else {
			rec.Incidents = append(rec.Incidents, inc)
		}
	}
	f, err := encodeRecord(rec, prevOf)
	if err == nil {
		m := &s.mem
		m.mu.Lock()
		_, err = s.appendFrame(f)
		if err == nil {
			for _, inc := range changed {
				m.apply(st, inc)
			}
			// Under mu, so a fold takes every mark of the records it covers.
			for _, mk := range marks {
				sh := m.shard(mk)
				sh.mu.Lock()
				sh.cur[mk] = exp
				sh.mu.Unlock()
			}
		}
		m.mu.Unlock()
		if cap(f.b) <= maxPooledFrame {
			frames.Put(f)
		}
	}
	if err != nil {
		for _, inc := range changed {
			inc.Version--
		}
	}
	return err
}

// apply installs one incident as the newest: in its scope's active set while active, dirty until
// folded. Called with m.mu and the scope's lock held (or alone, at load).
func (m *memory) apply(st *scopeState, inc *incident.Incident) {
	list := st.active
	i := slices.IndexFunc(list, func(x *incident.Incident) bool { return x.ID == inc.ID })
	list = slices.Clone(list)
	switch {
	case inc.State.Active() && i >= 0:
		list[i] = inc
	case inc.State.Active():
		list = append(list, inc)
	case i >= 0:
		list = slices.Delete(list, i, i+1)
	}
	st.active = list
	if inc.State.Active() {
		m.byID[inc.ID] = inc
	} else {
		delete(m.byID, inc.ID)
	}
	m.dirty[inc.ID] = inc
}

// Modify implements incident.Store. An active incident changes in memory and through the log; a
// resolved one in bbolt directly (it is never in memory again).
func (s *Store) Modify(ctx context.Context, id string, fn func(*incident.Incident) (bool, error)) (*incident.Incident, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s.log.readOnly {
		return nil, errReadOnly
	}
	m := &s.mem
	m.mu.Lock()
	live := m.byID[id]
	unfolded := m.dirty[id] != nil || (m.folding != nil && m.folding.dirty[id] != nil)
	m.mu.Unlock()
	if live == nil {
		if unfolded {
			// Resolved since the last fold: bbolt must hold its last version first.
			if err := s.Fold(); err != nil {
				return nil, err
			}
		}
		return s.modifyDisk(ctx, id, fn)
	}
	st := m.scope(live.Scope.Key())
	st.mu.Lock()
	defer st.mu.Unlock()
	m.mu.Lock()
	live = m.byID[id]
	m.mu.Unlock()
	if live == nil {
		// Resolved meanwhile: bbolt must hold its last version first.
		if err := s.Fold(); err != nil {
			return nil, err
		}
		return s.modifyDisk(ctx, id, fn)
	}
	inc := live.Clone()
	ch, err := fn(inc)
	if err != nil || !ch {
		return inc, err
	}
	if err := s.install(st, []*incident.Incident{inc}, nil, s.now()); err != nil {
		return nil, err
	}
	s.writes.Add(1)
	return inc.Clone(), nil
}

// find finds an incident in memory, then in bbolt.
func (s *Store) find(id string) (*incident.Incident, error) {
	m := &s.mem
	m.mu.Lock()
	inc := m.byID[id]
	if inc == nil {
		inc = m.dirty[id]
	}
	if inc == nil && m.folding != nil {
		inc = m.folding.dirty[id]
	}
	m.mu.Unlock()
	if inc != nil {
		return inc, nil
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		inc, err = decode(tx.Bucket(bucketIncidents).Get([]byte(id)))
		return err
	})
	return inc, err
}

// Get implements incident.Store.
func (s *Store) Get(_ context.Context, id string) (*incident.Incident, error) {
	inc, err := s.find(id)
	if err != nil {
		return nil, fmt.Errorf("incident %s: %w", id, err)
	}
	return inc.Clone(), nil
}

// List implements incident.Store: bbolt's answer with what changed since the last fold laid
// over it.
func (s *Store) List(_ context.Context, f incident.Filter) ([]*incident.Incident, error) {
	limit := f.Max()
	m := &s.mem
	m.mu.Lock()
	over := make(map[string]*incident.Incident, len(m.dirty))
	if m.folding != nil {
		for id, inc := range m.folding.dirty {
			over[id] = inc
		}
	}
	for id, inc := range m.dirty {
		over[id] = inc
	}
	m.mu.Unlock()
	// The overlay can take at most len(over) incidents out of bbolt's answer.
	disk, err := s.listDisk(f, limit+len(over))
	if err != nil {
		return nil, err
	}
	keep := f.Match
	out := make([]*incident.Incident, 0, len(disk)+len(over))
	for _, inc := range disk {
		if o, ok := over[inc.ID]; ok {
			inc = o
			delete(over, inc.ID)
		}
		if keep(inc) {
			out = append(out, inc)
		}
	}
	for _, inc := range over {
		if keep(inc) {
			out = append(out, inc)
		}
	}
	sortNewestFirst(out)
	out = out[:min(len(out), limit)]
	for i, inc := range out {
		out[i] = inc.Clone()
	}
	return out, nil
}

// Fold writes what the log holds into bbolt in one transaction (one fsync) and deletes the log
// segments it covered. The store folds by itself every FoldInterval; Close folds too.
func (s *Store) Fold() error {
	if s.log.readOnly {
		return nil
	}
	s.foldMu.Lock()
	defer s.foldMu.Unlock()
	m, w := &s.mem, &s.log
	m.mu.Lock()
	if len(m.dirty) == 0 && m.markCount() == 0 {
		m.mu.Unlock()
		return nil
	}
	fs := &foldSet{dirty: m.dirty, upTo: m.seq}
	// The next records go to a new segment, so the old ones hold nothing after upTo.
	old := w.segments
	w.segments = nil
	if err := w.open(s.path, m.seq+1, 0); err != nil {
		w.segments = old
		m.mu.Unlock()
		return err
	}
	old = slices.DeleteFunc(old, func(n string) bool { return n == w.segments[0] })
	m.folding, m.dirty = fs, map[string]*incident.Incident{}
	for i := range m.marks {
		sh := &m.marks[i]
		sh.mu.Lock()
		sh.folding, sh.cur = sh.cur, map[string]int64{}
		fs.marks = append(fs.marks, sh.folding)
		sh.mu.Unlock()
	}
	m.mu.Unlock()

	err := s.db.Update(func(tx *bolt.Tx) error { return writeFold(tx, fs) })
	if f := s.onDisk.Load(); f != nil && err == nil {
		// Before memory forgets them below: a mark is always in one or the other.
		for _, marks := range fs.marks {
			for mk := range marks {
				f.add(mk)
			}
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.folding = nil
	for i := range m.marks {
		sh := &m.marks[i]
		sh.mu.Lock()
		if err != nil {
			// Keep them for the next fold.
			for mk, exp := range sh.folding {
				if _, newer := sh.cur[mk]; !newer {
					sh.cur[mk] = exp
				}
			}
		}
		sh.folding = nil
		sh.mu.Unlock()
	}
	if err != nil {
		// Keep it for the next fold; the old segments stay until then.
		for id, inc := range fs.dirty {
			if _, newer := m.dirty[id]; !newer {
				m.dirty[id] = inc
			}
		}
		w.segments = append(old, w.segments...)
		return fmt.Errorf("fold log into store: %w", err)
	}
	s.commits.Add(1)
	for _, n := range old {
		_ = os.Remove(n)
	}
	return nil
}

// writeFold writes a fold's incidents and marks, and the last sequence it covers.
func writeFold(tx *bolt.Tx, fs *foldSet) error {
	ib, ab, mb := tx.Bucket(bucketIncidents), tx.Bucket(bucketActive), tx.Bucket(bucketMarks)
	for _, inc := range fs.dirty {
		raw, err := json.Marshal(inc)
		if err != nil {
			return fmt.Errorf("encode incident %s: %w", inc.ID, err)
		}
		if err := ib.Put([]byte(inc.ID), raw); err != nil {
			return err
		}
		key := activeKey(inc.Scope, string(inc.Cause))
		if inc.State.Active() {
			err = ab.Put(key, []byte(inc.ID))
		} else if id := ab.Get(key); id != nil && string(id) == inc.ID {
			err = ab.Delete(key)
		}
		if err != nil {
			return err
		}
	}
	// In key order: bbolt then walks its pages once, instead of shifting a page's keys for every
	// insert into it in random order.
	n := 0
	for _, marks := range fs.marks {
		n += len(marks)
	}
	keys := make([]string, 0, n)
	for _, marks := range fs.marks {
		for mk := range marks {
			keys = append(keys, mk)
		}
	}
	slices.Sort(keys)
	var exp [8]byte
	for _, mk := range keys {
		var x int64
		for _, marks := range fs.marks {
			if v, ok := marks[mk]; ok {
				x = v
				break
			}
		}
		binary.BigEndian.PutUint64(exp[:], uint64(x))
		if err := mb.Put([]byte(mk), exp[:]); err != nil {
			return err
		}
	}
	var seq [8]byte
	binary.BigEndian.PutUint64(seq[:], fs.upTo)
	return tx.Bucket(bucketMeta).Put([]byte("logseq"), seq[:])
}

// folder folds every FoldInterval and syncs the log to disk every SyncInterval until Close.
func (s *Store) folder() {
	defer close(s.stopped)
	fold, sync := time.NewTicker(s.fold), time.NewTicker(s.sync)
	defer fold.Stop()
	defer sync.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-fold.C:
			_ = s.Fold() // a failure keeps the log; the next fold or Close tries again
		case <-sync.C:
			s.mem.mu.Lock()
			cur := s.log.cur
			s.mem.mu.Unlock()
			if cur != nil {
				// Outside the lock, so records are not held up by the disk. A segment a fold
				// closed meanwhile fails to sync, and needs none: bbolt holds its records.
				_ = cur.sync()
			}
		}
	}
}

// load reads the active incidents from bbolt and replays the log records it has not folded.
func (s *Store) load() error {
	m := &s.mem
	m.init()
	var folded uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		if mb := tx.Bucket(bucketMeta); mb != nil {
			if v := mb.Get([]byte("logseq")); len(v) == 8 {
				folded = binary.BigEndian.Uint64(v)
			}
		}
		ab, ib := tx.Bucket(bucketActive), tx.Bucket(bucketIncidents)
		if ab == nil || ib == nil {
			return nil
		}
		return ab.ForEach(func(_, id []byte) error {
			inc, err := decode(ib.Get(id))
			if err != nil {
				return fmt.Errorf("incident %s: %w", id, err)
			}
			st := m.scope(inc.Scope.Key())
			st.active = append(st.active, inc)
			m.byID[inc.ID] = inc
			return nil
		})
	})
	if err != nil {
		return err
	}
	m.seq = folded
	segs, err := segments(s.path)
	if err != nil {
		return err
	}
	for _, name := range segs {
		if err := s.replay(name, folded); err != nil {
			return err
		}
	}
	s.log.segments = segs
	return nil
}

// foldReplayed writes what load replayed into bbolt, deletes the old segments and starts a new
// one.
func (s *Store) foldReplayed() error {
	m, w := &s.mem, &s.log
	if len(m.dirty) > 0 || m.markCount() > 0 {
		fs := &foldSet{dirty: m.dirty, upTo: m.seq}
		for i := range m.marks {
			fs.marks = append(fs.marks, m.marks[i].cur)
		}
		if err := s.db.Update(func(tx *bolt.Tx) error { return writeFold(tx, fs) }); err != nil {
			return fmt.Errorf("fold replayed log: %w", err)
		}
		m.forgetFolded()
	}
	w.removeAll()
	return w.open(s.path, m.seq+1, 0)
}

// replay applies a segment's records after folded. A torn last record (the process died while
// writing it, so it was never acknowledged) ends the segment, as does a zero length (the part of
// the segment never written).
func (s *Store) replay(name string, folded uint64) error {
	f, err := os.Open(name)
	if err != nil {
		return fmt.Errorf("read log %s: %w", name, err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	m := &s.mem
	var hdr [frameHeader]byte
	var payload []byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			break // the end, or a torn header
		}
		n := binary.BigEndian.Uint32(hdr[:4])
		if n == 0 || n > 1<<30 {
			break
		}
		payload = slices.Grow(payload[:0], int(n))[:n]
		if _, err := io.ReadFull(r, payload); err != nil {
			break
		}
		crc := crc32.Update(crc32.Checksum(hdr[8:], castagnoli), castagnoli, payload)
		if crc != binary.BigEndian.Uint32(hdr[4:8]) {
			break
		}
		seq := binary.BigEndian.Uint64(hdr[8:16])
		if seq <= folded {
			continue
		}
		if payload[0] == binaryRecord { // n > 0: a zero length ended the segment above
			if err := s.replayBinary(payload); err != nil {
				return fmt.Errorf("log %s: record %d: %w", name, seq, err)
			}
			m.seq = max(m.seq, seq)
			continue
		}
		var rec record
		if err := json.Unmarshal(payload, &rec); err != nil {
			return fmt.Errorf("log %s: record %d: %w", name, seq, err)
		}
		for _, inc := range rec.Incidents {
			m.apply(m.scope(inc.Scope.Key()), inc)
		}
		for _, o := range rec.Occurred {
			prev := m.byID[o.ID]
			if prev == nil {
				return fmt.Errorf("log %s: record %d: an occurrence of incident %s, which is not active", name, seq, o.ID)
			}
			m.apply(m.scope(prev.Scope.Key()), o.applyTo(prev))
		}
		for _, mk := range rec.Marks {
			m.shard(mk).cur[mk] = rec.Exp
		}
		m.seq = max(m.seq, seq)
	}
	return nil
}

// replayBinary applies one binary record (see record.go).
func (s *Store) replayBinary(payload []byte) error {
	m := &s.mem
	marks, exp, occ, err := decodeBinaryRecord(payload)
	if err != nil {
		return err
	}
	for i := range occ {
		o := &occ[i]
		prev := m.byID[o.ID]
		if prev == nil {
			return fmt.Errorf("an occurrence of incident %s, which is not active", o.ID)
		}
		inc, err := o.applyTo(prev)
		if err != nil {
			return fmt.Errorf("incident %s: %w", o.ID, err)
		}
		m.apply(m.scope(prev.Scope.Key()), inc)
	}
	for _, mk := range marks {
		m.shard(mk).cur[mk] = exp
	}
	return nil
}

// maxPooledFrame bounds the frames kept for reuse: a record holding a large incident is not kept.
const maxPooledFrame = 16 << 10
