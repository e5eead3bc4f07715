package scenario

import (
	"context"
	"testing"
)

// TestShortLoad is the medic-load storm in a form small enough for every `make test`: the counts
// must be exact whatever the interleaving.
func TestShortLoad(t *testing.T) {
	r, err := RunLoad(context.Background(), Load{Events: 1000, Services: 20, Redelivered: 0.05, Clients: 16, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if r.Incidents != 20 {
		t.Errorf("%d incidents, want 20", r.Incidents)
	}
	if r.Occurrences != 1000 {
		t.Errorf("%d occurrences, want 1000", r.Occurrences)
	}
	if r.Duplicates != r.Sent-1000 {
		t.Errorf("%d duplicates recognised, %d sent", r.Duplicates, r.Sent-1000)
	}
	t.Logf("\n%s", r.Markdown())
}
