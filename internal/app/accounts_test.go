package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/ecs-medic/ecs-medic/internal/app"
	"github.com/ecs-medic/ecs-medic/internal/boltstore"
	"github.com/ecs-medic/ecs-medic/internal/config"
	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/metrics/prom"
	"github.com/ecs-medic/ecs-medic/internal/pipeline"
	"github.com/ecs-medic/ecs-medic/internal/remediate"
	"github.com/ecs-medic/ecs-medic/internal/remediate/autoscaling"
	"github.com/ecs-medic/ecs-medic/internal/runbook"
	"github.com/ecs-medic/ecs-medic/internal/tasklogs/awslogs"
	"github.com/ecs-medic/ecs-medic/internal/testing/eventgen"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakeecs"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakelogs"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakepagerduty"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakests"
)

const (
	homeAccount   = eventgen.Account
	memberAccount = "222233334444"
	otherAccount  = "333344445555" // its role cannot be assumed
	memberRole    = "arn:aws:iam::{account}:role/ecs-medic-member"
)

// org is a central account and a member account behind the same ECS and Logs endpoints, each
// request served by the fake of the account whose credentials signed it. Both run a service named
// prod/api: the member's is down, the central one's is healthy.
type org struct {
	app                  *app.App
	store                *boltstore.Store
	sts                  *fakests.Server
	homeECS, memberECS   *fakeecs.Server
	homeLogs, memberLogs *fakelogs.Server
	pd                   *fakepagerduty.Server
	clockMu              sync.Mutex
	now                  time.Time
}

func (o *org) clock() time.Time { o.clockMu.Lock(); defer o.clockMu.Unlock(); return o.now }
func (o *org) advance(d time.Duration) {
	o.clockMu.Lock()
	o.now = o.now.Add(d)
	o.clockMu.Unlock()
}

func api(running int) fakeecs.Service {
	return fakeecs.Service{Cluster: "prod", Name: "api", Desired: 2, Running: running, MaxCapacity: 10,
		TaskDefinition: "arn:aws:ecs:us-east-1:" + memberAccount + ":task-definition/api:1", Tags: map[string]string{"team": "payments"}}
}

