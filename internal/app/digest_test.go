package app_test

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/ecs-medic/ecs-medic/internal/app"
	"github.com/ecs-medic/ecs-medic/internal/boltstore"
	"github.com/ecs-medic/ecs-medic/internal/config"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakeslack"
)

// MEDIC_DIGEST_SCHEDULE makes the reconciler post the weekly report to its channel, once.
func TestReconcilerPostsTheWeeklyDigest(t *testing.T) {
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	fs := fakeslack.New("xoxb-test")
	defer fs.Close()
	store, err := boltstore.Open(filepath.Join(t.TempDir(), "medic.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	// Scheduled a minute ago (wall clock: the app's own), so the reconciler finds it due.
	due := time.Now().UTC().Add(-time.Minute)
	env := map[string]string{"MEDIC_SLACK_BOT_TOKEN": "xoxb-test", "MEDIC_SLACK_CHANNEL": "C0ONCALL", "MEDIC_SLACK_API_URL": fs.APIURL(),
		"MEDIC_DIGEST_SCHEDULE": fmt.Sprintf("%s %02d:%02d", due.Weekday(), due.Hour(), due.Minute()), "MEDIC_DIGEST_CHANNEL": "C0DIGEST"}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(context.Background(), cfg, zap.NewNop(), app.Options{Store: store, Console: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := a.Reconciler().Run(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	posts := fs.Calls("chat.postMessage")
	if len(posts) != 1 || posts[0].Channel != "C0DIGEST" || !strings.Contains(posts[0].Text, "Weekly ecs-medic digest") {
		t.Fatalf("posts: %+v", posts)
	}
}

func TestDigestScheduleNeedsSlack(t *testing.T) {
	store, err := boltstore.Open(filepath.Join(t.TempDir(), "medic.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	for sched, want := range map[string]string{"mon 09:00": "set MEDIC_SLACK_BOT_TOKEN", "someday": "MEDIC_DIGEST_SCHEDULE"} {
		cfg, _ := config.Load(func(k string) string { return map[string]string{"MEDIC_DIGEST_SCHEDULE": sched}[k] })
		if _, err := app.New(context.Background(), cfg, zap.NewNop(), app.Options{Store: store, Console: io.Discard}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("schedule %q: %v, want an error saying %q", sched, err, want)
		}
	}
}
