// End-to-end tests of the Lambda functions on the real runtime protocol: each function is built
// as a bootstrap binary and run under the AWS Lambda runtime interface emulator (the Go module,
// pinned in go.mod as a tool), against dynalite and a fake ECS.
package functions_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/ecs-medic/ecs-medic/internal/classify"
	"github.com/ecs-medic/ecs-medic/internal/dynamostore"
	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/incident/incidenttest"
	"github.com/ecs-medic/ecs-medic/internal/severity"
	"github.com/ecs-medic/ecs-medic/internal/testing/dynalite"
	"github.com/ecs-medic/ecs-medic/internal/testing/eventgen"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakeecs"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakelogs"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakests"
)

var (
	db       *dynalite.Server
	buildDir string
	buildMu  sync.Mutex
	built    = map[string]string{}
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "medic-functions-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	buildDir = dir
	code := dynalite.Main(m, &db)
	os.RemoveAll(dir)
	os.Exit(code)
}

// build compiles a package (a function, the emulator, or a hello-world) with its build tags once
// per test run.
func build(t testing.TB, pkg string, tags ...string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	key := strings.Join(append([]string{pkg}, tags...), ",")
	if p, ok := built[key]; ok {
		return p
	}
	out := filepath.Join(buildDir, strings.NewReplacer("/", "_", ",", "+").Replace(key), "bootstrap")
	args := []string{"build", "-trimpath", "-ldflags", "-s -w", "-o", out}
	if len(tags) > 0 {
		args = append(args, "-tags", strings.Join(tags, ","))
	}
	cmd := exec.Command("go", append(args, pkg)...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	built[key] = out
	return out
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// fn is one function running under the emulator.
type fn struct {
	// the emulator crashes on a second invocation while one runs: one at a time
	invokeMu sync.Mutex
	url      string
	cmd      *exec.Cmd
	mu       sync.Mutex
	log      bytes.Buffer
	initMs   float64
	invMs    float64 // the first invocation's duration
	// changed is closed (and replaced) at each line of output: waiting for a line is waiting on
	// it, never polling. drained is closed once the emulator's output has ended.
	changed chan struct{}
	drained chan struct{}
}

var (
	initRE   = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)
	reportRE = regexp.MustCompile(`REPORT RequestId: \S+\t(?:Init Duration: [0-9.]+ ms\t)?Duration: ([0-9.]+) ms`)
)

func startFn(t testing.TB, bootstrap string, env map[string]string) *fn {
	t.Helper()
	rie := build(t, "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie")
	port := freePort(t)
	cmd := exec.Command(rie, "--runtime-interface-emulator-address", fmt.Sprintf("127.0.0.1:%d", port),
		"--runtime-api-address", fmt.Sprintf("127.0.0.1:%d", freePort(t)), bootstrap)
	cmd.Dir = filepath.Dir(bootstrap)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "LOG_LEVEL=info"}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	f := &fn{url: fmt.Sprintf("http://127.0.0.1:%d/2015-03-31/functions/function/invocations", port), cmd: cmd,
		changed: make(chan struct{}), drained: make(chan struct{})}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			f.mu.Lock()
			f.log.WriteString(sc.Text() + "\n")
			if m := initRE.FindStringSubmatch(sc.Text()); m != nil {
				f.initMs, _ = strconv.ParseFloat(m[1], 64)
			}
			if m := reportRE.FindStringSubmatch(sc.Text()); m != nil && f.invMs == 0 {
				f.invMs, _ = strconv.ParseFloat(m[1], 64)
			}
			close(f.changed)
			f.changed = make(chan struct{})
			f.mu.Unlock()
		}
		close(f.drained)
	}()
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		pw.Close()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	// The emulator says nothing when it listens (its "Listening on" line is logged only after
	// its server ends), so its port is probed: until it answers, or the emulator has exited.
	// No deadline: a slow start on a busy machine is only slow.
	for {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			return f
		}
		select {
		case <-exited:
			t.Fatalf("the emulator exited before it listened:\n%s", f.logs())
		case <-time.After(10 * time.Millisecond): // the probe's pace, not a deadline
		}
	}
}

