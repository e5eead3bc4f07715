package slack_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ecs-medic/ecs-medic/internal/classify"
	"github.com/ecs-medic/ecs-medic/internal/config"
	"github.com/ecs-medic/ecs-medic/internal/deployment"
	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/notify"
	"github.com/ecs-medic/ecs-medic/internal/notify/notifytest"
	"github.com/ecs-medic/ecs-medic/internal/notify/slack"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakes"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakeslack"
)

const token = "xoxb-0000-TESTTOKEN"

func newNotifier(f *fakeslack.Server) *slack.Notifier {
	return slack.New(config.Secret(token), "#incidents", slack.WithAPIURL(f.APIURL()), slack.WithMessageInterval(time.Millisecond))
}

var slept []time.Duration

func fanout(n notify.Notifier) *notify.Fanout {
	return notify.NewFanout([]notify.Notifier{n}, notify.WithRetry(4, time.Millisecond),
		notify.WithSleep(func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil }))
}

func TestPostThenUpdateInPlace(t *testing.T) {
	f := fakeslack.New(token)
	defer f.Close()
	fan := fanout(newNotifier(f))
	inc := notifytest.Incident(classify.OOMKilled)
	res := fan.Send(context.Background(), notify.Notification{Kind: notify.Opened, Incident: inc})
	if res[0].Err != nil || !strings.HasPrefix(res[0].Ref, "C0INCIDENTS/1700000000.") {
		t.Fatalf("%+v", res[0])
	}
	inc.Notices = map[string]*incident.Notice{"slack": {Ref: res[0].Ref}}

	now := time.Date(2026, 11, 27, 3, 20, 0, 0, time.UTC)
	inc.State, inc.ResolvedAt = incident.Resolved, &now
	inc.Timeline = append(inc.Timeline, incident.Entry{At: now, Actor: "ecs-medic", Kind: "resolved", Message: "resolved: service at 4/4 running for 5m0s"})
	if r := fan.Send(context.Background(), notify.Notification{Kind: notify.Resolved, Incident: inc}); r[0].Err != nil {
		t.Fatal(r[0].Err)
	}
	posts, updates := f.Calls("chat.postMessage"), f.Calls("chat.update")
	if len(posts) != 2 || len(updates) != 1 {
		t.Fatalf("%d posts, %d updates", len(posts), len(updates))
	}
	_, ts, _ := strings.Cut(res[0].Ref, "/")
	if updates[0].TS != ts || posts[1].ThreadTS != ts || !strings.Contains(posts[1].Text, "service at 4/4 running") {
		t.Fatalf("update %+v, reply %+v", updates[0], posts[1])
	}
	if strings.Contains(updates[0].Blocks, "medic_ack") {
		t.Fatal("a resolved incident still offers buttons")
	}
}

func TestSlackErrors(t *testing.T) {
	f := fakeslack.New(token)
	defer f.Close()
	fan := fanout(newNotifier(f))
	inc := notifytest.Incident(classify.OOMKilled)

	f.Fail(fakes.Fault{Code: "channel_not_found"})
	if r := fan.Send(context.Background(), notify.Notification{Kind: notify.Opened, Incident: inc}); r[0].Err == nil || r[0].Attempts != 1 {
		t.Fatalf("ok=false retried or hidden: %+v", r[0])
	}

	slept = nil
	f.Fail(fakes.Fault{Status: http.StatusTooManyRequests, RetryAfter: "3"}, fakes.Fault{Status: 500})
	r := fan.Send(context.Background(), notify.Notification{Kind: notify.Opened, Incident: inc})
	if r[0].Err != nil || r[0].Attempts != 3 {
		t.Fatalf("429 then 500 then ok: %+v", r[0])
	}
	if len(slept) == 0 || slept[0] < 3*time.Second {
		t.Fatalf("Retry-After not honoured: waited %v", slept)
	}

	bad := slack.New(config.Secret("xoxb-wrong"), "#incidents", slack.WithAPIURL(f.APIURL()))
	if r := fanout(bad).Send(context.Background(), notify.Notification{Kind: notify.Opened, Incident: inc}); r[0].Err == nil || strings.Contains(r[0].Err.Error(), "xoxb-wrong") {
		t.Fatalf("invalid_auth: %+v", r[0])
	}
}

func TestDeletedMessageIsPostedAgain(t *testing.T) {
	f := fakeslack.New(token)
	defer f.Close()
	inc := notifytest.Incident(classify.OOMKilled)
	inc.Notices = map[string]*incident.Notice{"slack": {Ref: "C0INCIDENTS/1600000000.000001"}}
	f.Fail(fakes.Fault{Code: "message_not_found"})
	r := fanout(newNotifier(f)).Send(context.Background(), notify.Notification{Kind: notify.Raised, Incident: inc})
	if r[0].Err != nil || r[0].Ref == "" || len(f.Calls("chat.postMessage")) != 1 {
		t.Fatalf("%+v", r[0])
	}
}

