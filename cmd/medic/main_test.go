package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ecs-medic/ecs-medic/internal/boltstore"
)

func noEnv(string) string { return "" }

func TestClassifySharedSamples(t *testing.T) {
	// Every file of the samples folder: a user's first `medic classify testdata/events/*.json`.
	files, _ := filepath.Glob("../../testdata/events/*.json")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), append([]string{"classify"}, files...), nil, &stdout, &stderr, noEnv)
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != len(files) {
		t.Fatalf("%d lines for %d events:\n%s", len(lines), len(files), stdout.String())
	}
	got := map[string]map[string]any{}
	errorsSeen := 0
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not JSON: %s", l)
		}
		if _, ok := m["error"]; ok {
			errorsSeen++
			continue
		}
		for _, k := range []string{"id", "detail_type", "cluster", "service", "task_arn", "cause", "sub", "evidence", "incident"} {
			if _, ok := m[k]; !ok {
				t.Errorf("line lacks %q: %s", k, l)
			}
		}
		got[m["id"].(string)+"/"+m["detail_type"].(string)+"/"+m["cause"].(string)] = m
	}
	// A user's first run over the samples: no error, exit 0. The container instance event is not
	// one ecs-medic handles: a line with no cause and no incident.
	if errorsSeen != 0 || code != 0 {
		t.Fatalf("errors %d exit %d:\n%s", errorsSeen, code, stdout.String())
	}
	want := map[string]bool{
		"51a6f4cb-60bd-b181-8ae8-430a485d95af/ECS Task State Change/health-check":            true,
		"894b524e-14de-560e-a4ac-a644ba56d06b/ECS Task State Change/essential-exit":          true,
		"3317b2af-7005-947d-b652-f55e762e571a/ECS Task State Change/":                        false,
		"57c9506e-9d21-294c-d2fe-e8738da7e67d/ECS Service Action/start-impaired":             true,
		"af3c496d-f4a8-65d1-70f4-a69d52e9b584/ECS Service Action/":                           false,
		"ddca6449-b258-46c0-8653-e0e3fEXAMPLE/ECS Deployment State Change/deployment-failed": true,
		"8952ba83-7be2-4ab5-9c32-6687532d15a2/ECS Container Instance State Change/":          false,
	}
	ids := map[string]int{}
	for _, f := range files {
		var ev struct{ ID string }
		_ = json.Unmarshal(mustRead(t, f), &ev)
		ids[ev.ID]++
	}
	for id, n := range ids {
		if n > 1 {
			t.Errorf("%d samples share the id %s: deduplication would hide all but one", n, id)
		}
	}
	for k, incident := range want {
		m, ok := got[k]
		if !ok {
			t.Errorf("no line for %s", k)
			continue
		}
		if m["incident"] != incident {
			t.Errorf("%s: incident=%v, want %v", k, m["incident"], incident)
		}
	}
}

func TestClassifyStdinAndErrors(t *testing.T) {
	in := `{"id":"broken"` + "\n" + string(mustRead(t, "../../testdata/events/ecs-service-action-task-start-impaired.json"))
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"classify"}, strings.NewReader(in), &stdout, &stderr, noEnv)
	if code != 1 || !strings.Contains(stdout.String(), `"error"`) || !strings.Contains(stdout.String(), "start-impaired") {
		t.Fatalf("exit %d:\n%s", code, stdout.String())
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestReplayDemoScenario(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"replay", "--json", "../../testdata/scenarios/demo.json"}, nil, &stdout, &stderr, noEnv)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var sum struct {
		Events    int
		Outcomes  map[string]int
		Incidents []struct {
			Scope       struct{ Service string }
			Cause       string
			Severity    string
			Occurrences struct{ Count int }
		}
	}
	if err := json.Unmarshal(stdout.Bytes(), &sum); err != nil {
		t.Fatal(err)
	}
	if len(sum.Incidents) != 2 || sum.Outcomes["expected"] != 6 || sum.Outcomes["duplicate"] != 1 {
		t.Fatalf("%+v", sum)
	}
	bySvc := map[string]string{}
	for _, inc := range sum.Incidents {
		bySvc[inc.Scope.Service] = inc.Cause + " " + inc.Severity
	}
	if bySvc["checkout"] != "oom-killed P1" || bySvc["payments"] != "essential-exit P2" {
		t.Fatalf("incidents: %v", bySvc)
	}

	stdout.Reset()
	if code := run(context.Background(), []string{"replay", "../../testdata/scenarios/demo.json"}, nil, &stdout, &stderr, noEnv); code != 0 {
		t.Fatalf("human replay exit %d", code)
	}
	for _, want := range []string{"23 event(s) → 2 incident(s)", "checklist: OOMKilled", "fix:         raise-memory", "recorded event times", "ignored:     6 event(s) on prod/search", "timeline:", "[P1] OPENED"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("replay output lacks %q", want)
		}
	}
}

