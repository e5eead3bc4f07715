package functions_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/remediate"
	"github.com/ecs-medic/ecs-medic/internal/runbook"
	"github.com/ecs-medic/ecs-medic/internal/testing/eventgen"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakeecs"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakelogs"
)

const (
	memberAccount = "222233334444"
	deniedAccount = "333344445555"
)

// The Lambda functions on an organization's central bus: a member account's events are handled
// with the member role the functions assume through STS (re-assumed when the credentials near
// expiry), its service paged P1 once and fixed in the member account only; an account whose role
// cannot be assumed is never read with the central credentials; MEDIC_ACCOUNTS refuses others.
func TestMemberAccountFunctions(t *testing.T) {
	w := newWorld(t, fakeecs.Service{Cluster: "prod", Name: "checkout", Desired: 4, Running: 4}) // the central account's namesake, healthy
	td := "arn:aws:ecs:us-east-1:" + memberAccount + ":task-definition/checkout:1"
	mECS := fakeecs.New(fakeecs.Service{Cluster: "prod", Name: "checkout", Desired: 4, Running: 0, TaskDefinition: td, MaxCapacity: 8,
		Deployments: []fakeecs.Deployment{{ID: "ecs-svc/1", Status: "PRIMARY", TaskDefinition: td, RolloutState: "COMPLETED", Desired: 4}}})
	mECS.SetAccount(memberAccount)
	mECS.PutTaskDefinition("checkout:1", json.RawMessage(`{"family":"checkout","revision":1,"containerDefinitions":[{"name":"app",
		"logConfiguration":{"logDriver":"awslogs","options":{"awslogs-group":"/ecs/checkout","awslogs-stream-prefix":"ecs"}}}]}`))
	mLogs := fakelogs.New()
	mLogs.Put("/ecs/checkout", "ecs/app/"+eventgen.TaskID(1), "member account", "java.lang.OutOfMemoryError: Java heap space")
	ecsFront := w.sts.Route(map[string]http.Handler{eventgen.Account: w.ecs.Config.Handler, memberAccount: mECS.Config.Handler})
	logsFront := w.sts.Route(map[string]http.Handler{eventgen.Account: w.logs.Config.Handler, memberAccount: mLogs.Config.Handler})
	for _, c := range []interface{ Close() }{mECS, mLogs, ecsFront, logsFront} {
		t.Cleanup(c.Close)
	}
	w.sts.AllowRole("arn:aws:iam::" + memberAccount + ":role/ecs-medic-member")
	// The first member credentials arrive close to their expiry: they are renewed before use.
	w.sts.ExpireAt(time.Now().Add(time.Minute))
	w.env["AWS_ENDPOINT_URL_ECS"], w.env["AWS_ENDPOINT_URL_CLOUDWATCH_LOGS"] = ecsFront.URL, logsFront.URL
	w.env["AWS_ENDPOINT_URL_APPLICATION_AUTO_SCALING"] = ecsFront.URL
	w.env["MEDIC_MEMBER_ROLE_ARN"] = "arn:aws:iam::{account}:role/ecs-medic-member"
	w.env["MEDIC_ACCOUNTS"] = strings.Join([]string{eventgen.Account, memberAccount, deniedAccount}, ",")

	events := startFn(t, build(t, "github.com/ecs-medic/ecs-medic/functions/ecs-events", "lambda.norpc"), w.env)
	var first result
	events.invoke(t, eventgen.InAccount(eventgen.OOM("prod", "checkout", 1), memberAccount), &first)
	if first.Outcome != "opened" || first.Severity != "P1" {
		t.Fatalf("member: %+v\n%s", first, events.logs())
	}
	for i := 2; i <= 4; i++ {
		var r result
		events.invoke(t, eventgen.InAccount(eventgen.OOM("prod", "checkout", i), memberAccount), &r)
		if r.Outcome != "occurrence" || r.Incident != first.Incident {
			t.Fatalf("member event %d: %+v", i, r)
		}
	}
	var denied result
	events.invoke(t, eventgen.InAccount(eventgen.OOM("prod", "checkout", 10), deniedAccount), &denied)
	if denied.Outcome != "opened" || denied.Severity != "P3" {
		t.Fatalf("denied account: %+v", denied)
	}
	var refused result
	events.invoke(t, eventgen.InAccount(eventgen.OOM("prod", "checkout", 11), "999988887777"), &refused)
	if refused.Outcome != "refused" || !strings.Contains(refused.Error, "MEDIC_ACCOUNTS") {
		t.Fatalf("refused: %+v", refused)
	}

	ctx := context.Background()
	inc, err := w.store.Get(ctx, first.Incident)
	if err != nil {
		t.Fatal(err)
	}
	if inc.Scope.Account != memberAccount || len(inc.LogLines) != 2 || inc.LogLines[0] != "member account" {
		t.Fatalf("member incident: %+v %q %s", inc.Scope, inc.LogLines, inc.LogError)
	}
	d, _ := w.store.Get(ctx, denied.Incident)
	if d == nil || !strings.Contains(d.StateError, "AccessDenied") {
		t.Fatalf("the denied account's incident does not say why: %+v", d)
	}

	// The alarm function: the member service's CPU alarm takes the service's scope (read in the
	// member account); a target-tracking alarm opens nothing.
	alarms := startFn(t, build(t, "github.com/ecs-medic/ecs-medic/functions/alarm-events", "lambda.norpc"), w.env)
	var cpu, tt result
	at := time.Now().UTC()
	alarms.invoke(t, eventgen.InAccount(eventgen.ServiceAlarm("cpu-1", "checkout-cpu-high", "AWS/ECS", "CPUUtilization", "prod", "checkout", "OK", "ALARM", "Threshold Crossed", at), memberAccount), &cpu)
	alarms.invoke(t, eventgen.InAccount(eventgen.ServiceAlarm("tt-1", "TargetTracking-service/prod/checkout-AlarmHigh-1a2b", "AWS/ECS", "CPUUtilization", "prod", "checkout", "OK", "ALARM", "Threshold Crossed", at), memberAccount), &tt)
	if cpu.Outcome != "opened" || cpu.Cause != "alarm" || tt.Outcome != "ignored" || tt.Incident != "" {
		t.Fatalf("alarms: %+v %+v\n%s", cpu, tt, alarms.logs())
	}
	if a, _ := w.store.Get(context.Background(), cpu.Incident); a == nil || a.Scope.Key() != memberAccount+"/us-east-1/prod/checkout" || a.Fix != "scale-out" || a.ServiceState == nil {
		t.Fatalf("the alarm's incident: %+v", a)
	}

	// A human's scale, in the remediation function: the member's service only.
	fix := startFn(t, build(t, "github.com/ecs-medic/ecs-medic/functions/remediate", "lambda.norpc"), w.env)
	var out remediate.Outcome
	payload, _ := json.Marshal(remediate.Request{Incident: first.Incident, By: "slack:U0ALICE", Action: runbook.ScaleOut, Desired: 6})
	fix.invoke(t, payload, &out)
	if !out.Done || mECS.Service("prod", "checkout").Desired != 6 {
		t.Fatalf("%+v\n%s", out, fix.logs())
	}

	if n := len(w.ecs.Calls("")); n != 0 {
		t.Fatalf("the central account's ECS got %d calls", n)
	}
	if n := len(w.logs.Calls("")); n != 0 {
		t.Fatalf("the central account's logs were read %d times", n)
	}
	signers := map[string]bool{}
	for _, c := range mECS.Calls("") {
		if w.sts.AccountOf(c.AccessKey) != memberAccount || !strings.HasPrefix(c.AccessKey, "ASIA") {
			t.Fatalf("%s in the member account signed by %s", c.Operation, c.AccessKey)
		}
		signers[c.AccessKey] = true
	}
	if len(mECS.Mutations()) != 1 || len(mECS.Calls("DescribeServices")) == 0 {
		t.Fatalf("member calls: %v", mECS.Calls(""))
	}
	// ecs-events: the near-expiry credentials, then fresh ones; alarm-events and remediate: their own.
	assumed := 0
	for _, c := range w.sts.Calls("AssumeRole") {
		if strings.Contains(c.RoleArn, memberAccount) {
			assumed++
		}
	}
	if assumed != 4 || len(signers) != 3 {
		t.Fatalf("%d AssumeRole calls for the member, ECS signed with %d keys", assumed, len(signers))
	}
	if u := w.sts.Unrouted(); len(u) != 0 {
		t.Fatalf("requests signed by keys no account owns: %v", u)
	}
	incs, _ := w.store.List(ctx, incident.Filter{})
	if len(incs) != 3 {
		t.Fatalf("%d incidents", len(incs))
	}
	// What the member role was used for, as IAM names the actions: the member module's policy
	// (read-only, plus the fixes behind allow_fixes) must grant these.
	member := map[string]bool{}
	for _, c := range mECS.Calls("") {
		op, scaling := strings.CutPrefix(c.Operation, "Scaling")
		if scaling {
			member["application-autoscaling:"+op] = true
		} else {
			member["ecs:"+c.Operation] = true
		}
	}
	for _, c := range mLogs.Calls("") {
		member["logs:"+c.Operation] = true
	}
	observedMu.Lock()
	observed["member-role"] = member
	observedMu.Unlock()
	t.Logf("member role used for %v", keys(member))
}
