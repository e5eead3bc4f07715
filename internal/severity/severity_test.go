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
