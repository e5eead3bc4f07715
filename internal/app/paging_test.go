package app_test

import (
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/ecs-medic/ecs-medic/internal/app"
	"github.com/ecs-medic/ecs-medic/internal/boltstore"
	"github.com/ecs-medic/ecs-medic/internal/config"
	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/reconcile"
	"github.com/ecs-medic/ecs-medic/internal/remediate/autoscaling"
	"github.com/ecs-medic/ecs-medic/internal/servicestate"
	"github.com/ecs-medic/ecs-medic/internal/tasklogs/awslogs"
	"github.com/ecs-medic/ecs-medic/internal/testing/eventgen"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakeecs"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakelogs"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakepagerduty"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakes"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakeslack"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakests"
)

const (
	routingKey = "R0UTINGKEY-SECRET-0123456789abcd"
	botToken   = "xoxb-1234-SECRET-TOKEN"
)

type paging struct {
	app   *app.App
	store *boltstore.Store
	ecs   *fakeecs.Server
	pd    *fakepagerduty.Server
	slack *fakeslack.Server
	logs  *observer.ObservedLogs
}

func newPaging(t *testing.T) *paging {
	t.Helper()
	fe := fakeecs.New(fakeecs.Service{Cluster: "prod", Name: "checkout", Desired: 4, Running: 0})
	fe.PutTaskDefinition("checkout:1", json.RawMessage(`{"family":"checkout","revision":1,"containerDefinitions":[
		{"name":"app","logConfiguration":{"logDriver":"awslogs","options":{"awslogs-group":"/ecs/checkout","awslogs-stream-prefix":"ecs"}}}]}`))
	fl := fakelogs.New()
	// Under a storm any of the first events may be the one that opens the incident: every task
	// logged the same last lines.
	for i := 1; i <= 1000; i++ {
		fl.Put("/ecs/checkout", "ecs/app/"+eventgen.TaskID(i), "loading price cache", "java.lang.OutOfMemoryError: Java heap space")
	}
	pd := fakepagerduty.New(routingKey)
	sl := fakeslack.New(botToken)
	st := fakests.New(map[string]string{"AKIDEXAMPLE": eventgen.Account}) // the home account, asked of STS
	for _, c := range []interface{ Close() }{fe, fl, pd, sl, st} {
		t.Cleanup(c.Close)
	}
	env := map[string]string{
		"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret",
		"AWS_ENDPOINT_URL_ECS": fe.URL, "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS": fl.URL, "AWS_ENDPOINT_URL_STS": st.URL,
		"AWS_CONFIG_FILE": filepath.Join(t.TempDir(), "none"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(t.TempDir(), "none"),
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	cfg, err := config.Load(func(k string) string {
		return map[string]string{
			"MEDIC_PAGERDUTY_ROUTING_KEY": routingKey, "MEDIC_PAGERDUTY_EVENTS_URL": pd.URL,
			"MEDIC_SLACK_BOT_TOKEN": botToken, "MEDIC_SLACK_CHANNEL": "#incidents", "MEDIC_SLACK_API_URL": sl.APIURL(),
		}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	store, err := boltstore.Open(filepath.Join(t.TempDir(), "medic.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	core, logs := observer.New(zapcore.DebugLevel)
	a, err := app.New(context.Background(), cfg, zap.New(core), app.Options{Store: store, Console: io.Discard, Logs: awslogs.ForAccounts, Scaling: autoscaling.ForAccount})
	if err != nil {
		t.Fatal(err)
	}
	return &paging{app: a, store: store, ecs: fe, pd: pd, slack: sl, logs: logs}
}

func (p *paging) reconcile(t *testing.T) reconcile.Report {
	t.Helper()
	r := p.app.Reconciler()
	r.Quiet, r.Lister = 0, nil
	rep, err := r.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func (p *paging) only(t *testing.T) *incident.Incident {
	t.Helper()
	incs, err := p.store.List(context.Background(), incident.Filter{})
	if err != nil || len(incs) != 1 {
		t.Fatalf("%d incidents, %v", len(incs), err)
	}
	return incs[0]
}

// A storm of 1,000 events for one service: one page, one Slack message, the log lines on both;
// the service recovers: one resolve, the message updated in place.
func TestStormPagesOnceAndResolves(t *testing.T) {
	p := newPaging(t)
	var wg sync.WaitGroup
	events := make(chan []byte)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for raw := range events {
				if _, err := p.app.Pipeline().HandleRaw(context.Background(), raw); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	for i := 1; i <= 1000; i++ {
		events <- eventgen.OOM("prod", "checkout", i)
	}
	close(events)
	wg.Wait()

	if n := len(p.pd.Events("trigger")); n != 1 {
		t.Fatalf("%d triggers for one incident", n)
	}
	if n := len(p.slack.Calls("chat.postMessage")); n != 1 {
		t.Fatalf("%d Slack messages for one incident", n)
	}
	inc := p.only(t)
	if inc.Occurrences.Count != 1000 || len(inc.LogLines) != 2 {
		t.Fatalf("occurrences %d, log lines %v (%s)", inc.Occurrences.Count, inc.LogLines, inc.LogError)
	}
	details := p.pd.Events("trigger")[0]["payload"].(map[string]any)["custom_details"].(map[string]any)
	if !strings.Contains(details["log_tail"].(string), "Java heap space") {
		t.Fatalf("page lacks the log tail: %v", details)
	}
	if !strings.Contains(p.slack.Calls("chat.postMessage")[0].Blocks, "Java heap space") {
		t.Fatal("Slack message lacks the log tail")
	}

	p.ecs.SetCounts("prod", "checkout", 4, 4)
	p.app.ForgetState(servicestate.Ref{Account: eventgen.Account, Region: "us-east-1", Cluster: "prod", Service: "checkout"})
	p.reconcile(t) // recovering
	if rep := p.reconcile(t); rep.Resolved != 1 {
		t.Fatalf("%+v", rep)
	}
	if n := len(p.pd.Events("resolve")); n != 1 {
		t.Fatalf("%d resolves", n)
	}
	updates := p.slack.Calls("chat.update")
	if len(updates) != 1 || !strings.Contains(updates[0].Text, "Resolved") {
		t.Fatalf("updates %+v", updates)
	}
	if n := len(p.pd.Events("trigger")); n != 1 {
		t.Fatalf("%d triggers after the resolve", n)
	}
}

// Slack down: the page still goes out; Slack gets the message late, from the reconciler.
func TestSlackDownDoesNotStopThePage(t *testing.T) {
	p := newPaging(t)
	for range 4 { // every attempt of the first delivery fails
		p.slack.Fail(fakes.Fault{Status: 500})
	}
	if _, err := p.app.Pipeline().HandleRaw(context.Background(), eventgen.OOM("prod", "checkout", 1)); err != nil {
		t.Fatal(err)
	}
	if len(p.pd.Events("trigger")) != 1 {
		t.Fatal("no page while Slack was down")
	}
	inc := p.only(t)
	if n := inc.Notices["slack"]; n == nil || n.Pending != "opened" {
		t.Fatalf("no pending Slack message: %+v", inc.Notices)
	}
	if rep := p.reconcile(t); rep.Resent != 1 {
		t.Fatalf("%+v", rep)
	}
	inc = p.only(t)
	if n := inc.Notices["slack"]; n.Pending != "" || n.Ref == "" {
		t.Fatalf("after the re-send: %+v", n)
	}
	if len(p.pd.Events("trigger")) != 1 {
		t.Fatal("the re-send paged again")
	}
}

// PagerDuty down for a while: the page is kept pending and sent once it is back — never twice.
func TestPagerDutyDownThenBack(t *testing.T) {
	p := newPaging(t)
	p.pd.SetDown(true)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, err := p.app.Pipeline().HandleRaw(ctx, eventgen.OOM("prod", "checkout", 1)); err != nil {
		t.Fatal(err)
	}
	if n := p.only(t).Notices["pagerduty"]; n == nil || n.Pending != "opened" {
		t.Fatalf("%+v", p.only(t).Notices)
	}
	if len(p.slack.Calls("chat.postMessage")) != 1 {
		t.Fatal("PagerDuty down stopped the Slack message")
	}
	p.pd.SetDown(false)
	p.reconcile(t)
	p.reconcile(t)
	if n := len(p.pd.Events("trigger")); n != 1 {
		t.Fatalf("%d triggers", n)
	}
}

// No secret reaches a log line, a Slack message or a page.
func TestSecretsStayOutOfLogsAndMessages(t *testing.T) {
	p := newPaging(t)
	p.pd.Fail(fakepagerduty.Statuses(400)...) // a failure path logs its error too
	p.slack.Fail(fakes.Fault{Code: "not_in_channel"})
	for i := 1; i <= 3; i++ {
		if _, err := p.app.Pipeline().HandleRaw(context.Background(), eventgen.OOM("prod", "checkout", i)); err != nil {
			t.Fatal(err)
		}
	}
	p.reconcile(t)
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	if p.logs.Len() == 0 {
		t.Fatal("nothing was logged: the test would prove nothing")
	}
	for _, e := range p.logs.All() {
		buf, err := enc.EncodeEntry(e.Entry, e.Context)
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range []string{routingKey, botToken, "SECRET"} {
			if strings.Contains(buf.String(), secret) {
				t.Fatalf("a log line carries a secret: %s", buf.String())
			}
		}
	}
	for _, c := range p.slack.Calls("") {
		if strings.Contains(c.Text+c.Blocks, routingKey) || strings.Contains(c.Text+c.Blocks, botToken) {
			t.Fatalf("a Slack message carries a secret: %+v", c)
		}
	}
	for _, ev := range p.pd.Events("") {
		b, _ := json.Marshal(ev["payload"])
		if strings.Contains(string(b), botToken) || strings.Contains(string(b), routingKey) {
			t.Fatalf("a page carries a secret: %s", b)
		}
	}
	inc := p.only(t)
	b, _ := json.Marshal(inc)
	if strings.Contains(string(b), routingKey) || strings.Contains(string(b), botToken) {
		t.Fatal("the incident record carries a secret")
	}
}
