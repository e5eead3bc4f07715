package scenario

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ecs-medic/ecs-medic/internal/event"
	"github.com/ecs-medic/ecs-medic/internal/pipeline"
)

// AlertmanagerBinary is where Debian's prometheus-alertmanager package puts it.
const AlertmanagerBinary = "/usr/bin/prometheus-alertmanager"

// ErrNoAlertmanager means the comparison cannot run here.
var ErrNoAlertmanager = errors.New("prometheus-alertmanager is not installed (make bench installs it)")

// Alertmanager runs the crash-loop storm through Prometheus Alertmanager, side by side with
// ecs-medic's figures: each event becomes an alert labelled with its service and the cause
// ecs-medic's classifier gave it (a head start Alertmanager would not have), grouped by service
// and cause, with Alertmanager's default group_wait of 30 s, into a webhook that counts
// notifications.
func Alertmanager(ctx context.Context, s Scale) (Result, error) {
	r := Result{Name: "Prometheus Alertmanager, same storm"}
	am, err := startAlertmanager(ctx)
	if err != nil {
		return r, err
	}
	defer am.stop()
	bodies, _ := stormEvents(s.Events, s.Services, 1)
	alerts, err := amAlerts(bodies)
	if err != nil {
		return r, err
	}
	want := s.Services * 3
	am.want = want
	sent := am.post(ctx, alerts, s.Clients)
	start, ingest := sent.First, sent.Elapsed
	// Every group is notified once its group_wait has passed: the webhook says when the last one
	// came. Twice group_wait bounds a run where a group is missing (a failure, reported below).
	select {
	case <-am.all:
	case <-am.exited:
	case <-time.After(2 * amGroupWait):
	case <-ctx.Done():
		return r, ctx.Err()
	}
	am.mu.Lock()
	defer am.mu.Unlock()
	r.expect(am.notes == want, "%d notifications, want %d groups", am.notes, want)
	r.figure("alerts posted", "%d", len(alerts))
	r.figure("ingestion throughput", "%.0f alerts/s", float64(len(alerts))/ingest.Seconds())
	r.figure("notifications (groups of service × cause)", "%d", am.notes)
	if !am.first.IsZero() {
		r.figure("first alert → first notification", "%s (group_wait 30 s)", am.first.Sub(start).Round(time.Millisecond))
	}
	return r, nil
}

// amGroupWait is the Alertmanager route's group_wait (its default).
const amGroupWait = 30 * time.Second

// amProcess is a running Alertmanager with a webhook receiver that counts notifications.
type amProcess struct {
	pid   int
	base  string
	mu    sync.Mutex
	notes int
	first time.Time
	// want is how many notifications make all, closed when the webhook has had them.
	want int
	all  chan struct{}
	// exited is closed when the process has ended.
	exited chan struct{}
	stop   func()
}

// startAlertmanager starts Alertmanager on loopback, grouping by service and cause with its
// default group_wait of 30 s, into a counting webhook.
func startAlertmanager(ctx context.Context) (*amProcess, error) {
	if _, err := os.Stat(AlertmanagerBinary); err != nil {
		return nil, ErrNoAlertmanager
	}
	am := &amProcess{all: make(chan struct{}), exited: make(chan struct{})}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.Copy(io.Discard, req.Body)
		am.mu.Lock()
		am.notes++
		if am.first.IsZero() {
			am.first = time.Now()
		}
		if am.notes == am.want {
			close(am.all)
		}
		am.mu.Unlock()
	}))
	dir, err := os.MkdirTemp("", "medic-am-")
	if err != nil {
		hook.Close()
		return nil, err
	}
	cleanup := func() { hook.Close(); _ = os.RemoveAll(dir) }
	conf := fmt.Sprintf(`route:
  receiver: hook
  group_by: [service, cause]
  group_wait: %s
  group_interval: 5m
  repeat_interval: 4h
receivers:
  - name: hook
    webhook_configs:
      - url: %s
        send_resolved: false
`, model(amGroupWait), hook.URL)
	if err := os.WriteFile(filepath.Join(dir, "am.yml"), []byte(conf), 0o644); err != nil {
		cleanup()
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cleanup()
		return nil, err
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	cmd := exec.CommandContext(ctx, AlertmanagerBinary, "--config.file="+filepath.Join(dir, "am.yml"),
		"--storage.path="+dir, "--web.listen-address="+addr, "--cluster.listen-address=")
	logs, err := cmd.StderrPipe()
	if err != nil {
		cleanup()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		cleanup()
		return nil, err
	}
	am.pid = cmd.Process.Pid
	am.base = "http://" + addr
	// Alertmanager logs `msg="Listening on"` once its configuration is loaded and its socket
	// listens: that line, not a polled endpoint, says it is ready. Its log is read to the end
	// so that it never blocks on a full pipe.
	ready := make(chan struct{})
	go func() {
		listening := false
		sc := bufio.NewScanner(logs)
		for sc.Scan() {
			if !listening && strings.Contains(sc.Text(), `msg="Listening on"`) {
				listening = true
				close(ready)
			}
		}
		_ = cmd.Wait()
		close(am.exited)
	}()
	am.stop = func() { _ = cmd.Process.Kill(); <-am.exited; cleanup() }
	select {
	case <-ready:
		return am, nil
	case <-am.exited:
		cleanup()
		return nil, errors.New("alertmanager exited before it listened")
	}
}

// model writes a duration as Alertmanager's configuration does ("30s", "1m").
func model(d time.Duration) string {
	if d%time.Minute == 0 {
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return fmt.Sprintf("%ds", d/time.Second)
}

// amAlerts turns each event into one alert labelled with its service and the cause ecs-medic's
// classifier gave it.
func amAlerts(bodies [][]byte) ([][]byte, error) {
	alerts := make([][]byte, 0, len(bodies))
	for _, b := range bodies {
		ev, err := event.Decode(b)
		if err != nil {
			return nil, err
		}
		in := pipeline.Interpret(ev)
		a, _ := json.Marshal([]map[string]any{{
			"labels":      map[string]string{"alertname": "ECSTaskStopped", "cluster": in.Signal.Scope.Cluster, "service": in.Signal.Scope.Service, "cause": string(in.Signal.Cause)},
			"annotations": map[string]string{"summary": in.Signal.Evidence},
			"startsAt":    time.Now().UTC().Format(time.RFC3339),
		}})
		alerts = append(alerts, a)
	}
	return alerts, nil
}

// post sends each alert in its own request to /api/v2/alerts from `clients` senders, with the
// load generator ecs-medic's side gets (Post).
func (am *amProcess) post(ctx context.Context, alerts [][]byte, clients int) Sent {
	// Errors are not counted: Alertmanager's answer to each post is not what is compared.
	sent, _ := Post(ctx, am.base+"/api/v2/alerts", alerts, clients)
	return sent
}
