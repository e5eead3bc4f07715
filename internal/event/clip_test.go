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
	// Bytes that are not UTF-8 (no decoded id has them) are cut all the same, without a panic.
	if got := clip(strings.Repeat("\x80", 100)); got != "…" {
		t.Errorf("clip of continuation bytes = %q", got)
	}
	if got := clip(strings.Repeat("a", 64)); got != strings.Repeat("a", 64) {
		t.Errorf("clip of 64 bytes = %q", got)
	}
	if got := clip("short"); got != "short" {
		t.Errorf("clip(short) = %q", got)
	}
}

func TestResourceName(t *testing.T) {
	for in, want := range map[string]string{
		"arn:aws:ecs:us-east-1:111122223333:cluster/prod":                   "prod",
		"arn:aws:ecs:us-east-1:111122223333:service/prod/api":               "api",
		"arn:aws:ecs:us-east-1:111122223333:task/prod/0123456789abcdef":     "0123456789abcdef",
		"arn:aws:ecs:us-east-1:111122223333:task-definition/checkout:12":    "checkout:12",
		"arn:aws:iam::111122223333:role/team/app-role":                      "app-role",
		"arn:aws-cn:ecs:cn-north-1:111122223333:cluster/a:b":                "a:b",
		"arn:aws:cloudwatch:us-east-1:111122223333:alarm:checkout 5xx/high": "high",
		"checkout:12": "checkout:12",
		"prod/api":    "api",
		"arn:aws:sns:us-east-1:111122223333:alerts": "alerts", // a resource without a '/'
		"arn:aws:s3:::bucket":                       "bucket", // empty region and account
		"arn:broken":                                "arn:broken",
		"":                                          "",
	} {
		if got := ResourceName(in); got != want {
			t.Errorf("ResourceName(%q) = %q, want %q", in, got, want)
		}
	}
}
