package servicestate_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ecs"

	"github.com/ecs-medic/ecs-medic/internal/servicestate"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakeecs"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakes"
)

func client(t *testing.T, url string, attempts int) *ecs.Client {
	t.Helper()
	cfg := fakes.AWSConfig(url)
	cfg.RetryMaxAttempts = attempts
	return ecs.NewFromConfig(cfg)
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func TestGetReadsAndCaches(t *testing.T) {
	fake := fakeecs.New(fakeecs.Service{Cluster: "prod", Name: "checkout", Desired: 4, Running: 1, Pending: 2,
		TaskDefinition: "arn:aws:ecs:us-east-1:111122223333:task-definition/checkout:7",
		Deployments:    []fakeecs.Deployment{{ID: "ecs-svc/1", Status: "PRIMARY", TaskDefinition: "checkout:7", RolloutState: "IN_PROGRESS", Desired: 4, Running: 1, Failed: 3, CreatedAt: time.Unix(1700000000, 0)}}})
	defer fake.Close()
	clk := &clock{t: time.Unix(1700000100, 0)}
	src := servicestate.New(client(t, fake.URL, 1), servicestate.WithClock(clk.now), servicestate.WithTTL(5*time.Second))
	ref := servicestate.Ref{Region: "us-east-1", Cluster: "prod", Service: "checkout"}

	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			snap, err := src.Get(context.Background(), ref)
			if err != nil {
				t.Error(err)
				return
			}
			if snap.Desired != 4 || snap.Running != 1 || snap.Pending != 2 {
				t.Errorf("counts %+v", snap)
			}
			if len(snap.Deployments) != 1 || snap.Deployments[0].Failed != 3 || snap.Deployments[0].RolloutState != "IN_PROGRESS" {
				t.Errorf("deployments %+v", snap.Deployments)
			}
		}()
	}
	wg.Wait()
	if n := len(fake.Calls("DescribeServices")); n != 1 {
		t.Fatalf("50 concurrent reads made %d DescribeServices calls, want 1", n)
	}
	call := fake.Calls("DescribeServices")[0]
	if call.Body["cluster"] != "prod" || call.Body["services"].([]any)[0] != "checkout" {
		t.Errorf("request body %v", call.Body)
	}

	clk.advance(6 * time.Second)
	fake.SetCounts("prod", "checkout", 4, 4)
	snap, err := src.Get(context.Background(), ref)
	if err != nil || snap.Running != 4 {
		t.Fatalf("after TTL: %+v %v", snap, err)
	}
	if n := src.Calls(); n != 2 {
		t.Fatalf("calls %d, want 2", n)
	}
}

func TestMissingServiceAndThrottling(t *testing.T) {
	fake := fakeecs.New()
	defer fake.Close()
	clk := &clock{t: time.Unix(1700000000, 0)}
	src := servicestate.New(client(t, fake.URL, 1), servicestate.WithClock(clk.now))
	_, err := src.Get(context.Background(), servicestate.Ref{Cluster: "prod", Service: "gone"})
	if !errors.Is(err, servicestate.ErrNotFound) {
		t.Fatalf("err %v, want ErrNotFound", err)
	}

	fake.FailNext(100, fakeecs.Throttled)
	ref := servicestate.Ref{Cluster: "prod", Service: "busy"}
	_, err = src.Get(context.Background(), ref)
	if err == nil {
		t.Fatal("throttled read succeeded")
	}
	// The failure is cached: a storm does not hammer a throttling ECS.
	before := len(fake.Calls(""))
	for range 20 {
		if _, err := src.Get(context.Background(), ref); err == nil {
			t.Fatal("cached failure turned into success")
		}
	}
	if after := len(fake.Calls("")); after != before {
		t.Fatalf("%d more calls during the failure TTL", after-before)
	}
}
