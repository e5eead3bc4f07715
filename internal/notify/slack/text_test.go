package slack

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTruncate(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		n        int
		want     string
	}{
		{"short", "checkout", 10, "checkout"},
		{"exact", "abcde", 5, "abcde"},
		{"ascii", "abcdefgh", 5, "abcd…"},
		{"two-byte runes count once", strings.Repeat("é", 6), 5, "éééé…"},
		{"never splits a rune", "日本語のログ", 3, "日本…"},
		{"emoji", "🔥🔥🔥🔥", 2, "🔥…"},
		{"not inside an escape", "a &amp; b", 5, "a …"},
		{"after a whole escape", "a &amp; b", 8, "a &amp;…"},
		{"zero", "abc", 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Truncate(tc.in, tc.n)
			if got != tc.want {
				t.Errorf("Truncate(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
			}
			if !utf8.ValidString(got) || utf8.RuneCountInString(got) > max(tc.n, 0) {
				t.Errorf("Truncate(%q, %d) = %q: invalid or too long", tc.in, tc.n, got)
			}
		})
	}
}
