// Package boltstore keeps incidents in an embedded bbolt file: the store of `medic serve` and
// `medic replay`, with no server to run. State survives restarts.
//
// Active incidents live decoded in memory, and the store is their log. An Update or a Modify of
// an active incident checks its marks, applies the change to copies under one lock, and appends
// one record (the marks and the changed incidents) to a log file beside the bbolt file; it returns
// once the record is written to the operating system, so an acknowledged event survives the
// process being killed. Concurrent callers share one write. Every FoldInterval (and on Close) the
// records are folded into bbolt in one transaction, with bbolt's fsync, and the log segments it
// covered are deleted; opening the store replays whatever was not folded. The log is synced to
// the disk every SyncInterval: a power loss (not a process kill) can lose what was acknowledged
// since the last sync. bbolt itself is always consistent: it is written only by fsynced
// transactions, and a torn log record (never acknowledged) is skipped on replay.
package boltstore

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/ecs-medic/ecs-medic/internal/incident"
)

var (
	bucketIncidents = []byte("incidents") // id → incident JSON
	bucketActive    = []byte("active")    // scope key \x00 cause → id
	bucketMarks     = []byte("marks")     // idempotency mark → expiry (unix seconds, big endian)
	bucketSilences  = []byte("silences")  // scope key → silence JSON
	bucketGuards    = []byte("guards")    // scope key → remediation guard JSON
	bucketSeen      = []byte("seen")      // remembered key (Slack signature) → expiry (unix seconds)
	bucketMeta      = []byte("meta")      // "logseq" → the last log record folded in (big endian)
)

// DefaultMarkTTL is how long an event id is remembered. EventBridge retries a delivery for up to
// 24 hours (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-retry-policy.html);
// twice that leaves margin.
const DefaultMarkTTL = 48 * time.Hour

// Store is the bbolt-backed incident store.
type Store struct {
	db      *bolt.DB
	path    string
	now     func() time.Time
	markTTL time.Duration
	writes  atomic.Int64
	commits atomic.Int64
	logged  atomic.Int64 // bytes of log frames appended
	// onDisk filters the marks in bbolt (nil when read-only: Update is refused); diskReads
	// counts the bbolt reads of marks it let through.
	onDisk    atomic.Pointer[markFilter]
	diskReads atomic.Int64
	fold      time.Duration
	sync      time.Duration
	mem       memory
	log       wal
	foldMu    sync.Mutex // one fold at a time
	stop      chan struct{}
	stopped   chan struct{}
}

var _ incident.Store = (*Store)(nil)

// Option configures a Store.
type Option func(*Store)

// WithClock injects the clock used for mark expiry.
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// Defaults for how the log reaches the disk. An acknowledged change is in the operating system
// at once (it survives the process); the log is synced to the disk every DefaultSyncInterval,
// the most of acknowledged changes a power loss can take, and folded into bbolt every
// DefaultFoldInterval (fewer, larger bbolt transactions touch fewer pages per event).
const (
	DefaultSyncInterval = 100 * time.Millisecond
	DefaultFoldInterval = time.Second
)

// WithFoldInterval sets how often the log is folded into bbolt (DefaultFoldInterval).
func WithFoldInterval(d time.Duration) Option { return func(s *Store) { s.fold = d } }

// WithSegmentSize sets the size of a log segment (DefaultSegmentSize).
func WithSegmentSize(n int) Option { return func(s *Store) { s.log.size = n } }

// WithSyncInterval sets how often the log is synced to the disk (DefaultSyncInterval).
func WithSyncInterval(d time.Duration) Option { return func(s *Store) { s.sync = d } }

// OpenReadOnly opens an existing store file to read it (reports, postmortems) without taking the
// writer's lock from anyone: it fails at once, rather than waiting, when a running `medic serve`
// holds the file.
func OpenReadOnly(path string) (*Store, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 200 * time.Millisecond})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("open store %s: another process (a running medic serve?) holds it: %w", path, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	s := &Store{db: db, path: path, now: time.Now, markTTL: DefaultMarkTTL}
	s.log.readOnly = true
	if err := s.load(); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return s, nil
}

