package severity

import (
	"testing"
	"time"
)

func TestAssess(t *testing.T) {
	for _, tc := range []struct {
		desired, running int
		want             Level
	}{
		{4, 0, P1},
		{1, 0, P1},
		{4, 1, P2},
		{3, 1, P2},
		{4, 2, P3}, // exactly half running is not "more than half down"
		{4, 3, P3},
		{4, 4, P3},
		{0, 0, P3}, // scaled to zero is not down
		{2, 5, P3},
	} {
		if got := Assess(State{Desired: tc.desired, Running: tc.running}); got != tc.want {
			t.Errorf("desired %d running %d: %s, want %s", tc.desired, tc.running, got, tc.want)
		}
	}
}

func TestSLAAndText(t *testing.T) {
	if P1.SLA() != 15*time.Minute || P2.SLA() != 30*time.Minute || P3.SLA() != 2*time.Hour {
		t.Fatal("SLA table differs from SOP-002")
	}
	for _, l := range []Level{P1, P2, P3} {
		b, _ := l.MarshalText()
		var back Level
		if err := back.UnmarshalText(b); err != nil || back != l {
			t.Errorf("%s round trip: %v %v", l, back, err)
		}
	}
	if _, err := Parse("P4"); err == nil {
		t.Error("P4 accepted")
	}
	if !P1.Higher(P2) || P3.Higher(P2) {
		t.Error("Higher is backwards")
	}
}

// Every boundary of SPEC §2, exactly: P1 only when nothing runs of a desired count above zero; P2
// only when fewer than half run (in real numbers); pending tasks are not running.
func TestAssessBounds(t *testing.T) {
	for _, tc := range []struct {
		desired, running, pending int
		want                      Level
	}{
		{1, 0, 1, P1},  // one desired, pending only: down
		{0, 0, 0, P3},  // scaled to zero
		{-1, 0, 0, P3}, // nonsense desired never pages
		{2, 0, 2, P1},
		{2, 1, 0, P3}, // exactly half
		{5, 2, 3, P2}, // 2 of 5: fewer than half
		{5, 3, 0, P3},
		{6, 2, 4, P2},
		{6, 3, 0, P3},
		{100, 49, 0, P2},
		{100, 50, 0, P3},
	} {
		if got := Assess(State{Desired: tc.desired, Running: tc.running, Pending: tc.pending}); got != tc.want {
			t.Errorf("desired %d running %d pending %d: %s, want %s", tc.desired, tc.running, tc.pending, got, tc.want)
		}
	}
}

func TestLevels(t *testing.T) {
	// A level is never higher than itself: raising to the same level is no raise.
	for _, l := range []Level{P1, P2, P3} {
		if l.Higher(l) {
			t.Errorf("%s is higher than itself", l)
		}
	}
	if !P2.Higher(P3) || P2.Higher(P1) {
		t.Error("P2 ordering")
	}
	for l, want := range map[Level]string{P1: "P1", P2: "P2", P3: "P3", 0: "P0?", 4: "P4?", -1: "P-1?"} {
		if got := l.String(); got != want {
			t.Errorf("Level(%d) = %q, want %q", int(l), got, want)
		}
	}
	for in, want := range map[string]Level{"P1": P1, "p1": P1, "P2": P2, "p2": P2, "P3": P3, "p3": P3} {
		if got, err := Parse(in); err != nil || got != want {
			t.Errorf("Parse(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "P0", "P4", "1", "high", " P1"} {
		if _, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) accepted", in)
		}
	}
	var l Level = P2
	if err := l.UnmarshalText([]byte("P9")); err == nil || l != P2 {
		t.Errorf("a bad level changed the value to %s (%v)", l, err)
	}
	// An out-of-range level has the slowest response time, never a faster one.
	if Level(0).SLA() != 2*time.Hour || Level(7).SLA() != 2*time.Hour {
		t.Error("unknown levels must take P3's response time")
	}
}
