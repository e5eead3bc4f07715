package chatops_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"go.uber.org/zap"

	"github.com/ecs-medic/ecs-medic/internal/accounts"
	"github.com/ecs-medic/ecs-medic/internal/classify"
	"github.com/ecs-medic/ecs-medic/internal/incident/incidenttest"
	"github.com/ecs-medic/ecs-medic/internal/remediate"
	"github.com/ecs-medic/ecs-medic/internal/remediate/autoscaling"
	"github.com/ecs-medic/ecs-medic/internal/runbook"
	"github.com/ecs-medic/ecs-medic/internal/severity"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakeecs"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakes"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakests"
	"github.com/ecs-medic/ecs-medic/runbooks"
)

// Two accounts run prod/checkout, each with an incident: a command naming only cluster/service
// lists both and asks for the account; `account/cluster/service` reads and changes that
// account's service, with that account's credentials.
func TestCommandsNameTheAccount(t *testing.T) {
	const member = "222233334444"
	g := newRig(t)
	st := fakests.New(map[string]string{"AKIDHOME": "111122223333"})
	st.AllowRole("arn:aws:iam::" + member + ":role/ecs-medic-member")
	mECS := fakeecs.New(fakeecs.Service{Cluster: "prod", Name: "checkout", Desired: 3, Running: 0, TaskDefinition: "checkout:7"})
	mECS.SetAccount(member)
	front := st.Route(map[string]http.Handler{"111122223333": g.ecs.Config.Handler, member: mECS.Config.Handler})
	for _, c := range []interface{ Close() }{st, mECS, front} {
		t.Cleanup(c.Close)
	}
	cfg := fakes.AWSConfigAs("AKIDHOME", front.URL)
	stsCfg := cfg.Copy()
	stsCfg.BaseEndpoint = aws.String(st.URL)
	prov := accounts.New(cfg, accounts.WithSTS(sts.NewFromConfig(stsCfg)), accounts.WithMemberRole("arn:aws:iam::{account}:role/ecs-medic-member"))
	g.h.Clients = prov
	set, _ := runbook.Load(runbooks.FS)
	g.h.Fix = (&remediate.Remediator{Clients: prov, ScalingFor: autoscaling.ForAccount, Manager: g.m, Guards: g.store, Runbooks: set, Cap: runbook.Suggest, Log: zap.NewNop()}).Handle

	g.open(t, classify.OOMKilled) // the home account's prod/checkout
	sig := incidenttest.Failure(classify.OOMKilled, 2, severity.P1)
	sig.Scope.Account = member
	if _, err := g.m.Apply(context.Background(), sig); err != nil {
		t.Fatal(err)
	}

	for _, text := range []string{"status prod/checkout", "scale prod/checkout 5"} {
		_, answer := g.command(t, "U0ALICE", text)
		if !strings.Contains(answer, "more than one account") || !strings.Contains(answer, "`111122223333/prod/checkout`") ||
			!strings.Contains(answer, "`"+member+"/prod/checkout`") {
			t.Fatalf("%s: %s", text, answer)
		}
	}
	if _, answer := g.command(t, "U0BOB", "status 2222/prod/checkout"); !strings.Contains(answer, "12-digit account") {
		t.Fatalf("bad account: %s", answer)
	}

	g.command(t, "U0BOB", "status "+member+"/prod/checkout")
	if got := g.deferred(t); !strings.Contains(got, "3 desired, 0 running") {
		t.Fatalf("member status: %s", got)
	}
	g.command(t, "U0ALICE", "scale "+member+"/prod/checkout 5")
	if got := g.deferred(t); !strings.Contains(got, "Done") {
		t.Fatalf("member scale: %s", got)
	}
	if d := mECS.Service("prod", "checkout").Desired; d != 5 {
		t.Fatalf("member desired %d", d)
	}
	if d := g.ecs.Service("prod", "checkout").Desired; d != 4 || len(g.ecs.Mutations()) != 0 {
		t.Fatalf("the home account's namesake changed: desired %d, %v", d, g.ecs.Mutations())
	}
	for _, c := range mECS.Calls("") {
		if st.AccountOf(c.AccessKey) != member {
			t.Fatalf("%s signed by %s", c.Operation, c.AccessKey)
		}
	}
	// A service only one account has an incident on needs no account.
	g.command(t, "U0BOB", "status prod/payments")
	if got := g.deferred(t); !strings.Contains(got, "*prod/payments* — 2 desired, 2 running") {
		t.Fatalf("home status: %s", got)
	}
}