// ErrLocked says another process holds the store file.
var ErrLocked = errors.New("store file locked by another process")

// Open opens (creating if needed) the store file at path.
func Open(path string, opts ...Option) (*Store, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if errors.Is(err, bolterrors.ErrTimeout) {
		// bbolt holds an exclusive lock on the file while it is open.
		return nil, fmt.Errorf("store %s is in use by another process (is another medic serve running?): stop it, or give this one another file with --db or MEDIC_DB: %w", path, ErrInUse)
	}
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	// Batch commits whatever queued within 2 ms together.
	db.MaxBatchDelay = 2 * time.Millisecond
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketIncidents, bucketActive, bucketMarks, bucketSilences, bucketGuards, bucketSeen, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("init store %s: %w", path, err)
	}
	s := &Store{db: db, path: path, now: time.Now, markTTL: DefaultMarkTTL, fold: DefaultFoldInterval, sync: DefaultSyncInterval}
	s.log.size = DefaultSegmentSize
	for _, o := range opts {
		o(s)
	}
	// Replay what the last process logged and did not fold, fold it, and start a new segment.
	if err := s.load(); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	if err := s.foldReplayed(); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	if err := s.rebuildMarkFilter(); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	s.stop, s.stopped = make(chan struct{}), make(chan struct{})
	go s.folder()
	return s, nil
}

// ErrInUse: another process has the store file open.
var ErrInUse = errors.New("store file in use")

// Close folds what is logged into bbolt and closes the files.
func (s *Store) Close() error {
	if s.stop != nil {
		close(s.stop)
		<-s.stopped
		s.stop = nil
	}
	var err error
	if !s.log.readOnly {
		err = s.Fold()
		if cerr := s.log.close(); err == nil {
			err = cerr
		}
		if err == nil {
			// Everything is in bbolt: the last (empty) segment goes too.
			s.log.removeAll()
		}
	}
	if cerr := s.db.Close(); err == nil {
		err = cerr
	}
	return err
}

// Writes is how many Update and Modify calls wrote something: log records, one per event.
func (s *Store) Writes() int64 { return s.writes.Load() }

// LogBytes is how many bytes of log frames (headers included) Update and Modify appended.
func (s *Store) LogBytes() int64 { return s.logged.Load() }

// Commits is how many bbolt transactions (each with its fsync) the folds took.
func (s *Store) Commits() int64 { return s.commits.Load() }

func activeKey(scope incident.Scope, cause string) []byte {
	return []byte(scope.Key() + "\x00" + cause)
}

// put writes an incident and keeps the active index true to its state.
func put(tx *bolt.Tx, inc *incident.Incident) error {
	ib, ab := tx.Bucket(bucketIncidents), tx.Bucket(bucketActive)
	key := activeKey(inc.Scope, string(inc.Cause))
	stored := ib.Get([]byte(inc.ID))
	switch {
	case inc.Version == 0 && stored != nil:
		return fmt.Errorf("create incident %s: id exists: %w", inc.ID, incident.ErrConflict)
	case inc.Version == 0 && ab.Get(key) != nil:
		return fmt.Errorf("create incident %s: %s already has an active %s incident: %w", inc.ID, inc.Scope.Name(), inc.Cause, incident.ErrConflict)
	case inc.Version > 0:
		cur, err := decode(stored)
		if err != nil || cur.Version != inc.Version {
			return fmt.Errorf("update incident %s: %w", inc.ID, incident.ErrConflict)
		}
	}
	inc.Version++
	raw, err := json.Marshal(inc)
	if err != nil {
		return fmt.Errorf("encode incident %s: %w", inc.ID, err)
	}
	if err := ib.Put([]byte(inc.ID), raw); err != nil {
		return err
	}
	if inc.State.Active() {
		return ab.Put(key, []byte(inc.ID))
	}
	if id := ab.Get(key); id != nil && string(id) == inc.ID {
		return ab.Delete(key)
	}
	return nil
}