// await waits until cond holds on the output so far, re-checking at each new line; false when the
// output has ended without it. cond runs under f.mu.
func (f *fn) await(cond func() bool) bool {
	for {
		f.mu.Lock()
		ok, changed := cond(), f.changed
		f.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-changed:
		case <-f.drained:
			f.mu.Lock()
			defer f.mu.Unlock()
			return cond()
		}
	}
}

// post sends one invocation, waiting for the emulator to be free.
func (f *fn) post(payload []byte) (*http.Response, error) {
	f.invokeMu.Lock()
	defer f.invokeMu.Unlock()
	return http.Post(f.url, "application/json", bytes.NewReader(payload))
}

func (f *fn) invoke(t testing.TB, payload []byte, out any) {
	t.Helper()
	resp, err := f.post(payload)
	if err != nil {
		t.Fatalf("%v\n%s", err, f.logs())
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("invoke: HTTP %d %s\n%s", resp.StatusCode, body, f.logs())
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			t.Fatalf("invoke answered %s: %v\n%s", body, err, f.logs())
		}
	}
}

// reports waits for the emulator's INIT REPORT and first REPORT lines, which trail the answer.
func (f *fn) reports(tb testing.TB) (initMs, invMs float64) {
	tb.Helper()
	if !f.await(func() bool { initMs, invMs = f.initMs, f.invMs; return initMs > 0 && invMs > 0 }) {
		tb.Fatalf("no INIT REPORT and REPORT from the emulator:\n%s", f.logs())
	}
	return initMs, invMs
}

func (f *fn) logs() string { f.mu.Lock(); defer f.mu.Unlock(); return f.log.String() }

// logged waits until the function has logged s. Its output reaches us through the emulator's
// pipe, which can trail the invocation's answer; it is false only once that output has ended, so
// it is for what must be logged, never to check that something is not.
func (f *fn) logged(s string) bool {
	return f.await(func() bool { return strings.Contains(f.log.String(), s) })
}

type world struct {
	table  string
	sts    *fakests.Server
	ecs    *fakeecs.Server
	logs   *fakelogs.Server
	env    map[string]string
	store  *dynamostore.Store
	dynamo *recorder
	lambda *fakeLambda
}

// recorder forwards to dynalite and notes each DynamoDB operation called (X-Amz-Target).
type recorder struct {
	*httptest.Server
	mu  sync.Mutex
	ops map[string]bool
}

func newRecorder(t *testing.T, target string) *recorder {
	t.Helper()
	u, _ := url.Parse(target)
	rp := httputil.NewSingleHostReverseProxy(u)
	r := &recorder{ops: map[string]bool{}}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if op, ok := strings.CutPrefix(req.Header.Get("X-Amz-Target"), "DynamoDB_20120810."); ok {
			r.mu.Lock()
			r.ops["dynamodb:"+op] = true
			r.mu.Unlock()
		}
		rp.ServeHTTP(w, req)
	}))
	t.Cleanup(r.Close)
	return r
}

// calls lists the AWS API actions the function made, as IAM names them.
func (w *world) calls() map[string]bool {
	out := map[string]bool{}
	w.dynamo.mu.Lock()
	for op := range w.dynamo.ops {
		out[op] = true
	}
	w.dynamo.mu.Unlock()
	for _, c := range w.ecs.Calls("") {
		out["ecs:"+c.Operation] = true
	}
	for _, c := range w.logs.Calls("") {
		out["logs:"+c.Operation] = true
	}
	if w.lambda != nil {
		w.lambda.mu.Lock()
		if w.lambda.calls > 0 {
			out["lambda:InvokeFunction"] = true
		}
		w.lambda.mu.Unlock()
	}
	return out
}

