package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ecs-medic/ecs-medic/internal/boltstore"
)

// TestReportAndPostmortemAfterReplay is the demo's ending: replay the recorded night into a store
// file, then ask for the report and one incident's postmortem from it.
func TestReportAndPostmortemAfterReplay(t *testing.T) {
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "medic.db")
	var out, errOut bytes.Buffer
	if code := run(ctx, []string{"replay", "--db", db, "../../testdata/scenarios/demo.json"}, nil, &out, &errOut, noEnv); code != 0 {
		t.Fatalf("replay exit %d: %s", code, errOut.String())
	}

	// The replay keeps the recorded night's own times (03:00 on 27 November 2026).
	morning := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	out.Reset()
	if code := reportCmd(ctx, []string{"--db", db, "--since", "1d", "--json"}, &out, &errOut, noEnv, morning); code != 0 {
		t.Fatalf("report exit %d: %s", code, errOut.String())
	}
	var rep struct {
		Services []struct {
			Cluster, Service, Account string
			Incidents                 int
			BySeverity                map[string]int `json:"by_severity"`
			IncidentIDs               []string       `json:"incident_ids"`
			MTTA                      *float64       `json:"mtta_seconds"`
			SLAMet                    *int           `json:"sla_met"`
			SLAMissed                 *int           `json:"sla_missed"`
		}
		Totals struct {
			Incidents int
		}
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("report --json: %v\n%s", err, out.String())
	}
	// The demo night: checkout down (P1), payments half down (P2), search's scale-in ignored.
	if rep.Totals.Incidents != 2 || len(rep.Services) != 2 {
		t.Fatalf("report: %s", out.String())
	}
	var checkout string
	for _, s := range rep.Services {
		if s.Account != "111122223333" || s.Cluster != "prod" || s.Incidents != 1 || len(s.IncidentIDs) != 1 || s.SLAMet == nil || s.SLAMissed == nil {
			t.Errorf("service entry: %+v", s)
		}
		if s.Service == "checkout" {
			checkout = s.IncidentIDs[0]
			if s.BySeverity["P1"] != 1 {
				t.Errorf("checkout by severity %v", s.BySeverity)
			}
		}
	}
	if checkout == "" {
		t.Fatalf("no checkout in the report: %s", out.String())
	}

	out.Reset()
	if code := reportCmd(ctx, []string{"--db", db}, &out, &errOut, noEnv, morning); code != 0 || !strings.Contains(out.String(), "prod/checkout") {
		t.Fatalf("report text exit %d: %s %s", code, out.String(), errOut.String())
	}

	out.Reset()
	if code := postmortemCmd(ctx, []string{"--db", db, checkout}, &out, &errOut, noEnv, morning); code != 0 {
		t.Fatalf("postmortem exit %d: %s", code, errOut.String())
	}
	md := out.String()
	for _, want := range []string{"# Postmortem draft: checkout", "## Impact", "## Timeline (UTC)", "OutOfMemoryError", "## Questions for the review",
		"It opened at 2026-11-27 03:00:00 UTC"} {
		if !strings.Contains(md, want) {
			t.Errorf("postmortem lacks %q:\n%s", want, md)
		}
	}
}

func TestReviewCommandsSayWhatIsWrong(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		code int
		args []string
		want string
	}{
		{"report help", 0, []string{"report", "--help"}, "Usage: medic report"},
		{"postmortem help", 0, []string{"postmortem", "-h"}, "Usage: medic postmortem"},
		{"no store", 1, []string{"report", "--db", filepath.Join(dir, "none.db")}, "no store at"},
		{"bad period", 2, []string{"report", "--since", "forever"}, "write it as 24h, 7d or 2w"},
		{"postmortem needs an id", 2, []string{"postmortem"}, "Usage: medic postmortem"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(ctx, tc.args, nil, &out, &errOut, noEnv)
			if code != tc.code || !strings.Contains(out.String()+errOut.String(), tc.want) {
				t.Errorf("exit %d (want %d), output %q %q, want %q", code, tc.code, out.String(), errOut.String(), tc.want)
			}
		})
	}

	// A running medic serve holds the file: say so at once instead of hanging.
	db := filepath.Join(dir, "held.db")
	held, err := boltstore.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	var out, errOut bytes.Buffer
	if code := run(ctx, []string{"report", "--db", db}, nil, &out, &errOut, noEnv); code != 1 || !strings.Contains(errOut.String(), "another process") {
		t.Errorf("held store: exit %d, %q", code, errOut.String())
	}
	if code := run(ctx, []string{"postmortem", "--db", filepath.Join(dir, "none.db"), "inc-x"}, nil, &out, &errOut, noEnv); code != 1 {
		t.Errorf("postmortem without a store: exit %d", code)
	}
}
