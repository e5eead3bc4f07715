package classify

import (
	"math"
	"slices"
	"strings"
	"sync"
)

// A text is scanned once for every phrase of every rule, a byte at a time, by an Aho–Corasick
// automaton of all the phrases (instead of once per phrase, or once per position and candidate
// phrase): a corpus message is a few hundred bytes and the rules know several hundred phrases,
// and one table step per byte is what keeps classification within a few microseconds.

// phrases is a list of lower-case phrases (at least three bytes each), in the order a rule
// prefers them.
type phrases struct {
	words []string
	ids   []uint16
}

// lexicon is every phrase of every list. Its words are registered while the package's variables
// are initialised (words) and only read afterwards; the automaton is built from them when the
// first text is scanned (a Lambda function that never classifies does not pay for it).
var lexicon struct {
	words []string
	index map[string]uint16

	once sync.Once
	// class numbers the bytes the phrases use (an upper-case letter as its lower case), 0 for
	// every other byte: the automaton's columns.
	class  [256]uint8
	nclass int
	// next is the full transition table, next[state*nclass+class]; a state with phrases ending
	// in it has the bit hasOutput set in every entry leading to it.
	next []uint16
	// outs[outAt[s]:outAt[s]+outLen[s]] are the phrases that end in state s (its own and its
	// suffixes').
	outAt, outLen []uint16
	outs          []uint16
}

const (
	// maxPhrases bounds the lexicon so that a text's hits fit a fixed bitset.
	maxPhrases = 64 * len(bitset{})
	// hasOutput marks a transition to a state where phrases end; the states are numbered below it.
	hasOutput = 1 << 15
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
		}
		p.ids = append(p.ids, id)
	}
	return p
}

// buildAutomaton builds the lexicon's automaton: a trie of the phrases, its failure links, and
// from them the full transition table (a deterministic automaton: one step per byte, no
// backtracking along failure links while scanning). The trie is built in the table itself, which
// is sized from the number of distinct prefixes, so the build allocates little beyond the table.
func buildAutomaton() {
	lx := &lexicon
	lx.nclass = 1
	for _, w := range lx.words {
		for i := 0; i < len(w); i++ {
			if lx.class[w[i]] == 0 {
				lx.class[w[i]] = uint8(lx.nclass)
				lx.nclass++
			}
		}
	}
	for c := 'A'; c <= 'Z'; c++ {
		lx.class[c] = lx.class[c-'A'+'a']
	}
	nc := lx.nclass
	// States: the root and one per distinct prefix (phrases are lower-case, so distinct bytes
	// are distinct classes).
	sorted := slices.Sorted(slices.Values(lx.words))
	n := 1
	for i, w := range sorted {
		common := 0
		if i > 0 {
			for common < len(w) && common < len(sorted[i-1]) && w[common] == sorted[i-1][common] {
				common++
			}
		}
		n += len(w) - common
	}
	if n >= hasOutput {
		panic("classify: too many phrase states")
	}
	// The trie, in the table: next[s*nc+class] is the child, 0 for none (the root is no state's
	// child); own[s] is the phrase that ends at s, +1 (0 for none: the lexicon has no duplicates).
	next := make([]uint16, n*nc)
	own := make([]uint16, n)
	states := 1
	for id, w := range lx.words {
		s := 0
		for i := 0; i < len(w); i++ {
			e := s*nc + int(lx.class[w[i]])
			if next[e] == 0 {
				next[e] = uint16(states)
				states++
			}
			s = int(next[e])
		}
		own[s] = uint16(id) + 1
	}
	// Breadth first, a state's failure link (its longest proper suffix that is a trie state) and
	// that state's row and outputs are done before the state needs them; the row's missing
	// children become the failure link's transitions. outs of a state are its own phrase and its
	// failure link's outputs, which end there too.
	fail := make([]uint16, n)
	outAt := make([]uint16, n+1) // outs[outAt[s]:outAt[s]+outLen[s]]
	outLen := make([]uint16, n)
	queue := make([]uint16, 0, n)
	// Every entry leading to a state that has outputs carries hasOutput: a child gets it when
	// found (its own phrase, or its failure link's, which was found before it), a missing child
	// copies the failure link's entry with its bit.
	for c := range nc {
		if t := next[c]; t != 0 {
			if own[t] != 0 {
				next[c] |= hasOutput
			}
			queue = append(queue, t)
		}
	}
	for q := 0; q < len(queue); q++ {
		s := int(queue[q])
		f := int(fail[s])
		outAt[s] = uint16(len(lx.outs))
		if own[s] != 0 {
			lx.outs = append(lx.outs, own[s]-1)
		}
		lx.outs = append(lx.outs, lx.outs[outAt[f]:outAt[f]+outLen[f]]...)
		if len(lx.outs) > math.MaxUint16 {
			// outAt and outLen are uint16 to keep the table small; a lexicon that outgrows them
			// must fail loudly rather than wrap and report the wrong phrases.
			panic("classify: too many phrase outputs")
		}
		outLen[s] = uint16(len(lx.outs)) - outAt[s]
		row, frow := next[s*nc:(s+1)*nc], next[f*nc:(f+1)*nc]
		for c, t := range row {
			ft := frow[c]
			if t == 0 {
				row[c] = ft
				continue
			}
			fail[t] = ft &^ hasOutput
			if own[t] != 0 || ft&hasOutput != 0 {
				row[c] = t | hasOutput
			}
			queue = append(queue, t)
		}
	}
	lx.next, lx.outAt, lx.outLen = next, outAt, outLen
}

// hit is one occurrence of a phrase in a text.
type hit struct {
	id  uint16
	pos int32
}

// scan finds every occurrence of every phrase in s, in any ASCII case.
func (m *msg) scan(s string) {
	lexicon.once.Do(buildAutomaton)
	next, class, nc := lexicon.next, &lexicon.class, lexicon.nclass
	st := 0
	for i := 0; i < len(s); i++ {
		t := next[st*nc+int(class[s[i]])]
		st = int(t &^ hasOutput)
		if t&hasOutput == 0 {
			continue
		}
		at := lexicon.outAt[st]
		for _, id := range lexicon.outs[at : at+lexicon.outLen[st]] {
			m.seen[id/64] |= 1 << (id % 64)
			h := hit{id: id, pos: int32(i + 1 - len(lexicon.words[id]))}
			if m.nhits < len(m.hitBuf) {
				m.hitBuf[m.nhits] = h
				m.nhits++
			} else {
				m.moreHits = append(m.moreHits, h)
			}
		}
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

// lastHit is the position of the last occurrence of phrase id that starts at or after from, or -1.
func (m *msg) lastHit(id uint16, from int) int32 {
	pos := int32(-1)
	if m.has(id) {
		m.eachHit(func(h hit) bool {
			if h.id == id && int(h.pos) >= from && h.pos > pos {
				pos = h.pos
			}
			return true
		})
	}
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