var (
	observedMu sync.Mutex
	observed   = map[string]map[string]bool{}
)

func observe(fn string, w *world) {
	observedMu.Lock()
	defer observedMu.Unlock()
	observed[fn] = w.calls()
}

func newWorld(t *testing.T, services ...fakeecs.Service) *world {
	t.Helper()
	table, err := dynalite.NewTable(db.URL, func(ctx context.Context, c *dynamodb.Client, name string) error {
		return dynamostore.CreateTable(ctx, c, name)
	})
	if err != nil {
		t.Fatal(err)
	}
	admin := dynalite.Client(db.URL, 3)
	fake := fakeecs.New(services...)
	t.Cleanup(fake.Close)
	// The task definition the generated events name, logging to CloudWatch Logs.
	for _, s := range services {
		fake.PutTaskDefinition(s.Name+":1", json.RawMessage(`{"family":"`+s.Name+`","revision":1,"containerDefinitions":[{"name":"app",
			"logConfiguration":{"logDriver":"awslogs","options":{"awslogs-group":"/ecs/`+s.Name+`","awslogs-stream-prefix":"ecs"}}}]}`))
	}
	logs := fakelogs.New()
	t.Cleanup(logs.Close)
	// STS tells the functions which account they run in (the home account). GetCallerIdentity
	// needs no IAM permission, so it is not among the calls the IAM cross-check compares.
	sts := fakests.New(map[string]string{"AKIDEXAMPLE": eventgen.Account})
	t.Cleanup(sts.Close)
	rec := newRecorder(t, db.URL)
	return &world{table: table, sts: sts, ecs: fake, logs: logs, store: dynamostore.New(admin, table), dynamo: rec, env: map[string]string{
		"MEDIC_TABLE": table, "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret",
		"AWS_ENDPOINT_URL_DYNAMODB": rec.URL, "AWS_ENDPOINT_URL_ECS": fake.URL, "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS": logs.URL,
		"AWS_ENDPOINT_URL_STS": sts.URL, "MEDIC_LOG_LEVEL": "info",
	}}
}

type result struct {
	ID, Cause, Sub, Severity, Incident, Outcome, Error string
}

func TestECSEventsFunction(t *testing.T) { observe("ecs-events", scenarioECSEvents(t)) }

