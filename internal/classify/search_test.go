package classify

import (
	"strconv"
	"strings"
	"testing"
)

// searchTexts are the corpus's reasons, each also in upper case, with its first and last bytes
// cut, and inside other text: the folded search must agree with a plain search on a lower-cased
// copy for every phrase, at every position, including a text's first and last bytes.
func searchTexts(t *testing.T) []string {
	texts := []string{"", "a", "ab", "abc", "OOM", "oom", "OutOfMemory", "xoutofmemoryx",
		// three-byte phrases as the whole text and at its end; a byte with no upper case after
		// 'z'; more occurrences than a message keeps inline
		"kms", "ELB", "via SSM", "x eof", "AZ", "Zone b", "zz", strings.Repeat("OOM-killed; ", 30)}
	for _, c := range loadCases(t) {
		for _, s := range []string{c.StoppedReason, c.StopCode} {
			if s == "" || !isASCII(s) {
				continue
			}
			texts = append(texts, s, strings.ToUpper(s), s[1:], s[:len(s)-1], "x"+s+"x")
		}
		for _, ct := range c.Containers {
			if isASCII(ct.Reason) {
				texts = append(texts, ct.Reason, strings.ToUpper(ct.Reason))
			}
		}
	}
	return texts
}

// The phrase scan finds exactly what strings.Index finds on a lower-cased copy: every phrase of
// the lexicon, present or not, and the position of its first occurrence.
func TestScanAgreesWithAPlainSearch(t *testing.T) {
	for _, s := range searchTexts(t) {
		var m msg
		m.parse("stoppedReason", -1, s)
		low := strings.ToLower(s)
		hits := make([]int, len(lexicon.words))
		m.eachHit(func(h hit) bool { hits[h.id]++; return true })
		for id, w := range lexicon.words {
			want := strings.Index(low, w)
			if n := occurrences(low, w, want); hits[id] != n {
				t.Fatalf("text %q, phrase %q: %d hits, want %d", s, w, hits[id], n)
			}
			if got := m.firstHit(uint16(id)); int(got) != want {
				t.Fatalf("text %q, phrase %q: first hit %d, want %d", s, w, got, want)
			}
			if m.has(uint16(id)) != (want >= 0) {
				t.Fatalf("text %q, phrase %q: has %v, want %v", s, w, m.has(uint16(id)), want >= 0)
			}
		}
	}
}

// occurrences counts w in s from its first occurrence at, overlapping ones too (the scan records
// each).
func occurrences(s, w string, at int) int {
	n := 0
	for at >= 0 {
		n++
		next := strings.Index(s[at+1:], w)
		if next < 0 {
			break
		}
		at += 1 + next
	}
	return n
}

// hasPrefixFold is strings.HasPrefix on a lower-cased copy, for every lexicon phrase and a few
// pieces that sit at a text's ends.
func TestFoldedPrefixAgreesWithTheStandardLibrary(t *testing.T) {
	subs := append([]string{"", "a", "has been retried", "error", "x", "z", "zone"}, lexicon.words...)
	for _, s := range searchTexts(t) {
		low := strings.ToLower(s)
		extra := []string{}
		if len(low) > 0 {
			extra = append(extra, low, low[:1], low[len(low)-1:])
		}
		if len(low) > 4 {
			extra = append(extra, low[len(low)-4:], low[:4])
		}
		for _, sub := range append(subs, extra...) {
			if got, want := hasPrefixFold(s, sub), strings.HasPrefix(low, sub); got != want {
				t.Fatalf("hasPrefixFold(%q, %q) = %v, want %v", s, sub, got, want)
			}
		}
	}
}

// The searches read from the scan's hits agree with plain searches on a lower-cased copy:
// contains with strings.Contains, lastHit with strings.LastIndex from a position, hasWord with a
// search for the word between non-alphanumeric bytes.
func TestHitSearchesAgreeWithPlainSearches(t *testing.T) {
	texts := append(searchTexts(t), "efs", "EFS mount", "refs/heads", "x-efs", "efs2", "eni", "an ENI.",
		"denied", "the instance", "instances", "instance1", "has been retried has been retried",
		"a HAS BEEN RETRIED b")
	for _, s := range texts {
		var m msg
		m.parse("stoppedReason", -1, s)
		low := strings.ToLower(s)
		for _, w := range lexicon.words {
			p := &phrases{words: []string{w}, ids: []uint16{lexicon.index[w]}}
			if got, want := m.contains(p), strings.Contains(low, w); got != want {
				t.Fatalf("contains(%q, %q) = %v, want %v", s, w, got, want)
			}
			if got, want := m.hasWord(p), plainHasWord(low, w); got != want {
				t.Fatalf("hasWord(%q, %q) = %v, want %v", s, w, got, want)
			}
			for _, from := range []int{0, 1, len(low) / 2, len(low) - len(w), len(low)} {
				want := -1
				if from >= 0 && from <= len(low) {
					if i := strings.LastIndex(low[from:], w); i >= 0 {
						want = from + i
					}
				}
				if got := m.lastHit(p.ids[0], from); int(got) != want {
					t.Fatalf("lastHit(%q, %q, %d) = %d, want %d", s, w, from, got, want)
				}
			}
		}
	}
}