func newOrg(t *testing.T, env map[string]string) *org {
	t.Helper()
	o := &org{now: time.Now()}
	o.sts = fakests.New(map[string]string{"AKIDCENTRAL": homeAccount})
	o.homeECS, o.memberECS = fakeecs.New(api(2)), fakeecs.New(api(0))
	o.memberECS.SetAccount(memberAccount)
	taskDef := json.RawMessage(`{"family":"api","revision":1,"containerDefinitions":[{"name":"app","logConfiguration":{"logDriver":"awslogs","options":{"awslogs-group":"/ecs/api","awslogs-stream-prefix":"ecs"}}}]}`)
	o.homeECS.PutTaskDefinition("api:1", taskDef)
	o.memberECS.PutTaskDefinition("api:1", taskDef)
	o.homeLogs, o.memberLogs = fakelogs.New(), fakelogs.New()
	o.memberLogs.Put("/ecs/api", "ecs/app/"+eventgen.TaskID(1), "member: loading", "java.lang.OutOfMemoryError: Java heap space")
	o.homeLogs.Put("/ecs/api", "ecs/app/"+eventgen.TaskID(1), "central: this line must never be read for the member")
	ecsFront := o.sts.Route(map[string]http.Handler{homeAccount: o.homeECS.Config.Handler, memberAccount: o.memberECS.Config.Handler})
	logsFront := o.sts.Route(map[string]http.Handler{homeAccount: o.homeLogs.Config.Handler, memberAccount: o.memberLogs.Config.Handler})
	o.pd = fakepagerduty.New(routingKey)
	for _, c := range []interface{ Close() }{o.sts, o.homeECS, o.memberECS, o.homeLogs, o.memberLogs, ecsFront, logsFront, o.pd} {
		t.Cleanup(c.Close)
	}
	for k, v := range map[string]string{
		"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "AKIDCENTRAL", "AWS_SECRET_ACCESS_KEY": "secret",
		"AWS_ENDPOINT_URL_ECS": ecsFront.URL, "AWS_ENDPOINT_URL_APPLICATION_AUTO_SCALING": ecsFront.URL,
		"AWS_ENDPOINT_URL_CLOUDWATCH_LOGS": logsFront.URL, "AWS_ENDPOINT_URL_STS": o.sts.URL,
		"AWS_CONFIG_FILE": filepath.Join(t.TempDir(), "none"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(t.TempDir(), "none"),
		"AWS_MAX_ATTEMPTS": "1",
	} {
		t.Setenv(k, v)
	}
	vars := map[string]string{"MEDIC_PAGERDUTY_ROUTING_KEY": routingKey, "MEDIC_PAGERDUTY_EVENTS_URL": o.pd.URL}
	for k, v := range env {
		vars[k] = v
	}
	cfg, err := config.Load(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	o.store, err = boltstore.Open(filepath.Join(t.TempDir(), "medic.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = o.store.Close() })
	o.app, err = app.New(context.Background(), cfg, zap.NewNop(), app.Options{Store: o.store, Console: io.Discard, Now: o.clock, Metrics: prom.New(), Logs: awslogs.ForAccounts, Scaling: autoscaling.ForAccount})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func member(raw []byte) []byte { return eventgen.InAccount(raw, memberAccount) }

func (o *org) handle(t *testing.T, raw []byte) pipeline.Result {
	t.Helper()
	res, err := o.app.Pipeline().HandleRaw(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// assertSignedBy checks that every call a fake received was signed with credentials of account.
func (o *org) assertSignedBy(t *testing.T, f *fakeecs.Server, account string) {
	t.Helper()
	for _, c := range f.Calls("") {
		if got := o.sts.AccountOf(c.AccessKey); got != account {
			t.Fatalf("%s signed by %s (account %q), want account %s", c.Operation, c.AccessKey, got, account)
		}
	}
}

// A member account's service is down: assessed with the member's assumed credentials, P1, paged
// once; a human's scale goes to the member's service only. The central account's service of the
// same name is never read nor changed.
func TestMemberAccountIsReadAndFixedWithItsOwnCredentials(t *testing.T) {
	o := newOrg(t, map[string]string{"MEDIC_MEMBER_ROLE_ARN": memberRole})
	o.sts.AllowRole("arn:aws:iam::" + memberAccount + ":role/ecs-medic-member")

	first := o.handle(t, member(eventgen.OOM("prod", "api", 1)))
	if first.Outcome != pipeline.OutcomeOpened || first.Severity != "P1" || first.Account != memberAccount {
		t.Fatalf("first: %+v", first)
	}
	for i := 2; i <= 20; i++ {
		if res := o.handle(t, member(eventgen.OOM("prod", "api", i))); res.Incident != first.Incident {
			t.Fatalf("event %d: %+v", i, res)
		}
	}
	if n := len(o.pd.Events("trigger")); n != 1 {
		t.Fatalf("%d pages, want 1", n)
	}
	inc, err := o.store.Get(context.Background(), first.Incident)
	if err != nil {
		t.Fatal(err)
	}
	if inc.Scope.Account != memberAccount || inc.ServiceState == nil || inc.ServiceState.Running != 0 || inc.ServiceState.Tags["team"] != "payments" {
		t.Fatalf("incident: %+v %+v", inc.Scope, inc.ServiceState)
	}
	if strings.Join(inc.LogLines, "|") != "member: loading|java.lang.OutOfMemoryError: Java heap space" {
		t.Fatalf("log lines %q (%s)", inc.LogLines, inc.LogError)
	}

	out, err := o.app.Remediate(context.Background(), remediate.Request{Incident: inc.ID, By: "slack:U0ALICE", Action: runbook.ScaleOut, Desired: 3})
	if err != nil || !out.Done {
		t.Fatalf("scale: %+v %v", out, err)
	}
	if got := o.memberECS.Service("prod", "api").Desired; got != 3 {
		t.Fatalf("member desired %d, want 3", got)
	}
	if n := len(o.memberECS.Mutations()); n != 1 {
		t.Fatalf("%d member mutations", n)
	}

	if n := len(o.homeECS.Calls("")); n != 0 {
		t.Fatalf("the central account's ECS got %d calls about the member's service", n)
	}
	if n := len(o.homeLogs.Calls("")); n != 0 {
		t.Fatalf("the central account's logs were read %d times", n)
	}
	if len(o.memberECS.Calls("DescribeServices")) == 0 || len(o.memberECS.Calls("ScalingDescribeScalableTargets")) != 1 {
		t.Fatalf("member calls: %v", o.memberECS.Calls(""))
	}
	o.assertSignedBy(t, o.memberECS, memberAccount)
	for _, c := range o.memberECS.Calls("") {
		if !strings.HasPrefix(c.AccessKey, "ASIA") {
			t.Fatalf("%s signed with %s, not assumed credentials", c.Operation, c.AccessKey)
		}
	}
	if n := len(o.sts.Calls("AssumeRole")); n != 1 {
		t.Fatalf("%d AssumeRole calls, want 1 (cached)", n)
	}
	if len(o.sts.Unrouted()) != 0 {
		t.Fatalf("requests signed by unknown keys: %v", o.sts.Unrouted())
	}
}

// An account whose role is missing or cannot be assumed: the incident says why and is P3 for now;
// nothing of that account is read with the central account's credentials. Once the role works,
// the reconciler reads the state and raises the incident, which then pages.
func TestAccountWithoutAccessIsNeverReadWithCentralCredentials(t *testing.T) {
	t.Run("no role configured", func(t *testing.T) {
		o := newOrg(t, nil)
		res := o.handle(t, member(eventgen.OOM("prod", "api", 1)))
		inc, _ := o.store.Get(context.Background(), res.Incident)
		if res.Severity != "P3" || inc == nil || !strings.Contains(inc.StateError, "MEDIC_MEMBER_ROLE_ARN") {
			t.Fatalf("%+v %+v", res, inc)
		}
		if n := len(o.homeECS.Calls("")) + len(o.memberECS.Calls("")) + len(o.homeLogs.Calls("")) + len(o.memberLogs.Calls("")); n != 0 {
			t.Fatalf("%d calls to ECS or Logs", n)
		}
		if n := len(o.sts.Calls("AssumeRole")); n != 0 {
			t.Fatalf("%d AssumeRole calls with no role configured", n)
		}
	})
	t.Run("role denied, then granted", func(t *testing.T) {
		o := newOrg(t, map[string]string{"MEDIC_MEMBER_ROLE_ARN": memberRole})
		res := o.handle(t, member(eventgen.OOM("prod", "api", 1)))
		inc, _ := o.store.Get(context.Background(), res.Incident)
		if res.Severity != "P3" || inc == nil || !strings.Contains(inc.StateError, "AccessDenied") {
			t.Fatalf("%+v %+v", res, inc)
		}
		o.handle(t, member(eventgen.OOM("prod", "api", 2)))
		if n := len(o.homeECS.Calls("")) + len(o.homeLogs.Calls("")) + len(o.memberECS.Calls("")); n != 0 {
			t.Fatalf("%d ECS or Logs calls for a service whose role was denied", n)
		}
		if n := len(o.pd.Events("trigger")); n != 0 {
			t.Fatalf("%d pages for a P3", n)
		}
		rec := o.app.Reconciler()
		rec.Quiet, rec.Lister = time.Hour, nil
		o.sts.AllowRole("arn:aws:iam::" + memberAccount + ":role/ecs-medic-member")
		o.advance(time.Minute) // the reconciler's next pass
		rep, err := rec.Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		inc, _ = o.store.Get(context.Background(), res.Incident)
		if rep.Raised != 1 || inc.Severity.String() != "P1" || inc.ServiceState == nil {
			t.Fatalf("%+v %s %+v", rep, inc.Severity, inc.ServiceState)
		}
		if n := len(o.pd.Events("trigger")); n != 1 {
			t.Fatalf("%d pages after the raise, want 1", n)
		}
		if n := len(o.homeECS.Calls("")); n != 0 {
			t.Fatalf("%d central ECS calls", n)
		}
		o.assertSignedBy(t, o.memberECS, memberAccount)
	})
}

// MEDIC_ACCOUNTS refuses other accounts' events: said in the result, counted, nothing read.
func TestEventsOfAccountsNotAllowedAreRefused(t *testing.T) {
	o := newOrg(t, map[string]string{"MEDIC_MEMBER_ROLE_ARN": memberRole, "MEDIC_ACCOUNTS": homeAccount + "," + memberAccount})
	res := o.handle(t, eventgen.InAccount(eventgen.OOM("prod", "api", 1), otherAccount))
	if res.Outcome != pipeline.OutcomeRefused || !strings.Contains(res.Error, "MEDIC_ACCOUNTS") || res.Incident != "" {
		t.Fatalf("%+v", res)
	}
	rec := httptest.NewRecorder()
	o.app.Metrics().Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if !strings.Contains(rec.Body.String(), `medic_events_refused_total{reason="account-not-allowed"} 1`) {
		t.Fatal("the refusal is not counted in /metrics")
	}
	incs, _ := o.store.List(context.Background(), incident.Filter{})
	if len(incs) != 0 || len(o.sts.Calls("")) != 0 || len(o.homeECS.Calls("")) != 0 {
		t.Fatalf("%d incidents, %d STS calls", len(incs), len(o.sts.Calls("")))
	}
	if res := o.handle(t, member(eventgen.OOM("prod", "api", 2))); res.Outcome != pipeline.OutcomeOpened {
		t.Fatalf("an allowed account: %+v", res)
	}
}