func scenarioECSEvents(t *testing.T) *world {
	w := newWorld(t, fakeecs.Service{Cluster: "prod", Name: "checkout", Desired: 4, Running: 0})
	w.logs.Put("/ecs/checkout", "ecs/app/"+eventgen.TaskID(1), "starting", "java.lang.OutOfMemoryError: Java heap space")
	w.lambda = newFakeLambda(t) // the remediation function, asked to consider the OOM's fix
	w.env["AWS_ENDPOINT_URL_LAMBDA"], w.env["MEDIC_REMEDIATE_FUNCTION"] = w.lambda.URL, "ecs-medic-remediate"
	f := startFn(t, build(t, "github.com/ecs-medic/ecs-medic/functions/ecs-events", "lambda.norpc"), w.env)

	var first result
	f.invoke(t, eventgen.OOM("prod", "checkout", 1), &first)
	if first.Outcome != "opened" || first.Cause != "oom-killed" || first.Severity != "P1" {
		t.Fatalf("first: %+v\n%s", first, f.logs())
	}
	for i := 2; i <= 5; i++ {
		var r result
		f.invoke(t, eventgen.OOM("prod", "checkout", i), &r)
		if r.Outcome != "occurrence" || r.Incident != first.Incident {
			t.Fatalf("event %d: %+v", i, r)
		}
	}
	var dup result
	f.invoke(t, eventgen.OOM("prod", "checkout", 3), &dup)
	if dup.Outcome != "duplicate" {
		t.Fatalf("redelivery: %+v", dup)
	}
	sample, err := os.ReadFile("../testdata/events/ecs-service-action-task-start-impaired.json")
	if err != nil {
		t.Fatal(err)
	}
	var sa result
	f.invoke(t, sample, &sa)
	if sa.Cause != "start-impaired" {
		t.Fatalf("service action: %+v", sa)
	}
	var bad result
	f.invoke(t, []byte(`{"id":"broken-1","detail-type":"ECS Task State Change","detail":{"taskArn":5}}`), &bad)
	if bad.Outcome != "error" || bad.ID != "broken-1" || !f.logged("event rejected, not retried") {
		t.Fatalf("malformed: %+v\n%s", bad, f.logs())
	}

	incs, err := w.store.List(context.Background(), incident.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	byScope := map[string]*incident.Incident{}
	for _, inc := range incs {
		byScope[inc.Scope.Name()] = inc
	}
	inc := byScope["prod/checkout"]
	if len(incs) != 2 || inc == nil || inc.Occurrences.Count != 5 || inc.Suppressed["duplicate"] != 1 {
		t.Fatalf("table holds %d incidents: %+v", len(incs), inc)
	}
	if len(inc.LogLines) != 2 || inc.Facts.LogStream != "ecs/app/"+eventgen.TaskID(1) {
		t.Fatalf("log lines not kept: %v %q", inc.LogLines, inc.LogError)
	}
	w.lambda.mu.Lock()
	asked := w.lambda.calls
	w.lambda.mu.Unlock()
	if asked != 1 {
		t.Fatalf("the remediation function was asked %d times for one OOM incident, want 1", asked)
	}
	if n := len(w.ecs.Calls("DescribeServices")); n < 1 || n > 2 {
		t.Fatalf("%d DescribeServices calls", n)
	}
	return w
}

func TestAlarmEventsFunction(t *testing.T) { observe("alarm-events", scenarioAlarmEvents(t)) }

func scenarioAlarmEvents(t *testing.T) *world {
	w := newWorld(t, fakeecs.Service{Cluster: "prod", Name: "checkout", Desired: 4, Running: 4})
	f := startFn(t, build(t, "github.com/ecs-medic/ecs-medic/functions/alarm-events", "lambda.norpc"), w.env)
	sample, err := os.ReadFile("../testdata/events/cloudwatch-alarm-state-change-single-metric.json")
	if err != nil {
		t.Fatal(err)
	}
	var open result
	f.invoke(t, sample, &open)
	if open.Outcome != "opened" || open.Cause != "alarm" {
		t.Fatalf("%+v\n%s", open, f.logs())
	}
	// The same alarm back to OK.
	var ev map[string]any
	if err := json.Unmarshal(sample, &ev); err != nil {
		t.Fatal(err)
	}
	ev["id"] = "ok-1"
	detail := ev["detail"].(map[string]any)
	detail["previousState"], detail["state"] = detail["state"], map[string]any{"value": "OK", "reason": "Threshold no longer crossed"}
	okEvent, _ := json.Marshal(ev)
	var ok result
	f.invoke(t, okEvent, &ok)
	if ok.Outcome != "resolved" || ok.Incident != open.Incident {
		t.Fatalf("%+v", ok)
	}
	if len(w.ecs.Calls("")) != 0 {
		t.Fatal("the alarm function called ECS")
	}
	// An alarm on a service's own metric belongs to the service: its state is read (so the
	// function's role needs DescribeServices), and the incident has the service's scope.
	var svc result
	f.invoke(t, eventgen.ServiceAlarm("cpu-1", "checkout-cpu-high", "AWS/ECS", "CPUUtilization", "prod", "checkout", "OK", "ALARM",
		"Threshold Crossed", time.Now()), &svc)
	if svc.Outcome != "opened" || len(w.ecs.Calls("DescribeServices")) == 0 {
		t.Fatalf("service alarm: %+v, ECS calls %v\n%s", svc, w.ecs.Calls(""), f.logs())
	}
	return w
}

func TestReconcilerFunction(t *testing.T) { observe("reconciler", scenarioReconciler(t)) }

func scenarioReconciler(t *testing.T) *world {
	w := newWorld(t,
		fakeecs.Service{Cluster: "prod", Name: "checkout", Desired: 4, Running: 4},
		fakeecs.Service{Cluster: "prod", Name: "orders", Desired: 2, Running: 0})
	// checkout has an incident from before; it has recovered since.
	m := incident.NewManager(w.store)
	sig := incidenttest.Failure(classify.OOMKilled, 1, severity.P2)
	sig.Scope = incident.Scope{Account: "111122223333", Region: "us-east-1", Cluster: "prod", Service: "checkout"}
	if _, err := m.Apply(context.Background(), sig); err != nil {
		t.Fatal(err)
	}
	f := startFn(t, build(t, "github.com/ecs-medic/ecs-medic/functions/reconciler", "lambda.norpc"), w.env)
	var rep struct{ Checked, Recovering, Resolved, Escalated, Found, Errors int }
	// EventBridge Scheduler's default payload is an empty object.
	f.invoke(t, []byte(`{}`), &rep)
	if rep.Found != 1 || rep.Checked != 1 || rep.Recovering != 1 || rep.Errors != 0 {
		t.Fatalf("%+v\n%s", rep, f.logs())
	}
	incs, _ := w.store.List(context.Background(), incident.Filter{Active: true})
	bySvc := map[string]*incident.Incident{}
	for _, inc := range incs {
		bySvc[inc.Scope.Service] = inc
	}
	if len(incs) != 2 || bySvc["orders"] == nil || bySvc["orders"].Severity.String() != "P1" || bySvc["checkout"].RecoveringSince == nil {
		t.Fatalf("%+v", incs)
	}
	return w
}

// BenchmarkColdStart starts each function under the emulator beside a hello-world Go Lambda
// built the same way, in turns (hello, then every function, then again), so that the machine's
// load at any moment weighs on all of them alike, and prints per function, as medians (a
// neighbour's burst of work would move a mean):
//   - init: the emulator's INIT REPORT, from starting the bootstrap to its first request for work,
//     and its ratio to the hello-world's, and to its SDK floor's: a hello-world that links the same
//     AWS SDK clients and nothing else (internal/awslambda/testdata/floor, whose build tags add
//     CloudWatch Logs and Lambda for the events and Slack functions, Application Auto Scaling for
//     the remediation function), the start that linking those clients costs whatever the code;
//   - the first invocation (the emulator's REPORT: the functions build their App then), as
//     init + first invocation over the hello-world's;
//   - start CPU: the CPU time (user + system) the bootstrap spends from exec to lambda.Start
//     when run without the runtime API (it then exits): the same start, but CPU time, which a
//     busy machine stretches far less than wall time; and that run's page faults (minor), nearly
//     the same at any load: most of a Go start's time in a microVM is first touches of memory,
//     the heap package initialisation fills above all;
//   - what package initialisation allocates (GODEBUG=inittrace=1, summed: the same on any
//     machine) and the binary's size.
//
// MEDIC_COLDSTART_BASELINE=<dir> adds, beside each function, its bootstrap in <dir>/<function>
// (built from another commit, e.g. `make package` there with GOARCH of this machine), as
// "<function> (base)", so an older build and this one are measured side by side in one run.
//
// Every AWS endpoint points at a closed port, so a call fails at once instead of leaving the
// machine.
func BenchmarkColdStart(b *testing.B) {
	env := map[string]string{"MEDIC_TABLE": "medic-bench", "AWS_REGION": "us-east-1",
		"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret", "MEDIC_LOG_LEVEL": "error",
		"MEDIC_SLACK_SIGNING_SECRET": "bench", "AWS_LAMBDA_FUNCTION_NAME": "ecs-medic-slack",
		"MEDIC_HOME_ACCOUNT": "111122223333", "AWS_ENDPOINT_URL": "http://127.0.0.1:1", "AWS_MAX_ATTEMPTS": "1"}
	type target struct {
		name, pkg             string
		tags                  []string
		floor                 *target // the hello-world linking the same SDK clients
		payload               string
		bin                   string
		size                  int64
		init, inv, cpu        []float64
		faults                []float64
		initBytes, initAllocs int64
	}
	const floorPkg = "github.com/ecs-medic/ecs-medic/internal/awslambda/testdata/floor"
	floor := &target{name: "sdk floor", pkg: floorPkg, payload: `{}`}
	floorLogs := &target{name: "floor+logs", pkg: floorPkg, tags: []string{"logs"}, payload: `{}`}
	floorScaling := &target{name: "floor+scaling", pkg: floorPkg, tags: []string{"scaling"}, payload: `{}`}
	targets := []*target{
		{name: "hello", pkg: "github.com/ecs-medic/ecs-medic/internal/awslambda/testdata/hello", payload: `{}`},
		floor, floorLogs, floorScaling,
		{name: "ecs-events", pkg: "github.com/ecs-medic/ecs-medic/functions/ecs-events", floor: floorLogs, payload: `{"id":"x"}`},
		{name: "alarm-events", pkg: "github.com/ecs-medic/ecs-medic/functions/alarm-events", floor: floor, payload: `{"id":"x"}`},
		{name: "reconciler", pkg: "github.com/ecs-medic/ecs-medic/functions/reconciler", floor: floor, payload: `{}`},
		{name: "slack", pkg: "github.com/ecs-medic/ecs-medic/functions/slack", floor: floorLogs, payload: `{"id":"x"}`},
		{name: "remediate", pkg: "github.com/ecs-medic/ecs-medic/functions/remediate", floor: floorScaling, payload: `{"incident":"inc-x"}`},
	}
	if dir := os.Getenv("MEDIC_COLDSTART_BASELINE"); dir != "" {
		for _, tg := range slices.Clone(targets) {
			if p := filepath.Join(dir, tg.name, "bootstrap"); tg.floor != nil {
				if _, err := os.Stat(p); err == nil {
					targets = append(targets, &target{name: tg.name + " (base)", bin: p, floor: tg.floor, payload: tg.payload})
				}
			}
		}
	}
	for _, tg := range targets {
		if tg.bin == "" {
			tg.bin = build(b, tg.pkg, append([]string{"lambda.norpc"}, tg.tags...)...)
		}
		st, err := os.Stat(tg.bin)
		if err != nil {
			b.Fatal(err)
		}
		tg.size = st.Size()
		tg.initBytes, tg.initAllocs, _, _ = startCPU(b, tg.bin, env)
	}
	for b.Loop() {
		for _, tg := range targets {
			f := startFn(b, tg.bin, env)
			resp, err := f.post([]byte(tg.payload))
			if err != nil {
				b.Fatalf("%s: %v\n%s", tg.name, err, f.logs())
			}
			resp.Body.Close()
			ms, inv := f.reports(b)
			tg.init, tg.inv = append(tg.init, ms), append(tg.inv, inv)
			_ = f.cmd.Process.Kill()
			_, _, cpu, faults := startCPU(b, tg.bin, env)
			tg.cpu, tg.faults = append(tg.cpu, cpu), append(tg.faults, faults)
		}
	}
	// The median: one start delayed by a neighbour's burst of work would move a mean.
	median := func(xs []float64) float64 {
		ys := slices.Clone(xs)
		slices.Sort(ys)
		if n := len(ys); n%2 == 0 {
			return (ys[n/2-1] + ys[n/2]) / 2
		}
		return ys[len(ys)/2]
	}
	hello := targets[0]
	hi, hv, hc, hf := median(hello.init), median(hello.inv), median(hello.cpu), median(hello.faults)
	load, _ := os.ReadFile("/proc/loadavg")
	var out strings.Builder
	fmt.Fprintf(&out, "Lambda cold starts under the emulator, medians of %d, side by side (load average %s): compare the ratios\n",
		len(hello.init), strings.Join(strings.Fields(string(load))[:min(3, len(strings.Fields(string(load))))], " "))
	fmt.Fprintf(&out, "%-20s %8s %9s %7s %8s %16s %10s %7s %8s %7s %7s %8s %14s %9s\n", "function", "init ms", "hello ms", "× hello",
		"× floor", "init+1st × hello", "start CPU", "× hello", "× floor", "faults", "× hello", "× floor", "pkg init", "binary")
	for _, tg := range targets {
		i, v, c, f := median(tg.init), median(tg.inv), median(tg.cpu), median(tg.faults)
		xfi, xfc, xff := "", "", ""
		if tg.floor != nil {
			xfi, xfc = fmt.Sprintf("%.2f×", i/median(tg.floor.init)), fmt.Sprintf("%.2f×", c/median(tg.floor.cpu))
			xff = fmt.Sprintf("%.2f×", f/median(tg.floor.faults))
		}
		fmt.Fprintf(&out, "%-20s %8.1f %9.1f %6.2f× %8s %15.2f× %7.1f ms %6.2f× %8s %7.0f %6.2f× %8s %6d KB %5d %6.1f MB\n", tg.name, i, hi, i/hi,
			xfi, (i+v)/(hi+hv), c, c/hc, xfc, f, f/hf, xff, tg.initBytes/1000, tg.initAllocs, float64(tg.size)/1e6)
		if tg == hello {
			continue
		}
		name := strings.NewReplacer(" (base)", "-base", " ", "-").Replace(tg.name)
		b.ReportMetric(i/hi, name+"-init-x-hello")
		b.ReportMetric(c/hc, name+"-cpu-x-hello")
		b.ReportMetric(f/hf, name+"-faults-x-hello")
		if tg.floor != nil {
			b.ReportMetric(i/median(tg.floor.init), name+"-init-x-floor")
		}
	}
	b.ReportMetric(hi, "hello-init-ms")
	// Printed, not logged: a benchmark's log is cut to its first lines.
	fmt.Print(out.String())
}

// inittraceRE reads one package's line of GODEBUG=inittrace=1: "init pkg @t ms, d ms clock, B bytes, N allocs".
var inittraceRE = regexp.MustCompile(`(?m)^init \S+ @\S+ ms, \S+ ms clock, (\d+) bytes, (\d+) allocs$`)

// startCPU runs bin without the runtime API, with GODEBUG=inittrace=1: it initialises its
// packages, runs main up to lambda.Start, which finds no runtime API and exits. It returns what
// package initialisation allocated, the CPU time (user + system, ms) of the whole run and its
// minor page faults.
func startCPU(tb testing.TB, bin string, env map[string]string) (initBytes, allocs int64, cpuMs, faults float64) {
	tb.Helper()
	cmd := exec.Command(bin)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "GODEBUG=inittrace=1"}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); cmd.ProcessState == nil {
		tb.Fatalf("%s: %v", bin, err)
	}
	if !strings.Contains(stderr.String(), "AWS_LAMBDA_RUNTIME_API") {
		tb.Fatalf("%s did not reach lambda.Start:\n%s", bin, stderr.String())
	}
	for _, m := range inittraceRE.FindAllStringSubmatch(stderr.String(), -1) {
		n, _ := strconv.ParseInt(m[1], 10, 64)
		a, _ := strconv.ParseInt(m[2], 10, 64)
		initBytes, allocs = initBytes+n, allocs+a
	}
	ps := cmd.ProcessState
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		faults = float64(ru.Minflt)
	}
	return initBytes, allocs, float64(ps.UserTime()+ps.SystemTime()) / float64(time.Millisecond), faults
}