func TestServeHandlesACurlEvent(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"MEDIC_DB": filepath.Join(dir, "medic.db"), "MEDIC_ADDR": "127.0.0.1:0", "AWS_REGION": "", "MEDIC_LOG_LEVEL": "error"}
	ctx, cancel := context.WithCancel(context.Background())
	addr, done := startServe(t, ctx, env)
	resp, err := http.Post(addr+"/events", "application/json", bytes.NewReader(mustRead(t, "../../testdata/events/ecs-task-state-change-stopped-elb-health-check.json")))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"cause": "health-check"`) || !strings.Contains(string(body), `"outcome": "opened"`) {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	// Serve returns once Stop has drained everything: no deadline, a busy machine is only slower.
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("serve exited %d", code)
	}
}

func TestRunbooksCheck(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"runbooks", "check"}, nil, &out, &errb, noEnv); code != 0 || !strings.Contains(out.String(), "runbooks OK") {
		t.Fatalf("built-in: %d\n%s%s", code, out.String(), errb.String())
	}
	dir := t.TempDir()
	_ = os.WriteFile(filepath.Join(dir, "bad.md"), []byte("---\nid: bad\nmatch: { cause: oom }\nfix: { action: reboot }\n---\n# Bad\n"), 0o644)
	out.Reset()
	if code := run(context.Background(), []string{"runbooks", "check", dir}, nil, &out, &errb, noEnv); code != 1 ||
		!strings.Contains(out.String(), `match.cause "oom"`) || !strings.Contains(out.String(), `fix.action "reboot"`) {
		t.Fatalf("bad runbook: %d\n%s", code, out.String())
	}
}

// medic serve refuses a non-loopback address without MEDIC_API_TOKEN, before it listens.
func TestServeRefusesAnOpenAddressWithoutAToken(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0"} {
		var errb bytes.Buffer
		env := map[string]string{"MEDIC_DB": filepath.Join(t.TempDir(), "medic.db"), "MEDIC_ADDR": addr}
		code := run(context.Background(), []string{"serve"}, nil, io.Discard, &errb, func(k string) string { return env[k] })
		if code != 2 || !strings.Contains(errb.String(), "MEDIC_API_TOKEN") || !strings.Contains(errb.String(), "docs/security.md") {
			t.Fatalf("%s: exit %d: %s", addr, code, errb.String())
		}
		if _, err := os.Stat(env["MEDIC_DB"]); err == nil {
			t.Fatalf("%s: the store was opened before the refusal", addr)
		}
	}
}

// A second medic serve on the same store file says another process holds it.
func TestSecondServeOnTheSameStore(t *testing.T) {
	db := filepath.Join(t.TempDir(), "medic.db")
	first, err := boltstore.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	var errb bytes.Buffer
	env := map[string]string{"MEDIC_DB": db, "MEDIC_ADDR": "127.0.0.1:0", "AWS_REGION": ""}
	code := run(context.Background(), []string{"serve"}, nil, io.Discard, &errb, func(k string) string { return env[k] })
	if code != 1 || !strings.Contains(errb.String(), "in use by another process") || !strings.Contains(errb.String(), "--db") {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
}

// runbooks check fails loudly on a missing or empty folder, on numbers out of range or of the
// wrong type, on an "every alarm" runbook that acts automatically, and on a file that is not a
// regular file — naming the file or folder on every line.
func TestRunbooksCheckRefusesWhatWouldDisableOrHarm(t *testing.T) {
	check := func(dir string) (int, string) {
		var out, errb bytes.Buffer
		code := run(context.Background(), []string{"runbooks", "check", dir}, nil, &out, &errb, noEnv)
		return code, out.String() + errb.String()
	}
	missing := filepath.Join(t.TempDir(), "nonexistent")
	if code, out := check(missing); code != 1 || !strings.Contains(out, missing) || !strings.Contains(out, "does not exist") {
		t.Fatalf("missing folder: %d %s", code, out)
	}
	empty := t.TempDir()
	if code, out := check(empty); code != 1 || !strings.Contains(out, empty) || !strings.Contains(out, "no runbook") || strings.Contains(out, "runbooks OK") {
		t.Fatalf("empty folder: %d %q (dir %q)", code, out, empty)
	}
	dir := t.TempDir()
	rb := func(name, front string) {
		_ = os.WriteFile(filepath.Join(dir, name), []byte("---\nid: "+strings.TrimSuffix(name, ".md")+"\n"+front+"---\n# T\n"), 0o644)
	}
	rb("step.md", "match: { cause: health-check }\nfix: { action: scale-out, mode: auto, params: { step: 100000, max_tasks: 10 } }\n")
	rb("maxtasks.md", "match: { cause: host-lost }\nfix: { action: scale-out, mode: auto, params: { max_tasks: 99999999 } }\n")
	rb("cooldown.md", "match: { cause: spot-interruption }\nfix: { action: force-new-deployment, mode: auto, cooldown: -1h }\n")
	rb("string.md", "match: { cause: unknown }\nfix: { action: scale-out, mode: suggest, params: { step: two, max_tasks: \"10\" } }\n")
	rb("memory.md", "match: { cause: oom-killed }\nfix: { action: raise-memory, mode: suggest, params: { factor: 1.5, max_memory_mib: 200000 } }\n")
	rb("everyalarm.md", "match: { alarm: \"*\" }\nfix: { action: rollback, mode: auto }\n")
	rb("perday.md", "match: { cause: start-failure }\nfix: { action: force-new-deployment, mode: auto, max_per_day: 1000 }\n")
	if err := os.Symlink("/dev/zero", filepath.Join(dir, "zero.md")); err != nil {
		t.Fatal(err)
	}
	code, out := check(dir)
	if code != 1 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	for _, want := range []string{
		"step.md: fix.params.step", "maxtasks.md: fix.params.max_tasks", "cooldown.md: line", "negative",
		"string.md: fix.params.step must be a whole number", "string.md: fix.params.max_tasks must be a whole number",
		"memory.md: fix.params.max_memory_mib", "everyalarm.md: match.alarm \"*\" matches every alarm", "perday.md: fix.max_per_day",
		"zero.md: not a regular file",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the check does not say %q:\n%s", want, out)
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if !strings.Contains(line, ".md") {
			t.Errorf("a line names no file: %q", line)
		}
	}
}

func TestRoutesCheckAndTest(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "routes.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(good, []byte("routes:\n  - name: payments\n    match: { cluster: \"payments-*\" }\n    slack_channel: C0PAYMENTS\n"+
		"  - name: search\n    match: { tags: { team: search } }\n    slack_channel: C0SEARCH\ndefault: { slack_channel: C0ONCALL }\n"), 0o600)
	os.WriteFile(bad, []byte("routes:\n  - match: { cluster: \"[x\", cause: oom }\n    slack_channel: C1\n"), 0o600)
	var out, errs bytes.Buffer
	if code := run(context.Background(), []string{"routes", "check", good}, nil, &out, &errs, noEnv); code != 0 || !strings.Contains(out.String(), "2 routes OK") {
		t.Fatalf("good: %d %s %s", code, out.String(), errs.String())
	}
	out.Reset()
	if code := run(context.Background(), []string{"routes", "check", bad}, nil, &out, &errs, noEnv); code != 1 {
		t.Fatalf("bad: %d", code)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("want a line per problem: %q", out.String())
	}
	for _, l := range lines {
		if !strings.Contains(l, bad) {
			t.Fatalf("a problem that does not name the file: %q", l)
		}
	}
	if code := run(context.Background(), []string{"routes", "check"}, nil, &out, &errs, noEnv); code != 2 {
		t.Fatalf("no file: %d", code)
	}

	ev := filepath.Join(dir, "event.json")
	os.WriteFile(ev, []byte(`{"version":"0","id":"e1","detail-type":"ECS Task State Change","source":"aws.ecs","account":"111122223333","region":"us-east-1","time":"2026-11-28T03:00:00Z",
		"detail":{"clusterArn":"arn:aws:ecs:us-east-1:111122223333:cluster/prod","taskArn":"arn:aws:ecs:us-east-1:111122223333:task/prod/0123456789abcdef0123456789abcdef","group":"service:indexer","lastStatus":"STOPPED",
		"stopCode":"EssentialContainerExited","stoppedReason":"Essential container in task exited","containers":[{"name":"app","exitCode":1,"lastStatus":"STOPPED"}]}}`), 0o600)
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"routes", "test", "--routes", good, ev}, []string{"route:     default", "C0ONCALL", "not known offline"}},
		{[]string{"routes", "test", "--routes", good, "--tags", "team=search", ev}, []string{"route:     search", "C0SEARCH"}},
	} {
		out.Reset()
		if code := run(context.Background(), c.args, nil, &out, &errs, func(k string) string {
			return map[string]string{"MEDIC_PAGERDUTY_ROUTING_KEY": "SECRET-KEY-VALUE"}[k]
		}); code != 0 {
			t.Fatalf("%v: %d %s", c.args, code, errs.String())
		}
		for _, w := range c.want {
			if !strings.Contains(out.String(), w) {
				t.Fatalf("%v: no %q in\n%s", c.args, w, out.String())
			}
		}
		if strings.Contains(out.String(), "SECRET-KEY-VALUE") {
			t.Fatal("the routing key was printed")
		}
	}
	out.Reset()
	run(context.Background(), []string{"routes", "test", "--routes", good, ev}, nil, &out, &errs, func(k string) string {
		return map[string]string{"MEDIC_ACCOUNTS": "222233334444"}[k]
	})
	if !strings.Contains(out.String(), "refused: account 111122223333 is not in MEDIC_ACCOUNTS") {
		t.Fatalf("an account not allowed: %s", out.String())
	}
}

// startServe runs `medic serve` with env until ctx ends and returns the address it printed and
// the channel its exit code arrives on.
func startServe(t *testing.T, ctx context.Context, env map[string]string) (string, <-chan int) {
	t.Helper()
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve"}, nil, io.Discard, pw, func(k string) string { return env[k] })
		pw.Close()
	}()
	addr := ""
	sc := bufio.NewScanner(pr)
	re := regexp.MustCompile(`listening on (http://[0-9.:]+)`)
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			addr = m[1]
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if addr == "" {
		t.Fatal("serve printed no address")
	}
	return addr, done
}
