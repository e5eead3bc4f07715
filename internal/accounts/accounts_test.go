package accounts_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/ecs-medic/ecs-medic/internal/accounts"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakeecs"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakes"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakests"
)

const (
	home   = "111122223333"
	member = "222233334444"
	denied = "333344445555"
	role   = "arn:aws:iam::{account}:role/ecs-medic-member"
)

type world struct {
	sts           *fakests.Server
	homeECS, mECS *fakeecs.Server
	cfg           aws.Config
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{sts: fakests.New(map[string]string{"AKIDHOME": home})}
	t.Cleanup(w.sts.Close)
	w.sts.AllowRole("arn:aws:iam::" + member + ":role/ecs-medic-member")
	w.homeECS = fakeecs.New(fakeecs.Service{Cluster: "prod", Name: "api", Desired: 2, Running: 2})
	w.mECS = fakeecs.New(fakeecs.Service{Cluster: "prod", Name: "api", Desired: 2, Running: 0})
	w.mECS.SetAccount(member)
	t.Cleanup(w.homeECS.Close)
	t.Cleanup(w.mECS.Close)
	front := w.sts.Route(map[string]http.Handler{home: w.homeECS.Config.Handler, member: w.mECS.Config.Handler})
	t.Cleanup(front.Close)
	w.cfg = fakes.AWSConfigAs("AKIDHOME", front.URL)
	return w
}

func (w *world) provider(t *testing.T, opts ...accounts.Option) *accounts.Provider {
	t.Helper()
	// STS has its own endpoint, as AWS_ENDPOINT_URL_STS gives it.
	stsCfg := w.cfg.Copy()
	stsCfg.BaseEndpoint = aws.String(w.sts.URL)
	return accounts.New(w.cfg, append([]accounts.Option{accounts.WithSTS(stsClient(stsCfg))}, opts...)...)
}

