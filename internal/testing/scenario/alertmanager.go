package scenario

import (
	"bytes"
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
	if _, err := os.Stat(AlertmanagerBinary); err != nil {
		return r, ErrNoAlertmanager
	}
	var mu sync.Mutex
	var notes int
	var first time.Time
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.Copy(io.Discard, req.Body)
		mu.Lock()
		notes++
		if first.IsZero() {
			first = time.Now()
		}
		mu.Unlock()
	}))
	defer hook.Close()
	dir, err := os.MkdirTemp("", "medic-am-")
	if err != nil {
		return r, err
	}
	defer os.RemoveAll(dir)
	conf := fmt.Sprintf(`route:
  receiver: hook
  group_by: [service, cause]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
receivers:
  - name: hook
    webhook_configs:
      - url: %s
        send_resolved: false
`, hook.URL)
	if err := os.WriteFile(filepath.Join(dir, "am.yml"), []byte(conf), 0o644); err != nil {
		return r, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return r, err
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	cmd := exec.CommandContext(ctx, AlertmanagerBinary, "--config.file="+filepath.Join(dir, "am.yml"),
		"--storage.path="+dir, "--web.listen-address="+addr, "--cluster.listen-address=")
	if err := cmd.Start(); err != nil {
		return r, err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	base := "http://" + addr
	for deadline := time.Now().Add(20 * time.Second); ; {
		if resp, err := http.Get(base + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			return r, errors.New("alertmanager did not become ready")
		}
		time.Sleep(100 * time.Millisecond)
	}

	bodies, _ := stormEvents(s.Events, s.Services, 1)
	alerts := make([][]byte, 0, len(bodies))
	for _, b := range bodies {
		ev, err := event.Decode(b)
		if err != nil {
			return r, err
		}
		in := pipeline.Interpret(ev)
		a, _ := json.Marshal([]map[string]any{{
			"labels":      map[string]string{"alertname": "ECSTaskStopped", "cluster": in.Signal.Scope.Cluster, "service": in.Signal.Scope.Service, "cause": string(in.Signal.Cause)},
			"annotations": map[string]string{"summary": in.Signal.Evidence},
			"startsAt":    time.Now().UTC().Format(time.RFC3339),
		}})
		alerts = append(alerts, a)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: s.Clients}, Timeout: 30 * time.Second}
	// Errors are not counted: Alertmanager's answer to each post is not what is compared.
	sent, _ := drive(ctx, len(alerts), s.Clients, func(i int) error {
		if resp, err := client.Post(base+"/api/v2/alerts", "application/json", bytes.NewReader(alerts[i])); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		return nil
	})
	start, ingest := sent.First, sent.Elapsed
	// Wait out group_wait, and a little more.
	select {
	case <-time.After(35*time.Second - time.Since(start)):
	case <-ctx.Done():
		return r, ctx.Err()
	}
	mu.Lock()
	defer mu.Unlock()
	want := s.Services * 3
	r.expect(notes == want, "%d notifications, want %d groups", notes, want)
	r.figure("alerts posted", "%d", len(alerts))
	r.figure("ingestion throughput", "%.0f alerts/s", float64(len(alerts))/ingest.Seconds())
	r.figure("notifications (groups of service × cause)", "%d", notes)
	if !first.IsZero() {
		r.figure("first alert → first notification", "%s (group_wait 30 s)", first.Sub(start).Round(time.Millisecond))
	}
	return r, nil
}
