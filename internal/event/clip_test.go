package event

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// An oversized id quoted in an error is cut between characters, never inside one.
func TestClipKeepsCharactersWhole(t *testing.T) {
	for _, s := range []string{
		strings.Repeat("a", 100),
		"a" + strings.Repeat("é", 60),  // the 64-byte limit falls inside an "é"
		strings.Repeat("日", 30),        // 3-byte runes
		"ab" + strings.Repeat("🔥", 20), // 4-byte runes
	} {
		got := clip(s)
		if !utf8.ValidString(got) || len(got) > 64+len("…") || !strings.HasSuffix(got, "…") {
			t.Errorf("clip(%q) = %q", s, got)
		}
		if !strings.HasPrefix(s, strings.TrimSuffix(got, "…")) {
			t.Errorf("clip(%q) = %q: not a prefix", s, got)
		}
	}
	if got := clip("short"); got != "short" {
		t.Errorf("clip(short) = %q", got)
	}
}
