// Package scenario is the proof harness: it runs `medic serve`'s stack on loopback against fakes
// that speak the real protocols (ECS, PagerDuty, Slack, CloudWatch Logs) and drives it with event
// storms and faults — a crash-loop storm, a flapping service, a bad deploy in a storm, PagerDuty
// and Slack outages, ECS throttling, a remediation killed midway, hostile input — then counts what
// reached each fake. `make test` runs every scenario in a short form with its counts asserted;
// `make bench` runs them in full and writes the figures into docs/benchmarks.md.
package scenario

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"go.uber.org/zap"

	"github.com/ecs-medic/ecs-medic/internal/app"
	"github.com/ecs-medic/ecs-medic/internal/awslambda"
	"github.com/ecs-medic/ecs-medic/internal/boltstore"
	"github.com/ecs-medic/ecs-medic/internal/config"
	"github.com/ecs-medic/ecs-medic/internal/dynamostore"
	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/reconcile"
	"github.com/ecs-medic/ecs-medic/internal/remediate/autoscaling"
	"github.com/ecs-medic/ecs-medic/internal/runbook"
	"github.com/ecs-medic/ecs-medic/internal/tasklogs/awslogs"
	"github.com/ecs-medic/ecs-medic/internal/testing/dynalite"
	"github.com/ecs-medic/ecs-medic/internal/testing/eventgen"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakeecs"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakelogs"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakepagerduty"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakes"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakeslack"
)

const (
	routingKey    = "scenario-routing-key-0123456789a"
	botToken      = "xoxb-scenario-token"
	signingSecret = "scenario-signing-secret"
)

// Env is one running stack and its fakes.
type Env struct {
	ECS   *fakeecs.Server
	PD    *fakepagerduty.Server
	Slack *fakeslack.Server
	Logs  *fakelogs.Server
	App   *app.App
	Store incident.Store
	URL   string
	// Writes counts the store's write transactions.
	Writes func() int64
	// Dynamo is the DynamoDB store when the env keeps incidents there (its request statistics).
	Dynamo *dynamostore.Store
	// Bolt is the embedded store otherwise (its log records and commits, its fold).
	Bolt *boltstore.Store
	Rec  *reconcile.Reconciler

	dir        string
	closeStore func() error
}

// Options shape an Env.
type Options struct {
	Services []fakeecs.Service
	AutoFix  runbook.Mode
	// Auto lists runbooks switched to mode auto.
	Auto []string
	// Dynamo, when set, is a DynamoDB endpoint (dynalite) to keep incidents in instead of bbolt,
	// as the Lambda functions do.
	Dynamo string
	// Bare leaves PagerDuty and Slack unconfigured (the fakes still start, unused): the stack
	// cmd/medic-load measures is decode, classify, state and store only.
	Bare bool
}

// NewEnv starts a stack.
func NewEnv(ctx context.Context, o Options) (*Env, error) {
	e := &Env{ECS: fakeecs.New(o.Services...), PD: fakepagerduty.New(routingKey), Slack: fakeslack.New(botToken), Logs: fakelogs.New()}
	for _, s := range o.Services {
		e.ECS.PutTaskDefinition(s.Name+":1", []byte(`{"family":"`+s.Name+`","revision":1,"requiresCompatibilities":["FARGATE"],"cpu":"256","memory":"512",
			"containerDefinitions":[{"name":"app","image":"`+s.Name+`:v1","essential":true,"logConfiguration":{"logDriver":"awslogs","options":{"awslogs-group":"/ecs/`+s.Name+`","awslogs-stream-prefix":"ecs"}}}]}`))
	}
	dir, err := os.MkdirTemp("", "medic-scenario-")
	if err != nil {
		return nil, err
	}
	e.dir = dir
	if o.Dynamo != "" {
		table, err := dynalite.NewTable(o.Dynamo, func(ctx context.Context, c *dynamodb.Client, name string) error {
			return dynamostore.CreateTable(ctx, c, name)
		})
		if err != nil {
			return nil, err
		}
		ds := dynamostore.New(dynalite.Client(o.Dynamo, 5), table)
		e.Store, e.Writes, e.Dynamo = ds, ds.Writes, ds
	} else {
		bs, err := boltstore.Open(filepath.Join(dir, "medic.db"))
		if err != nil {
			return nil, err
		}
		e.Store, e.Writes, e.closeStore, e.Bolt = bs, bs.Writes, bs.Close, bs
	}
	cfg, _ := config.Load(func(k string) string {
		if o.Bare && k != "MEDIC_HOME_ACCOUNT" {
			return ""
		}
		return map[string]string{
			"MEDIC_PAGERDUTY_ROUTING_KEY": routingKey, "MEDIC_PAGERDUTY_EVENTS_URL": e.PD.URL,
			"MEDIC_SLACK_BOT_TOKEN": botToken, "MEDIC_SLACK_CHANNEL": "#incidents", "MEDIC_SLACK_API_URL": e.Slack.APIURL(),
			"MEDIC_SLACK_SIGNING_SECRET": signingSecret, "MEDIC_AUTOFIX": string(o.AutoFix),
			"MEDIC_HOME_ACCOUNT": eventgen.Account, // the fake ECS behind BaseEndpoint speaks no STS
		}[k]
	})
	awsCfg := fakes.AWSConfig(e.ECS.URL)
	awsCfg.RetryMaxAttempts = 2
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	// Fixes run inside the event's handling, so a scenario's outcome is there when it answers.
	a, err := app.New(ctx, cfg, zap.NewNop(), app.Options{Store: e.Store, AWS: &awsCfg, Console: io.Discard, Logs: awslogs.ForAccounts, Scaling: autoscaling.ForAccount,
		Remedies: app.RemediesInline, Listener: ln})
	if err != nil {
		ln.Close()
		return nil, err
	}
	for _, id := range o.Auto {
		if rb := a.Runbooks().ByID(id); rb != nil {
			rb.Fix.Mode = "auto"
		}
	}
	e.App = a
	e.Rec = a.Reconciler()
	e.Rec.Quiet, e.Rec.Lister = 0, nil // recovery at once; no lost-event sweep in a scenario
	e.URL = "http://" + ln.Addr().String()
	if err := a.Start(ctx); err != nil {
		return nil, err
	}
	return e, nil
}