func decode(raw []byte) (*incident.Incident, error) {
	if raw == nil {
		return nil, incident.ErrNotFound
	}
	var inc incident.Incident
	if err := json.Unmarshal(raw, &inc); err != nil {
		return nil, fmt.Errorf("decode incident: %w", err)
	}
	return &inc, nil
}

// modifyDisk applies fn to an incident that is not active, in one bbolt transaction.
func (s *Store) modifyDisk(ctx context.Context, id string, fn func(*incident.Incident) (bool, error)) (*incident.Incident, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var res *incident.Incident
	changed := false
	err := s.db.Update(func(tx *bolt.Tx) error {
		res, changed = nil, false
		inc, err := decode(tx.Bucket(bucketIncidents).Get([]byte(id)))
		if err != nil {
			return fmt.Errorf("incident %s: %w", id, err)
		}
		wasActive := inc.State.Active()
		ch, err := fn(inc)
		if err != nil {
			return err
		}
		res = inc
		if !ch {
			return nil
		}
		if !wasActive && inc.State.Active() {
			return fmt.Errorf("incident %s: a resolved incident cannot reopen: %w", id, incident.ErrConflict)
		}
		changed = true
		return put(tx, inc)
	})
	if err != nil {
		return nil, err
	}
	if changed {
		s.writes.Add(1)
		s.commits.Add(1)
	}
	return res, nil
}

// listDisk lists what bbolt holds that f matches, up to limit. Ids sort by creation time, so a
// reverse scan is newest first.
func (s *Store) listDisk(f incident.Filter, limit int) ([]*incident.Incident, error) {
	var out []*incident.Incident
	err := s.db.View(func(tx *bolt.Tx) error {
		ib := tx.Bucket(bucketIncidents)
		if f.ActiveOnly() {
			// Walk the active index, not every incident ever kept.
			var ids []string
			_ = tx.Bucket(bucketActive).ForEach(func(_, id []byte) error { ids = append(ids, string(id)); return nil })
			for _, id := range ids {
				if f.Before != "" && id >= f.Before {
					continue
				}
				inc, err := decode(ib.Get([]byte(id)))
				if err != nil {
					return err
				}
				if f.Match(inc) {
					out = append(out, inc)
				}
			}
			sortNewestFirst(out)
			out = out[:min(len(out), limit)]
			return nil
		}
		c := ib.Cursor()
		k, v := c.Last()
		if f.Before != "" {
			// Seek lands on the first key >= Before: step back from it (or from the end).
			if k, v = c.Seek([]byte(f.Before)); k == nil {
				k, v = c.Last()
			}
			for k != nil && string(k) >= f.Before {
				k, v = c.Prev()
			}
		}
		for ; k != nil && len(out) < limit; k, v = c.Prev() {
			inc, err := decode(v)
			if err != nil {
				return fmt.Errorf("incident %s: %w", k, err)
			}
			if inc.OpenedAt.Before(f.Since) {
				break
			}
			if f.Match(inc) {
				out = append(out, inc)
			}
		}
		return nil
	})
	return out, err
}

func sortNewestFirst(incs []*incident.Incident) {
	slices.SortFunc(incs, func(a, b *incident.Incident) int { return strings.Compare(b.ID, a.ID) })
}

