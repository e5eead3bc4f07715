package digest_test

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecs-medic/ecs-medic/internal/boltstore"
	"github.com/ecs-medic/ecs-medic/internal/classify"
	"github.com/ecs-medic/ecs-medic/internal/config"
	"github.com/ecs-medic/ecs-medic/internal/digest"
	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/incident/incidenttest"
	"github.com/ecs-medic/ecs-medic/internal/notify/slack"
	"github.com/ecs-medic/ecs-medic/internal/severity"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakes"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakeslack"
)

func TestParseSchedule(t *testing.T) {
	for in, want := range map[string]digest.Schedule{
		"mon 09:00":    {Day: time.Monday, Hour: 9},
		"Friday 17:30": {Day: time.Friday, Hour: 17, Minute: 30},
		" sun  0:05 ":  {Day: time.Sunday, Minute: 5},
	} {
		if got, err := digest.ParseSchedule(in); err != nil || got != want {
			t.Errorf("ParseSchedule(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "mon", "09:00", "mo 09:00", "mon 24:00", "mon 9:60", "mon 9", "monday 09:00 extra"} {
		if _, err := digest.ParseSchedule(bad); err == nil {
			t.Errorf("ParseSchedule(%q) accepted", bad)
		}
	}
}

type rig struct {
	d     *digest.Digest
	slack *fakeslack.Server
	clk   *incidenttest.Clock
	m     *incident.Manager
	store *boltstore.Store
}

// monday is a scheduled time: Monday 2026-11-23 09:00 UTC.
var monday = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

func newRig(t *testing.T) *rig {
	t.Helper()
	clk := &incidenttest.Clock{T: monday.Add(-3 * 24 * time.Hour)}
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "medic.db"), boltstore.WithClock(clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	fs := fakeslack.New("xoxb-test")
	t.Cleanup(fs.Close)
	poster := slack.New(config.Secret("xoxb-test"), "C0ONCALL", slack.WithAPIURL(fs.APIURL()), slack.WithMessageInterval(time.Millisecond))
	sched, _ := digest.ParseSchedule("mon 09:00")
	m := incident.NewManager(st, incident.WithClock(clk.Now))
	return &rig{d: &digest.Digest{Schedule: sched, Channel: "C0DIGEST", Store: st, Poster: poster}, slack: fs, clk: clk, m: m, store: st}
}

func (g *rig) posts() []fakeslack.Call { return g.slack.Calls("chat.postMessage") }

func TestDigestPostsOncePerWeek(t *testing.T) {
	g := newRig(t)
	ctx := context.Background()
	sig := incidenttest.Failure(classify.OOMKilled, 1, severity.P1)
	sig.Evidence = "<!channel> OutOfMemoryError"
	if _, err := g.m.Apply(ctx, sig); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		at   time.Time
		sent bool
	}{
		{monday.Add(-time.Minute), false},                   // not yet
		{monday, true},                                      // due
		{monday.Add(time.Minute), false},                    // the next pass: already sent
		{monday.Add(30 * time.Minute), false},               // still the same digest
		{monday.Add(7*24*time.Hour + 59*time.Minute), true}, // next week, a reconciler late by 59 minutes
	} {
		sent, err := g.d.Run(ctx, tc.at)
		if err != nil || sent != tc.sent {
			t.Errorf("at %s: sent %v, %v; want %v", tc.at, sent, err, tc.sent)
		}
	}
	posts := g.posts()
	if len(posts) != 2 {
		t.Fatalf("%d digests posted, want 2", len(posts))
	}
	first := posts[0]
	if first.Channel != "C0DIGEST" || !strings.Contains(first.Text, "Weekly ecs-medic digest") ||
		!strings.Contains(first.Text, "1 incident(s) in 1 service(s)") || !strings.Contains(first.Text, "prod/checkout") {
		t.Errorf("digest: channel %s text:\n%s", first.Channel, first.Text)
	}
	if strings.Contains(first.Text, "<!channel>") {
		t.Errorf("digest carries a live <!channel> from event text:\n%s", first.Text)
	}
	// The second week had no incident: the digest says so rather than repeating the first week.
	if !strings.Contains(posts[1].Text, "No incidents in this period") {
		t.Errorf("second digest:\n%s", posts[1].Text)
	}
}

func TestDigestNotSentLate(t *testing.T) {
	// A reconciler that comes back more than an hour after the scheduled time does not post last
	// week's digest.
	g := newRig(t)
	if sent, err := g.d.Run(context.Background(), monday.Add(digest.Late+time.Minute)); sent || err != nil {
		t.Errorf("late digest sent %v, %v", sent, err)
	}
	if n := len(g.posts()); n != 0 {
		t.Errorf("%d posts", n)
	}
}

func TestDigestOnceAmongConcurrentReconcilers(t *testing.T) {
	g := newRig(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	sent := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := g.d.Run(context.Background(), monday.Add(time.Minute))
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				sent++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if sent != 1 || len(g.posts()) != 1 {
		t.Errorf("%d reconcilers sent, %d posts; want exactly one", sent, len(g.posts()))
	}
}

func TestDigestPostFailureIsReported(t *testing.T) {
	g := newRig(t)
	g.slack.Fail(fakes.Fault{Code: "channel_not_found"})
	sent, err := g.d.Run(context.Background(), monday)
	if sent || err == nil || !strings.Contains(err.Error(), "C0DIGEST") {
		t.Errorf("sent %v, err %v: want the failure naming the channel", sent, err)
	}
}