// Close stops everything.
func (e *Env) Close() {
	// Stop answers the requests under way, waits for Slack's background jobs and delivers what
	// Slack's queue holds, then the store can close.
	e.closeWithin(context.Background())
}

// closeWithin is Close with Stop bounded by ctx: messages still queued when it ends stay pending.
func (e *Env) closeWithin(ctx context.Context) {
	_ = e.App.Stop(ctx)
	if e.closeStore != nil {
		_ = e.closeStore()
	}
	e.ECS.Close()
	e.PD.Close()
	e.Slack.Close()
	e.Logs.Close()
	_ = os.RemoveAll(e.dir)
}

// Sent is what a send measured.
type Sent struct {
	Requests  int
	Rejected  int // 4xx answers (hostile input)
	Elapsed   time.Duration
	Latencies []time.Duration
	First     time.Time
}

// Send posts bodies to POST /events from `clients` concurrent senders.
func (e *Env) Send(ctx context.Context, bodies [][]byte, clients int) (Sent, error) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}, Timeout: 30 * time.Second}
	var mu sync.Mutex
	rejected := 0
	s, err := drive(ctx, len(bodies), clients, func(i int) error {
		resp, err := client.Post(e.URL+"/events", "application/json", bytes.NewReader(bodies[i]))
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		switch {
		case resp.StatusCode >= 400 && resp.StatusCode < 500:
			mu.Lock()
			rejected++
			mu.Unlock()
		case resp.StatusCode != http.StatusOK:
			return fmt.Errorf("event %d: HTTP %d", i, resp.StatusCode)
		}
		return nil
	})
	s.Rejected = rejected
	return s, err
}

// Invoke calls the ecs-events Lambda handler (awslambda.Events) directly, from `clients`
// concurrent callers, as concurrent Lambda invocations of the function would.
func (e *Env) Invoke(ctx context.Context, bodies [][]byte, clients int) (Sent, error) {
	h := awslambda.Events(e.App.Pipeline(), zap.NewNop())
	return drive(ctx, len(bodies), clients, func(i int) error {
		_, err := h(ctx, bodies[i])
		return err
	})
}

// drive runs call(0..n-1) from `clients` workers and measures each call.
func drive(ctx context.Context, n, clients int, call func(i int) error) (Sent, error) {
	return driveOn(ctx, n, clients, func(_, i int) error { return call(i) })
}

// driveOn is drive telling each call which worker (0..clients-1) makes it.
func driveOn(ctx context.Context, n, clients int, call func(w, i int) error) (Sent, error) {
	s := Sent{Requests: n, Latencies: make([]time.Duration, n)}
	work := make(chan int)
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	s.First = time.Now()
	for w := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				t0 := time.Now()
				if err := call(w, i); err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
				}
				s.Latencies[i] = time.Since(t0)
			}
		}()
	}
feed:
	for i := range n {
		select {
		case work <- i:
		case <-ctx.Done():
			mu.Lock()
			firstErr = ctx.Err()
			mu.Unlock()
			break feed
		}
	}
	close(work)
	wg.Wait()
	s.Elapsed = time.Since(s.First)
	slices.Sort(s.Latencies)
	return s, firstErr
}

// Percentile of the sorted latencies.
func (s Sent) Percentile(p float64) time.Duration {
	if len(s.Latencies) == 0 {
		return 0
	}
	return s.Latencies[int(float64(len(s.Latencies)-1)*p)]
}