// Sweep deletes expired idempotency marks and resolved incidents older than retain. It returns
// how many records it removed.
func (s *Store) Sweep(retain time.Duration) (int, error) {
	if err := s.Fold(); err != nil {
		return 0, err
	}
	now := s.now()
	removed := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		mb, ib, sb := tx.Bucket(bucketMarks), tx.Bucket(bucketIncidents), tx.Bucket(bucketSeen)
		var marks, incidents, seen [][]byte
		_ = mb.ForEach(func(k, v []byte) error {
			if len(v) != 8 || int64(binary.BigEndian.Uint64(v)) <= now.Unix() {
				marks = append(marks, append([]byte(nil), k...))
			}
			return nil
		})
		_ = sb.ForEach(func(k, v []byte) error {
			if len(v) != 8 || int64(binary.BigEndian.Uint64(v)) <= now.Unix() {
				seen = append(seen, append([]byte(nil), k...))
			}
			return nil
		})
		for _, k := range seen {
			if err := sb.Delete(k); err != nil {
				return err
			}
		}
		_ = ib.ForEach(func(k, v []byte) error {
			inc, err := decode(v)
			if err == nil && inc.ResolvedAt != nil && now.Sub(*inc.ResolvedAt) > retain {
				incidents = append(incidents, append([]byte(nil), k...))
			}
			return nil
		})
		for _, k := range marks {
			if err := mb.Delete(k); err != nil {
				return err
			}
		}
		for _, k := range incidents {
			if err := ib.Delete(k); err != nil {
				return err
			}
		}
		removed = len(marks) + len(incidents)
		return nil
	})
	if err != nil {
		return removed, err
	}
	// The deleted marks' bits would stay set: start again from what bbolt holds.
	return removed, s.rebuildMarkFilter()
}

// rebuildMarkFilter builds the filter of bbolt's marks anew. Under foldMu, so no fold adds
// marks to bbolt meanwhile that the new filter would miss.
func (s *Store) rebuildMarkFilter() error {
	s.foldMu.Lock()
	defer s.foldMu.Unlock()
	f, err := buildMarkFilter(s.db, markFilterBits, s.now().Unix())
	if err != nil {
		return fmt.Errorf("read marks: %w", err)
	}
	s.onDisk.Store(f)
	return nil
}

// PutSilence implements incident.Store.
func (s *Store) PutSilence(_ context.Context, sil incident.Silence) error {
	raw, err := json.Marshal(sil)
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSilences).Put([]byte(sil.Scope.Key()), raw)
	})
}

// Silences implements incident.Store.
func (s *Store) Silences(_ context.Context, now time.Time) ([]incident.Silence, error) {
	var out []incident.Silence
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSilences).ForEach(func(_, v []byte) error {
			var sil incident.Silence
			if err := json.Unmarshal(v, &sil); err != nil {
				return err
			}
			if sil.Until.After(now) {
				out = append(out, sil)
			}
			return nil
		})
	})
	return out, err
}

// Guard implements incident.Store: a read-only transaction, no commit.
func (s *Store) Guard(_ context.Context, scope incident.Scope) (incident.Guard, error) {
	var g incident.Guard
	err := s.db.View(func(tx *bolt.Tx) error {
		if raw := tx.Bucket(bucketGuards).Get([]byte(scope.Key())); raw != nil {
			return json.Unmarshal(raw, &g)
		}
		return nil
	})
	if err != nil {
		return incident.Guard{}, fmt.Errorf("read guard %s: %w", scope.Key(), err)
	}
	return g, nil
}

// UpdateGuard implements incident.Store: one write transaction.
func (s *Store) UpdateGuard(_ context.Context, scope incident.Scope, fn func(*incident.Guard) error) (incident.Guard, error) {
	var g incident.Guard
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketGuards)
		g = incident.Guard{}
		if raw := b.Get([]byte(scope.Key())); raw != nil {
			if err := json.Unmarshal(raw, &g); err != nil {
				return err
			}
		}
		if err := fn(&g); err != nil {
			return err
		}
		g.Version++
		raw, err := json.Marshal(g)
		if err != nil {
			return err
		}
		return b.Put([]byte(scope.Key()), raw)
	})
	return g, err
}

// Remember implements incident.Store: one write transaction, so of two requests with the same
// key exactly one is let through.
func (s *Store) Remember(ctx context.Context, key string, until time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.Batch(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSeen)
		if v := b.Get([]byte(key)); len(v) == 8 && int64(binary.BigEndian.Uint64(v)) > s.now().Unix() {
			return fmt.Errorf("%s: %w", key, incident.ErrDuplicate)
		}
		exp := make([]byte, 8)
		binary.BigEndian.PutUint64(exp, uint64(until.Unix()))
		return b.Put([]byte(key), exp)
	})
}
