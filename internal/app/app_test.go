package app_test

import (
	"context"
	"io"
	"path/filepath"
	"testing"

	"go.uber.org/zap"

	"github.com/ecs-medic/ecs-medic/internal/app"
	"github.com/ecs-medic/ecs-medic/internal/boltstore"
	"github.com/ecs-medic/ecs-medic/internal/config"
	"github.com/ecs-medic/ecs-medic/internal/servicestate"
	"github.com/ecs-medic/ecs-medic/internal/testing/eventgen"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakeecs"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakests"
)

// The ECS endpoint is found the SDK's standard way, through AWS_ENDPOINT_URL_ECS.
func TestECSEndpointFromEnvironment(t *testing.T) {
	fake := fakeecs.New(fakeecs.Service{Cluster: "prod", Name: "checkout", Desired: 2, Running: 0})
	defer fake.Close()
	t.Setenv("AWS_ENDPOINT_URL_ECS", fake.URL)
	// The home account is asked of STS, once, at the first event.
	sts := fakests.New(map[string]string{"AKIDEXAMPLE": eventgen.Account})
	defer sts.Close()
	t.Setenv("AWS_ENDPOINT_URL_STS", sts.URL)
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))

	store, err := boltstore.Open(filepath.Join(t.TempDir(), "medic.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	cfg, _ := config.Load(func(string) string { return "" })
	a, err := app.New(context.Background(), cfg, zap.NewNop(), app.Options{Store: store, Console: io.Discard, ProbeCredentials: true})
	if err != nil {
		t.Fatal(err)
	}
	res, err := a.Pipeline().HandleRaw(context.Background(), eventgen.OOM("prod", "checkout", 1))
	if err != nil {
		t.Fatal(err)
	}
	if res.Severity != "P1" || len(fake.Calls("DescribeServices")) != 1 {
		t.Fatalf("severity %s after %d DescribeServices calls", res.Severity, len(fake.Calls("DescribeServices")))
	}
	if n := len(sts.Calls("GetCallerIdentity")); n != 1 {
		t.Fatalf("%d GetCallerIdentity calls", n)
	}
}

func TestNoRegionMeansStateUnavailable(t *testing.T) {
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	store, err := boltstore.Open(filepath.Join(t.TempDir(), "medic.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	cfg, _ := config.Load(func(string) string { return "" })
	a, err := app.New(context.Background(), cfg, zap.NewNop(), app.Options{Store: store, Console: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := a.States().(servicestate.Unavailable); !ok {
		t.Fatalf("an ECS source without a region: %T", a.States())
	}
	res, err := a.Pipeline().HandleRaw(context.Background(), eventgen.OOM("prod", "checkout", 1))
	if err != nil || res.Severity != "P3" || res.Outcome != "opened" {
		t.Fatalf("%+v %v", res, err)
	}
}