func describe(t *testing.T, c *accounts.Clients) *ecs.DescribeServicesOutput {
	t.Helper()
	out, err := c.ECS.DescribeServices(context.Background(), &ecs.DescribeServicesInput{Cluster: aws.String("prod"), Services: []string{"api"}})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestEachAccountWithItsOwnCredentials(t *testing.T) {
	w := newWorld(t)
	p := w.provider(t, accounts.WithMemberRole(role))
	ctx := context.Background()
	hc, err := p.For(ctx, home, "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	mc, err := p.For(ctx, member, "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	if got := describe(t, hc).Services[0].RunningCount; got != 2 {
		t.Fatalf("home read %d running", got)
	}
	if got := describe(t, mc).Services[0].RunningCount; got != 0 {
		t.Fatalf("member read %d running", got)
	}
	// Again: the credentials are cached, the role assumed once.
	for range 5 {
		mc, _ := p.For(ctx, member, "us-east-1")
		describe(t, mc)
	}
	if n := len(w.sts.Calls("AssumeRole")); n != 1 {
		t.Fatalf("%d AssumeRole calls, want 1", n)
	}
	if n := len(w.sts.Calls("GetCallerIdentity")); n != 1 {
		t.Fatalf("%d GetCallerIdentity calls, want 1 (asked once)", n)
	}
	if c := w.sts.Calls("AssumeRole")[0]; c.RoleArn != "arn:aws:iam::"+member+":role/ecs-medic-member" || c.AccessKey != "AKIDHOME" {
		t.Fatalf("assumed %+v", c)
	}
	for _, c := range w.mECS.Calls("") {
		if w.sts.AccountOf(c.AccessKey) != member || !strings.HasPrefix(c.AccessKey, "ASIA") {
			t.Fatalf("member call signed by %s", c.AccessKey)
		}
	}
	for _, c := range w.homeECS.Calls("") {
		if c.AccessKey != "AKIDHOME" {
			t.Fatalf("home call signed by %s", c.AccessKey)
		}
	}
}

func TestNoRoleOrDeniedNeverFallsBackToHome(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	for name, p := range map[string]*accounts.Provider{
		"no role configured": w.provider(t, accounts.WithHome(home)),
		"role denied":        w.provider(t, accounts.WithHome(home), accounts.WithMemberRole(role)),
	} {
		acct := member
		if name == "role denied" {
			acct = denied
		}
		_, err := p.For(ctx, acct, "us-east-1")
		var ae *accounts.AccessError
		if !errors.As(err, &ae) || ae.Account != acct {
			t.Fatalf("%s: %v", name, err)
		}
		if name == "no role configured" && !errors.Is(err, accounts.ErrNoRole) {
			t.Fatalf("%s: %v", name, err)
		}
		if name == "role denied" && !strings.Contains(err.Error(), "AccessDenied") {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if n := len(w.homeECS.Calls("")) + len(w.mECS.Calls("")); n != 0 {
		t.Fatalf("%d ECS calls", n)
	}
}

func TestDeniedRoleIsRetriedAfterAWhileNotPerEvent(t *testing.T) {
	w := newWorld(t)
	var mu sync.Mutex
	now := time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	p := w.provider(t, accounts.WithHome(home), accounts.WithMemberRole(role), accounts.WithClock(clock))
	ctx := context.Background()
	for range 10 {
		if _, err := p.For(ctx, denied, "us-east-1"); err == nil {
			t.Fatal("denied role gave clients")
		}
	}
	if n := len(w.sts.Calls("AssumeRole")); n != 1 {
		t.Fatalf("%d AssumeRole calls for 10 events, want 1", n)
	}
	// The role is granted; a minute later (the reconciler's next pass) it works.
	w.sts.AllowRole("arn:aws:iam::" + denied + ":role/ecs-medic-member")
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	if _, err := p.For(ctx, denied, "us-east-1"); err != nil {
		t.Fatal(err)
	}
}

func TestCredentialsReassumedWhenTheyExpire(t *testing.T) {
	w := newWorld(t)
	// The first credentials expire within the renewal window: as good as expired.
	w.sts.ExpireAt(time.Now().Add(accounts.ExpiryWindow / 2))
	p := w.provider(t, accounts.WithHome(home), accounts.WithMemberRole(role))
	ctx := context.Background()
	for range 3 {
		c, err := p.For(ctx, member, "us-east-1")
		if err != nil {
			t.Fatal(err)
		}
		describe(t, c)
	}
	keys := map[string]bool{}
	for _, c := range w.mECS.Calls("DescribeServices") {
		keys[c.AccessKey] = true
	}
	// First set: assumed, found near expiry, assumed again before the first call; then cached.
	if n := len(w.sts.Calls("AssumeRole")); n != 2 || len(keys) != 1 {
		t.Fatalf("%d AssumeRole calls, ECS signed with %v", n, keys)
	}
}

func TestClientSetsAreBounded(t *testing.T) {
	w := newWorld(t)
	p := w.provider(t, accounts.WithHome(home), accounts.WithMemberRole(role), accounts.WithCapacity(2))
	ctx := context.Background()
	for _, r := range []string{"us-east-1", "eu-west-1", "us-east-1", "ap-south-1", "us-east-1"} {
		if _, err := p.For(ctx, member, r); err != nil {
			t.Fatal(err)
		}
	}
	// us-east-1 stayed (recently used), eu-west-1 and ap-south-1 each assumed once.
	if n := len(w.sts.Calls("AssumeRole")); n != 3 {
		t.Fatalf("%d AssumeRole calls, want 3", n)
	}
}

func TestNotAnAccountIDIsRefusedBeforeSTS(t *testing.T) {
	w := newWorld(t)
	p := w.provider(t, accounts.WithHome(home), accounts.WithMemberRole(role))
	for _, bad := range []string{"12345", "2222333344445", "arn:aws:iam::1:role/x", "22223333444a"} {
		if _, err := p.For(context.Background(), bad, "us-east-1"); err == nil || !strings.Contains(err.Error(), "not an AWS account id") {
			t.Fatalf("%q: %v", bad, err)
		}
	}
	if n := len(w.sts.Calls("")); n != 0 {
		t.Fatalf("%d STS calls", n)
	}
}

func TestAllowed(t *testing.T) {
	if !(accounts.Allowed(nil)).Permits("1") || (accounts.Allowed{"2"}).Permits("1") || !(accounts.Allowed{"1", "2"}).Permits("2") {
		t.Fatal("allow-list")
	}
}

func stsClient(cfg aws.Config) *sts.Client { return sts.NewFromConfig(cfg) }
