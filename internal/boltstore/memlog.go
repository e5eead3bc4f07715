package boltstore

import (
	"bytes"
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
// stays as it was.
type memory struct {
	mu      sync.Mutex
	active  map[string][]*incident.Incident // scope key → its active incidents
	byID    map[string]*incident.Incident   // active incident id → incident
	dirty   map[string]*incident.Incident   // changed since the last fold, resolved ones too
	marks   map[string]int64                // marks since the last fold → expiry (unix seconds)
	folding *foldSet                        // what a fold is writing: still visible until it commits
	seq     uint64                          // the last record's sequence number
	pending []byte                          // records not yet written to the log file
	enc     *json.Encoder
	encBuf  bytes.Buffer
}

type foldSet struct {
	dirty map[string]*incident.Incident
	marks map[string]int64
	upTo  uint64
}

func (m *memory) init() {
	m.active, m.byID = map[string][]*incident.Incident{}, map[string]*incident.Incident{}
	m.dirty, m.marks = map[string]*incident.Incident{}, map[string]int64{}
}

// record is one log entry: the marks an Update recorded and the incidents it changed, whole, or
// for an incident that only counted an occurrence, just what that changed.
type record struct {
	Seq       uint64               `json:"s"`
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

// wal is the log: segment files "<db>.log.<first sequence>" of frames (length, CRC-32C, JSON
// record). Writes are serialised by mu; concurrent callers share one write.
type wal struct {
	mu       sync.Mutex
	f        *os.File
	segments []string // every segment not yet folded, the current one last
	written  uint64   // every record up to this sequence is in the file
	err      error    // a failed write: the store refuses further changes
	spare    []byte
	readOnly bool
}

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

// open starts a new segment whose first record is first.
func (w *wal) open(db string, first uint64) error {
	name := segmentName(db, first)
	f, err := os.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("log segment: %w", err)
	}
	w.f = f
	w.segments = append(w.segments, name)
	return nil
}

func (w *wal) close() error {
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	return err
}

func (w *wal) removeAll() {
	for _, n := range w.segments {
		_ = os.Remove(n)
	}
	w.segments = nil
}

// appendRecord encodes rec as a frame onto m.pending. Called with m.mu held.
func (m *memory) appendRecord(rec *record) error {
	if m.enc == nil {
		m.enc = json.NewEncoder(&m.encBuf)
	}
	m.encBuf.Reset()
	if err := m.enc.Encode(rec); err != nil {
		return fmt.Errorf("encode log record: %w", err)
	}
	payload := m.encBuf.Bytes()
	var hdr [8]byte
	binary.BigEndian.PutUint32(hdr[:4], uint32(len(payload)))
	binary.BigEndian.PutUint32(hdr[4:], crc32.Checksum(payload, castagnoli))
	m.pending = append(append(m.pending, hdr[:]...), payload...)
	return nil
}

// flush returns once every record up to seq is written to the log file (the operating system has
// it: it survives the process). Whoever comes first writes what every caller queued.
func (s *Store) flush(seq uint64) error {
	w := &s.log
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	if w.written >= seq {
		return nil
	}
	s.mem.mu.Lock()
	buf, upTo := s.mem.pending, s.mem.seq
	s.mem.pending = w.spare[:0]
	s.mem.mu.Unlock()
	if _, err := w.f.Write(buf); err != nil {
		w.err = fmt.Errorf("write log: %w", err)
		return w.err
	}
	w.spare, w.written = buf, upTo
	return nil
}

// marked returns the first of marks recorded and unexpired, or "". Called with s.mem.mu held.
func (s *Store) marked(marks []string, now int64) string {
	if len(marks) == 0 {
		return ""
	}
	for _, mk := range marks {
		if exp, ok := s.mem.marks[mk]; ok && exp > now {
			return mk
		}
		if f := s.mem.folding; f != nil {
			if exp, ok := f.marks[mk]; ok && exp > now {
				return mk
			}
		}
	}
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

// Update implements incident.Store: the marks are checked and fn applied under one lock, to
// copies of the scope's active incidents, then one log record is written.
func (s *Store) Update(ctx context.Context, scope incident.Scope, marks []string, fn func([]*incident.Incident) ([]*incident.Incident, error)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.log.readOnly {
		return errReadOnly
	}
	m := &s.mem
	m.mu.Lock()
	now := s.now()
	if mk := s.marked(marks, now.Unix()); mk != "" {
		seq := m.seq
		m.mu.Unlock()
		// The first delivery may still be on its way to the log: answer once it is there.
		if err := s.flush(seq); err != nil {
			return err
		}
		return fmt.Errorf("mark %s: %w", mk, incident.ErrDuplicate)
	}
	key := scope.Key()
	cur := m.active[key]
	copies := make([]*incident.Incident, len(cur))
	for i, inc := range cur {
		copies[i] = inc.Clone()
	}
	changed, err := fn(copies)
	if err == nil {
		err = s.checkChanges(key, cur, changed)
	}
	if err != nil {
		m.mu.Unlock()
		return err
	}
	if len(changed) == 0 && len(marks) == 0 {
		m.mu.Unlock()
		return nil
	}
	seq, err := s.install(changed, marks, now)
	m.mu.Unlock()
	if err != nil {
		return err
	}
	s.writes.Add(1)
	return s.flush(seq)
}

var errReadOnly = errors.New("store opened read-only")

// checkChanges refuses what a store must refuse: a second active incident for a scope and
// cause, a stale version, an id in use. Called with s.mem.mu held.
func (s *Store) checkChanges(key string, cur, changed []*incident.Incident) error {
	causes := map[string]string{}
	for _, inc := range cur {
		causes[string(inc.Cause)] = inc.ID
	}
	for _, inc := range changed {
		if inc.Scope.Key() != key {
			return fmt.Errorf("incident %s is not of scope %s: %w", inc.ID, key, incident.ErrConflict)
		}
		if inc.Version == 0 {
			if _, err := s.get(inc.ID); err == nil {
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
		live := s.mem.byID[inc.ID]
		if live == nil || live.Version != inc.Version {
			return fmt.Errorf("update incident %s: %w", inc.ID, incident.ErrConflict)
		}
		if !inc.State.Active() && causes[string(inc.Cause)] == inc.ID {
			delete(causes, string(inc.Cause))
		}
	}
	return nil
}

// install makes the changed incidents the live ones, records the marks, and queues the log
// record. Called with s.mem.mu held; it returns the record's sequence number.
func (s *Store) install(changed []*incident.Incident, marks []string, now time.Time) (uint64, error) {
	m := &s.mem
	for _, inc := range changed {
		inc.Version++
	}
	exp := now.Add(s.markTTL).Unix()
	rec := record{Seq: m.seq + 1, Marks: marks}
	if len(marks) > 0 {
		rec.Exp = exp
	}
	for _, inc := range changed {
		if o, ok := occurredOf(m.byID[inc.ID], inc); ok {
			rec.Occurred = append(rec.Occurred, o)
		} else {
			rec.Incidents = append(rec.Incidents, inc)
		}
	}
	if err := m.appendRecord(&rec); err != nil {
		for _, inc := range changed {
			inc.Version--
		}
		return 0, err
	}
	m.seq++
	for _, inc := range changed {
		m.apply(inc)
	}
	for _, mk := range marks {
		m.marks[mk] = exp
	}
	return m.seq, nil
}

// apply installs one incident as the newest: in the active set while active, dirty until folded.
func (m *memory) apply(inc *incident.Incident) {
	key := inc.Scope.Key()
	list := m.active[key]
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
	if len(list) == 0 {
		delete(m.active, key)
	} else {
		m.active[key] = list
	}
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
	if live == nil {
		_, unfolded := m.dirty[id]
		if m.folding != nil && m.folding.dirty[id] != nil {
			unfolded = true
		}
		m.mu.Unlock()
		if unfolded {
			// Resolved since the last fold: bbolt must hold its last version first.
			if err := s.Fold(); err != nil {
				return nil, err
			}
		}
		return s.modifyDisk(ctx, id, fn)
	}
	inc := live.Clone()
	ch, err := fn(inc)
	if err != nil || !ch {
		m.mu.Unlock()
		return inc, err
	}
	seq, err := s.install([]*incident.Incident{inc}, nil, s.now())
	m.mu.Unlock()
	if err != nil {
		return nil, err
	}
	s.writes.Add(1)
	if err := s.flush(seq); err != nil {
		return nil, err
	}
	return inc.Clone(), nil
}

// get finds an incident in memory, then in bbolt. Called with s.mem.mu held, or on a read-only
// store.
func (s *Store) get(id string) (*incident.Incident, error) {
	m := &s.mem
	if inc := m.byID[id]; inc != nil {
		return inc, nil
	}
	if inc := m.dirty[id]; inc != nil {
		return inc, nil
	}
	if m.folding != nil && m.folding.dirty[id] != nil {
		return m.folding.dirty[id], nil
	}
	var inc *incident.Incident
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		inc, err = decode(tx.Bucket(bucketIncidents).Get([]byte(id)))
		return err
	})
	return inc, err
}

// Get implements incident.Store.
func (s *Store) Get(_ context.Context, id string) (*incident.Incident, error) {
	s.mem.mu.Lock()
	inc, err := s.get(id)
	s.mem.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("incident %s: %w", id, err)
	}
	return inc.Clone(), nil
}

// List implements incident.Store: bbolt's answer with what changed since the last fold laid
// over it.
func (s *Store) List(_ context.Context, f incident.Filter) ([]*incident.Incident, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
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
	keep := func(inc *incident.Incident) bool {
		return (!f.Active || inc.State.Active()) && !inc.OpenedAt.Before(f.Since) && (f.Before == "" || inc.ID < f.Before)
	}
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
	if len(out) > limit {
		out = out[:limit]
	}
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
	w, m := &s.log, &s.mem
	w.mu.Lock()
	m.mu.Lock()
	if len(m.dirty) == 0 && len(m.marks) == 0 {
		m.mu.Unlock()
		w.mu.Unlock()
		return nil
	}
	if len(m.pending) > 0 && w.err == nil {
		if _, err := w.f.Write(m.pending); err != nil {
			w.err = fmt.Errorf("write log: %w", err)
		}
		w.written, m.pending = m.seq, m.pending[:0]
	}
	if w.err != nil {
		m.mu.Unlock()
		w.mu.Unlock()
		return w.err
	}
	fs := &foldSet{dirty: m.dirty, marks: m.marks, upTo: m.seq}
	var old []string
	var oldFile *os.File
	if last := len(w.segments) - 1; last >= 0 && w.segments[last] == segmentName(s.path, m.seq+1) {
		// Nothing was logged since the segment began (a fold that failed): keep writing to it.
		old = slices.Clone(w.segments[:last])
		w.segments = w.segments[last:]
	} else {
		old, oldFile = w.segments, w.f
		w.segments, w.f = nil, nil
		if err := w.open(s.path, m.seq+1); err != nil {
			w.segments, w.f = old, oldFile
			m.mu.Unlock()
			w.mu.Unlock()
			return err
		}
	}
	m.folding, m.dirty, m.marks = fs, map[string]*incident.Incident{}, map[string]int64{}
	m.mu.Unlock()
	w.mu.Unlock()

	err := s.db.Update(func(tx *bolt.Tx) error { return writeFold(tx, fs) })
	m.mu.Lock()
	m.folding = nil
	if err != nil {
		// Keep it for the next fold; the old segments stay until then.
		for id, inc := range fs.dirty {
			if _, newer := m.dirty[id]; !newer {
				m.dirty[id] = inc
			}
		}
		for mk, exp := range fs.marks {
			if _, newer := m.marks[mk]; !newer {
				m.marks[mk] = exp
			}
		}
		m.mu.Unlock()
		w.mu.Lock()
		w.segments = append(old, w.segments...)
		w.mu.Unlock()
		if oldFile != nil {
			_ = oldFile.Close()
		}
		return fmt.Errorf("fold log into store: %w", err)
	}
	m.mu.Unlock()
	s.commits.Add(1)
	if oldFile != nil {
		_ = oldFile.Close()
	}
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
	var exp [8]byte
	for mk, x := range fs.marks {
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
			s.log.mu.Lock()
			f := s.log.f
			s.log.mu.Unlock()
			if f != nil {
				_ = f.Sync() // a segment a fold closed meanwhile is in bbolt already
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
			m.active[inc.Scope.Key()] = append(m.active[inc.Scope.Key()], inc)
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
	s.log.written = m.seq
	return nil
}

// foldReplayed writes what load replayed into bbolt, deletes the old segments and starts a new
// one.
func (s *Store) foldReplayed() error {
	m, w := &s.mem, &s.log
	if len(m.dirty) > 0 || len(m.marks) > 0 {
		fs := &foldSet{dirty: m.dirty, marks: m.marks, upTo: m.seq}
		if err := s.db.Update(func(tx *bolt.Tx) error { return writeFold(tx, fs) }); err != nil {
			return fmt.Errorf("fold replayed log: %w", err)
		}
		m.dirty, m.marks = map[string]*incident.Incident{}, map[string]int64{}
	}
	w.removeAll()
	return w.open(s.path, m.seq+1)
}

// replay applies a segment's records after folded. A torn last record (the process died while
// writing it, so it was never acknowledged) ends the segment.
func (s *Store) replay(name string, folded uint64) error {
	raw, err := os.ReadFile(name)
	if err != nil {
		return fmt.Errorf("read log %s: %w", name, err)
	}
	m := &s.mem
	for len(raw) >= 8 {
		n := binary.BigEndian.Uint32(raw[:4])
		if uint64(len(raw)-8) < uint64(n) || crc32.Checksum(raw[8:8+n], castagnoli) != binary.BigEndian.Uint32(raw[4:8]) {
			break
		}
		var rec record
		if err := json.NewDecoder(bytes.NewReader(raw[8 : 8+n])).Decode(&rec); err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("log %s: record %d: %w", name, rec.Seq, err)
		}
		raw = raw[8+n:]
		if rec.Seq <= folded {
			continue
		}
		for _, inc := range rec.Incidents {
			m.apply(inc)
		}
		for _, o := range rec.Occurred {
			prev := m.byID[o.ID]
			if prev == nil {
				return fmt.Errorf("log %s: record %d: an occurrence of incident %s, which is not active", name, rec.Seq, o.ID)
			}
			m.apply(o.applyTo(prev))
		}
		for _, mk := range rec.Marks {
			m.marks[mk] = rec.Exp
		}
		m.seq = max(m.seq, rec.Seq)
	}
	return nil
}
