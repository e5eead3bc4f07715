package slack

import (
	"strings"
	"unicode/utf8"

	"github.com/ecs-medic/ecs-medic/internal/severity"
)

// SeverityEmoji is the mark of an incident's severity in Slack messages and answers.
func SeverityEmoji(l severity.Level) string {
	switch l {
	case severity.P1:
		return ":red_circle:"
	case severity.P2:
		return ":large_orange_circle:"
	default:
		return ":large_yellow_circle:"
	}
}

// Truncate cuts s to at most n characters, marking a cut with "…". Slack's limits (150 for a
// header, 3,000 for a section's text) count characters, not bytes, and a cut must not split one:
// it cuts between runes, and never inside an escape such as &amp;.
// https://api.slack.com/reference/block-kit/blocks#section
func Truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	if n <= 0 {
		return ""
	}
	end, runes := 0, 0
	for i := range s {
		if runes == n-1 { // room for the "…"
			end = i
			break
		}
		runes++
	}
	cut := s[:end]
	if i := strings.LastIndexByte(cut, '&'); i >= 0 && !strings.Contains(cut[i:], ";") {
		cut = cut[:i]
	}
	return cut + "…"
}
