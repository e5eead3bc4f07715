package classify

import "strings"

// A text is scanned once for every phrase of every rule (a multi-pattern search keyed by each
// phrase's first three bytes), instead of once per phrase: a corpus message is a few hundred
// bytes and the rules know several hundred phrases, so this is what keeps classification within
// a few microseconds.

// phrases is a list of lower-case phrases (at least three bytes each), in the order a rule
// prefers them.
type phrases struct {
	words []string
	ids   []uint16
}

// lexicon is every phrase of every list. It is built while the package's variables are
// initialised (words, then init) and only read afterwards. The phrases are bucketed by a hash of
// their first three bytes, the buckets laid out flat (start[k]:start[k+1] in ids) so that the whole
// index stays in the fastest cache while a text is scanned.
var lexicon struct {
	words   []string
	index   map[string]uint16
	pending [lexBuckets][]uint16 // during initialisation only
	start   [lexBuckets + 1]uint16
	ids     []uint16
}

func init() {
	for k := range lexicon.pending {
		lexicon.start[k] = uint16(len(lexicon.ids))
		lexicon.ids = append(lexicon.ids, lexicon.pending[k]...)
		lexicon.pending[k] = nil
	}
	lexicon.start[lexBuckets] = uint16(len(lexicon.ids))
}

const (
	lexBuckets = 1024
	// maxPhrases bounds the lexicon so that a text's hits fit a fixed bitset.
	maxPhrases = 64 * len(bitset{})
)

type bitset [10]uint64

// words registers a phrase list.
func words(ws ...string) *phrases {
	if lexicon.index == nil {
		lexicon.index = map[string]uint16{}
	}
	p := &phrases{words: ws}
	for _, w := range ws {
		if len(w) < 3 || w != strings.ToLower(w) {
			panic("classify: phrase " + w + " must be lower-case and at least 3 bytes")
		}
		id, ok := lexicon.index[w]
		if !ok {
			if len(lexicon.words) == maxPhrases {
				panic("classify: too many phrases")
			}
			id = uint16(len(lexicon.words))
			lexicon.index[w] = id
			lexicon.words = append(lexicon.words, w)
			k := key3(w[0], w[1], w[2])
			lexicon.pending[k] = append(lexicon.pending[k], id)
		}
		p.ids = append(p.ids, id)
	}
	return p
}

func key3(a, b, c byte) uint { return (uint(a)*961 + uint(b)*31 + uint(c)) & (lexBuckets - 1) }

// hit is one occurrence of a phrase in a text.
type hit struct {
	id  uint16
	pos int32
}

// scan finds every occurrence of every phrase in s, in any ASCII case.
func (m *msg) scan(s string) {
	if len(s) < 3 {
		return
	}
	a, b := lower(s[0]), lower(s[1])
	for i := 0; i+3 <= len(s); i++ {
		c := lower(s[i+2])
		k := key3(a, b, c)
		for _, id := range lexicon.ids[lexicon.start[k]:lexicon.start[k+1]] {
			// (the bucket is a hash of the first three bytes: they are compared, lower-cased already)
			if w := lexicon.words[id]; w[0] == a && w[1] == b && w[2] == c && hasPrefixFold(s[i+3:], w[3:]) {
				m.seen[id/64] |= 1 << (id % 64)
				h := hit{id: id, pos: int32(i)}
				if m.nhits < len(m.hitBuf) {
					m.hitBuf[m.nhits] = h
					m.nhits++
				} else {
					m.moreHits = append(m.moreHits, h)
				}
			}
		}
		a, b = b, c
	}
}

// eachHit calls fn for every occurrence found, until fn returns false.
func (m *msg) eachHit(fn func(h hit) bool) {
	for _, h := range m.hitBuf[:m.nhits] {
		if !fn(h) {
			return
		}
	}
	for _, h := range m.moreHits {
		if !fn(h) {
			return
		}
	}
}

// firstHit is the position of the first occurrence of phrase id, or -1.
func (m *msg) firstHit(id uint16) int32 {
	if !m.has(id) {
		return -1
	}
	pos := int32(-1)
	m.eachHit(func(h hit) bool {
		if h.id == id {
			pos = h.pos
			return false
		}
		return true
	})
	return pos
}

func (m *msg) has(id uint16) bool { return m.seen[id/64]&(1<<(id%64)) != 0 }

// first is the first phrase of l (in l's order) that the text contains, or "".
func (m *msg) first(l *phrases) string {
	for i, id := range l.ids {
		if m.has(id) {
			return l.words[i]
		}
	}
	return ""
}

// any reports whether the text contains a phrase of l.
func (m *msg) any(l *phrases) bool { return m.first(l) != "" }

// firstIn is first, counting only occurrences that start at or after from and lie outside ECS's
// generic wrapper ("unable to pull secrets or registry auth").
func (m *msg) firstIn(l *phrases, from int) string {
	for i, id := range l.ids {
		if !m.has(id) {
			continue
		}
		n := int32(len(l.words[i]))
		found := false
		m.eachHit(func(h hit) bool {
			found = h.id == id && int(h.pos) >= from && !m.inWrapper(h.pos, n)
			return !found
		})
		if found {
			return l.words[i]
		}
	}
	return ""
}

func (m *msg) inWrapper(pos, n int32) bool {
	for _, w := range m.wrapBuf[:m.nwrap] {
		if pos < w[1] && pos+n > w[0] {
			return true
		}
	}
	return false
}
