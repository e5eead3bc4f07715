package scenario

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"

	"github.com/ecs-medic/ecs-medic/internal/boltstore"
	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/runbook"
	"github.com/ecs-medic/ecs-medic/internal/testing/eventgen"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakeecs"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakelogs"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakepagerduty"
	"github.com/ecs-medic/ecs-medic/internal/testing/fakeslack"
)

// Restart runs the real `medic serve` binary, kills it with SIGKILL in the middle of a storm
// (while it is fixing a service), starts it again on the same store, and redelivers every event,
// as EventBridge would: nothing is lost, nothing is counted twice, nothing is paged or fixed twice.
func Restart(ctx context.Context, s Scale) Result {
	r := Result{Name: "killed mid-storm and restarted"}
	dir, err := os.MkdirTemp("", "medic-restart-")
	if err != nil {
		r.expect(false, "%v", err)
		return r
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "medic")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/ecs-medic/ecs-medic/cmd/medic").CombinedOutput(); err != nil {
		r.expect(false, "build medic: %v\n%s", err, out)
		return r
	}
	svcs := services(s.Services)
	fe, pd, sl, fl := fakeecs.New(svcs...), fakepagerduty.New(routingKey), fakeslack.New(botToken), fakelogs.New()
	defer fe.Close()
	defer pd.Close()
	defer sl.Close()
	defer fl.Close()
	for _, sv := range svcs {
		fe.PutTaskDefinition(sv.Name+":1", []byte(`{"family":"`+sv.Name+`","revision":1,"requiresCompatibilities":["FARGATE"],"cpu":"256","memory":"512",
			"containerDefinitions":[{"name":"app","image":"x","essential":true}]}`))
	}
	runbooks := filepath.Join(dir, "runbooks")
	_ = os.MkdirAll(runbooks, 0o755)
	// OOM fixes on auto, so a fix is under way when the process dies.
	_ = os.WriteFile(filepath.Join(runbooks, "oom-killed.md"), []byte("---\nid: oom-killed\nmatch: { cause: oom-killed }\nfix:\n  action: raise-memory\n  mode: auto\n  params: { factor: 1.5, max_memory_mib: 4096 }\n---\n# OOM\n"), 0o644)
	env := append(os.Environ(),
		"MEDIC_DB="+filepath.Join(dir, "medic.db"), "MEDIC_LOG_LEVEL=error", "MEDIC_RUNBOOKS="+runbooks, "MEDIC_AUTOFIX="+string(runbook.Auto),
		"MEDIC_PAGERDUTY_ROUTING_KEY="+routingKey, "MEDIC_PAGERDUTY_EVENTS_URL="+pd.URL, "MEDIC_HOME_ACCOUNT="+eventgen.Account,
		"MEDIC_SLACK_BOT_TOKEN="+botToken, "MEDIC_SLACK_CHANNEL=#incidents", "MEDIC_SLACK_API_URL="+sl.APIURL(),
		"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=AKID", "AWS_SECRET_ACCESS_KEY=secret", "AWS_ENDPOINT_URL_ECS="+fe.URL,
		"AWS_ENDPOINT_URL_APPLICATION_AUTO_SCALING="+fe.URL, "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS="+fl.URL,
		"AWS_CONFIG_FILE="+filepath.Join(dir, "none"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, "none"))
	start := func() (*exec.Cmd, string, error) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, "", err
		}
		addr := ln.Addr().String()
		_ = ln.Close()
		cmd := exec.CommandContext(ctx, bin, "serve", "--addr", addr)
		cmd.Env = env
		stderr, _ := cmd.StderrPipe()
		if err := cmd.Start(); err != nil {
			return nil, "", err
		}
		// Its "listening on" line says it is ready; its stderr ending first says it died.
		ready := make(chan bool, 1)
		go func() {
			sc := bufio.NewScanner(stderr)
			re := regexp.MustCompile(`listening on`)
			said := false
			for sc.Scan() {
				if !said && re.MatchString(sc.Text()) {
					said = true
					ready <- true
				}
			}
			if !said {
				ready <- false
			}
		}()
		if !<-ready {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			return nil, "", fmt.Errorf("medic serve ended before it listened")
		}
		return cmd, "http://" + addr, nil
	}

	// Only OOMs, so every incident has the auto fix.
	var bodies [][]byte
	for i := range s.Events {
		bodies = append(bodies, eventgen.OOM("prod", svcName(i%s.Services), i))
	}
	cmd, url, err := start()
	if err != nil {
		r.expect(false, "%v", err)
		return r
	}
	e := &Env{URL: url}
	half := len(bodies) / 2
	_, _ = e.Send(ctx, bodies[:half], s.Clients)
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	killedAfter := len(fe.Mutations())

	cmd, url, err = start()
	if err != nil {
		r.expect(false, "restart: %v", err)
		return r
	}
	e.URL = url
	sent, err := e.Send(ctx, bodies, s.Clients) // EventBridge redelivers everything
	r.expect(err == nil, "send after restart: %v", err)
	// SIGTERM: medic serve stops, and its Stop waits for every fix the events started.
	_ = cmd.Process.Signal(syscall.SIGTERM)
	_ = cmd.Wait()

	st, err := boltstore.Open(filepath.Join(dir, "medic.db"))
	if err != nil {
		r.expect(false, "%v", err)
		return r
	}
	defer st.Close()
	incs, _ := st.List(ctx, incident.Filter{Limit: 10000})
	occ := 0
	for _, inc := range incs {
		occ += inc.Occurrences.Count
	}
	updates := 0
	for _, m := range fe.Mutations() {
		if m.Operation == "UpdateService" {
			updates++
		}
	}
	// Pages are distinct alerts: a fix's outcome is added to its alert's log (same dedup key) and pages nobody.
	alerts := map[any]bool{}
	for _, ev := range pd.Events("trigger") {
		alerts[ev["dedup_key"]] = true
	}
	r.expect(len(incs) == s.Services, "%d incidents, want %d", len(incs), s.Services)
	r.expect(occ == s.Events, "%d occurrences after a kill and a full redelivery, want %d", occ, s.Events)
	r.expect(len(alerts) == s.Services, "%d alerts paged, want %d", len(alerts), s.Services)
	r.expect(updates <= s.Services, "%d service updates for %d services: a fix ran twice", updates, s.Services)
	// Slack's messages go out from a background queue; what the kill cut off was pending in the
	// store, queued again at the restart, and SIGTERM's Stop delivered the rest.
	delivered := 0
	for _, inc := range incs {
		if n := inc.Notices["slack"]; n != nil && n.Ref != "" && n.Pending == "" {
			delivered++
		}
	}
	posts := 0
	for _, c := range sl.Calls("chat.postMessage") {
		if c.ThreadTS == "" {
			posts++
		}
	}
	r.expect(delivered == len(incs), "%d of %d incidents have their Slack message up to date", delivered, len(incs))
	r.expect(posts == s.Services, "%d Slack messages posted for %d incidents: lost or posted twice", posts, s.Services)
	r.figure("events before the kill / redelivered after the restart", "%d / %d", half, sent.Requests)
	r.figure("incidents / occurrences / alerts paged / fixes (UpdateService)", "%d / %d / %d / %d", len(incs), occ, len(alerts), updates)
	r.figure("mutating ECS calls at the kill / in all", "%d / %d", killedAfter, len(fe.Mutations()))
	r.figure("Slack messages posted / incidents with nothing pending", "%d / %d", posts, delivered)
	return r
}
