package boltstore

import (
	"encoding/binary"
	"hash/maphash"
	"sync/atomic"

	bolt "go.etcd.io/bbolt"
)

// markFilter is a Bloom filter of the idempotency marks in bbolt, in front of their bbolt read:
// nearly every event of a storm is new, and without it each one's marks would cost a bbolt read
// transaction that finds nothing. It answers "maybe" for every mark added (then bbolt is read,
// as before) and, for a mark never added, "no" but for a rare false positive (about 2 % at a
// million marks, none measurable at thousands), which only costs that read. Its size is fixed,
// so memory does not grow with the storm. Marks are added by each fold before memory forgets
// them and the whole filter is rebuilt from bbolt at open and after a sweep (which deletes
// expired marks, whose bits would otherwise stay). Safe for concurrent use: bits are set and read
// atomically.
type markFilter struct {
	seed  maphash.Seed
	words []atomic.Uint64
	mask  uint64 // bits - 1
}

const (
	// markFilterBits is the filter's size, 1 MiB.
	markFilterBits = 1 << 23
	// markFilterHashes is how many bits each mark sets.
	markFilterHashes = 4
)

// newMarkFilter is an empty filter of bits bits, a power of two of at least 64.
func newMarkFilter(bits int) *markFilter {
	return &markFilter{seed: maphash.MakeSeed(), words: make([]atomic.Uint64, bits/64), mask: uint64(bits - 1)}
}

// positions calls at with each bit of mk (double hashing of one 64-bit hash).
func (f *markFilter) positions(mk string, at func(bit uint64) bool) {
	h := maphash.String(f.seed, mk)
	h1, h2 := h, h>>32|1
	for i := uint64(0); i < markFilterHashes; i++ {
		if !at((h1 + i*h2) & f.mask) {
			return
		}
	}
}

func (f *markFilter) add(mk string) {
	f.positions(mk, func(bit uint64) bool {
		f.words[bit/64].Or(1 << (bit % 64))
		return true
	})
}

// mayHold is false only for a mark never added.
func (f *markFilter) mayHold(mk string) bool {
	all := true
	f.positions(mk, func(bit uint64) bool {
		all = f.words[bit/64].Load()&(1<<(bit%64)) != 0
		return all
	})
	return all
}

// buildMarkFilter is a filter of every mark in bbolt. Expired ones are left out: a mark is
// checked against its expiry anyway, and one expired now never holds again.
func buildMarkFilter(db *bolt.DB, bits int, now int64) (*markFilter, error) {
	f := newMarkFilter(bits)
	err := db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMarks).ForEach(func(k, v []byte) error {
			if len(v) == 8 && int64(binary.BigEndian.Uint64(v)) > now {
				f.add(string(k))
			}
			return nil
		})
	})
	return f, err
}