func TestGoldenBlocks(t *testing.T) {
	for _, c := range notifytest.Causes {
		t.Run(string(c), func(t *testing.T) {
			b, err := json.MarshalIndent(slack.Blocks(notifytest.Incident(c)), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			notifytest.Golden(t, "slack/"+string(c)+".json", append(b, '\n'))
		})
	}
	t.Run("resolved", func(t *testing.T) {
		inc := notifytest.Incident(classify.OOMKilled)
		at := inc.OpenedAt.Add(25 * time.Minute)
		inc.State, inc.ResolvedAt = incident.Resolved, &at
		b, _ := json.MarshalIndent(slack.Blocks(inc), "", "  ")
		notifytest.Golden(t, "slack/resolved.json", append(b, '\n'))
	})
	t.Run("suggested-fix", func(t *testing.T) {
		inc := notifytest.Incident(classify.OOMKilled)
		inc.Fix = "raise-memory"
		inc.Timeline = append(inc.Timeline, incident.Entry{At: inc.OpenedAt, Actor: "ecs-medic", Kind: "action-considered",
			Message: "raise-memory not done: suggested, waiting for a human (Run fix in Slack, or /medic fix inc-d23r12s3kqjbj): would raise memory of prod/checkout: " +
				"register a new revision of checkout:12 with memory 512 → 1024 MiB, and update the service to it; cost: +$6.49/month for 4 task(s) on Fargate in us-east-1"})
		b, _ := json.MarshalIndent(slack.Blocks(inc), "", "  ")
		notifytest.Golden(t, "slack/suggested-fix.json", append(b, '\n'))
		if !strings.Contains(string(b), "+$6.49/month") {
			t.Error("the suggested fix's cost is not in the message")
		}
	})
	t.Run("bad-deploy", func(t *testing.T) {
		inc := notifytest.Incident(classify.EssentialExit)
		inc.Deployment = &deployment.Link{DeploymentID: "ecs-svc/13", StartedAt: inc.OpenedAt.Add(-2 * time.Minute),
			From: "arn:aws:ecs:us-east-1:111122223333:task-definition/checkout:12", To: "arn:aws:ecs:us-east-1:111122223333:task-definition/checkout:13",
			After: 2 * time.Minute, Rollback: true, Changes: []string{"api image v12 → v13", "api environment added <!channel>"}}
		b, _ := json.MarshalIndent(slack.Blocks(inc), "", "  ")
		notifytest.Golden(t, "slack/bad-deploy.json", append(b, '\n'))
	})
	t.Run("bad-deploy-blue-green", func(t *testing.T) {
		inc := notifytest.Incident(classify.EssentialExit)
		ok, help := deployment.CanRollBack("CODE_DEPLOY")
		inc.Deployment = &deployment.Link{DeploymentID: "ecs-svc/13", To: "arn:aws:ecs:us-east-1:111122223333:task-definition/checkout:13",
			After: 4 * time.Minute, Rollback: ok, RollbackHelp: help}
		blocks := slack.Blocks(inc)
		b, _ := json.MarshalIndent(blocks, "", "  ")
		notifytest.Golden(t, "slack/bad-deploy-blue-green.json", append(b, '\n'))
		if strings.Contains(string(b), slack.ActionRollback) {
			t.Error("a blue/green service's message offers a Rollback button medic cannot carry out")
		}
	})
	t.Run("acknowledged-escalated", func(t *testing.T) {
		inc := notifytest.Incident(classify.ImagePull)
		at := inc.OpenedAt.Add(20 * time.Minute)
		inc.State, inc.AcknowledgedAt, inc.AcknowledgedBy, inc.Escalated = incident.Acknowledged, &at, "alice", true
		b, _ := json.MarshalIndent(slack.Blocks(inc), "", "  ")
		notifytest.Golden(t, "slack/acknowledged.json", append(b, '\n'))
	})
	// Text from events and users, escaped: an alarm reason and a log line that try to notify the
	// channel and disguise a link, a service name with a mention, a Slack user as the acknowledger.
	t.Run("hostile-text", func(t *testing.T) {
		inc := notifytest.Incident(classify.EssentialExit)
		inc.Scope.Service = "web<@U0BOSS>"
		inc.Occurrences.Evidence = []string{"exit 1: <!channel> see <https://evil.example/x|runbook> & retry"}
		inc.LogLines = []string{"panic: <!here> token=<redacted?>"}
		at := inc.OpenedAt.Add(5 * time.Minute)
		inc.State, inc.AcknowledgedAt, inc.AcknowledgedBy = incident.Acknowledged, &at, "slack:U0ALICE"
		b, _ := json.MarshalIndent(map[string]any{"blocks": slack.Blocks(inc), "text": slack.Fallback(notify.Opened, inc),
			"thread": slack.ThreadReply(notify.Acknowledged, inc)}, "", "  ")
		notifytest.Golden(t, "slack/hostile-text.json", append(b, '\n'))
		for _, raw := range []string{"<!channel>", "<!here>", "<@U0BOSS>", "<https://evil"} {
			if strings.Contains(unJSON.Replace(string(b)), raw) {
				t.Errorf("%s reached the message raw", raw)
			}
		}
	})
}

// unJSON undoes encoding/json's spelling of &, < and > in strings.
var unJSON = strings.NewReplacer(`\u0026`, "&", `\u003c`, "<", `\u003e`, ">")

// The thread says why an incident escalated: the response time passed, or a fix did not help.
func TestEscalatedReply(t *testing.T) {
	inc := notifytest.Incident(classify.OOMKilled)
	inc.Timeline = append(inc.Timeline, incident.Entry{Kind: "escalated", Message: "not acknowledged within the 15 min response time of a P1 (due 03:15 UTC): escalated"})
	if r := slack.ThreadReply(notify.Escalated, inc); !strings.Contains(r, "15 min response time of a P1") || !strings.Contains(r, "/medic ack "+inc.ID) {
		t.Fatalf("SLA: %s", r)
	}
	inc.AutomationStopped = "the cause recurred after the fix"
	inc.Timeline = append(inc.Timeline, incident.Entry{Kind: "relapse", Message: "the cause recurred after the fix: automation stopped for this incident"})
	if r := slack.ThreadReply(notify.Escalated, inc); !strings.Contains(r, "recurred after the fix") {
		t.Fatalf("relapse: %s", r)
	}
}