func plainHasWord(s, w string) bool {
	for i := 0; i+len(w) <= len(s); i++ {
		if s[i:i+len(w)] == w && (i == 0 || !isAlnum(s[i-1])) && (i+len(w) == len(s) || !isAlnum(s[i+len(w)])) {
			return true
		}
	}
	return false
}

func TestLowerAndIsASCII(t *testing.T) {
	for c := 0; c < 256; c++ {
		want := byte(c)
		if 'A' <= c && c <= 'Z' {
			want = byte(c - 'A' + 'a')
		}
		if got := lower(byte(c)); got != want {
			t.Fatalf("lower(%q) = %q, want %q", byte(c), got, want)
		}
		if got := isASCII(string([]byte{'a', byte(c)})); got != (c < 0x80) {
			t.Fatalf("isASCII with byte %#x = %v", c, got)
		}
	}
}

// exitText is strconv.Itoa for every exit code.
func TestExitText(t *testing.T) {
	for code := -300; code <= 300; code++ {
		if got := exitText(code); got != strconv.Itoa(code) {
			t.Fatalf("exitText(%d) = %q", code, got)
		}
	}
}

func TestIsContainerField(t *testing.T) {
	for _, tc := range []struct {
		field, name, suffix string
		want                bool
	}{
		{"containers[app].reason", "app", "].reason", true},
		{"containers[app].reason", "ap", "].reason", false},
		{"containers[app].reason", "apps", "].reason", false},
		{"containers[web].reason", "app", "].reason", false},
		{"containers[app].exitCode", "app", "].reason", false},
		{"container[app].reasons", "app", "].reason", false},
		{"containers[app].reasonx", "app", "].reason", false},
		{"xontainers[app].reason", "app", "].reason", false},
		{"stoppedReason", "app", "].reason", false},
		{"", "", "", false},
		{"containers[]", "", "]", true},
	} {
		if got := isContainerField(tc.field, tc.name, tc.suffix); got != tc.want {
			t.Errorf("isContainerField(%q, %q, %q) = %v, want %v", tc.field, tc.name, tc.suffix, got, tc.want)
		}
	}
}

// Findings sort by precedence: operator rules first in their own order, then built-in rules in
// table order; equal ranks keep their order.
func TestSortFindings(t *testing.T) {
	if len(rules) < 3 {
		t.Fatal("fewer than 3 built-in rules")
	}
	fs := []Finding{
		{Rule: rules[2].id, Text: "third"},
		{Rule: "site-a", Text: "operator a"},
		{Rule: rules[0].id, Text: "first"},
		{Rule: rules[2].id, Text: "third again"},
		{Rule: "site-b", Text: "operator b"},
		{Rule: rules[1].id, Text: "second"},
	}
	sortFindings(fs)
	var got []string
	for _, f := range fs {
		got = append(got, f.Text)
	}
	want := "operator a,operator b,first,second,third,third again"
	if strings.Join(got, ",") != want {
		t.Fatalf("order %v, want %s", got, want)
	}
}

// The automaton has exactly one state per distinct prefix of a phrase, and the root: its table is
// sized from the sorted phrases' common prefixes, and neither too small nor larger than it needs.
func TestAutomatonStates(t *testing.T) {
	lexicon.once.Do(buildAutomaton)
	prefixes := map[string]bool{"": true}
	for _, w := range lexicon.words {
		for i := 1; i <= len(w); i++ {
			prefixes[w[:i]] = true
		}
	}
	if got := len(lexicon.outLen); got != len(prefixes) {
		t.Errorf("%d states, want %d", got, len(prefixes))
	}
	if got, want := len(lexicon.next), len(prefixes)*lexicon.nclass; got != want {
		t.Errorf("table of %d entries, want %d", got, want)
	}
	// An entry is marked exactly when phrases end in the state it leads to: the scan looks for
	// hits only there.
	for i, e := range lexicon.next {
		if marked, ends := e&hasOutput != 0, lexicon.outLen[e&^hasOutput] > 0; marked != ends {
			t.Fatalf("entry %d (state %d, class %d): marked %v, phrases end there %v", i, i/lexicon.nclass, i%lexicon.nclass, marked, ends)
		}
	}
}
