package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"time"

	"go.uber.org/zap"

	"github.com/ecs-medic/ecs-medic/internal/app"
	"github.com/ecs-medic/ecs-medic/internal/boltstore"
	"github.com/ecs-medic/ecs-medic/internal/config"
	"github.com/ecs-medic/ecs-medic/internal/logging"
	"github.com/ecs-medic/ecs-medic/internal/metrics/prom"
	"github.com/ecs-medic/ecs-medic/internal/remediate/autoscaling"
	"github.com/ecs-medic/ecs-medic/internal/server"
	"github.com/ecs-medic/ecs-medic/internal/tasklogs/awslogs"
)

// retainResolved is how long `medic serve` keeps resolved incidents.
const retainResolved = 30 * 24 * time.Hour

func serveCmd(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if wantsHelp(args) {
		fs := newFlags("serve", stderr)
		fs.String("addr", "127.0.0.1:8080", "listen address (MEDIC_ADDR)")
		fs.String("db", "./medic.db", "embedded store file (MEDIC_DB)")
		printHelp(stdout, fs, "medic serve [--addr A] [--db FILE]", "The local daemon: every handler behind one HTTP server on an embedded store, configured like\nthe Lambda functions (README.md): POST /events, GET /incidents, /healthz, /metrics, /slack/*.")
		return 0
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		fmt.Fprintf(stderr, "medic serve: %v\n", err)
		return 2
	}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Addr, "addr", cfg.Addr, "listen address (MEDIC_ADDR)")
	fs.StringVar(&cfg.DB, "db", cfg.DB, "embedded store file (MEDIC_DB)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if !server.IsLoopback(cfg.Addr) && cfg.APIToken.Value == "" && !cfg.APIToken.Set() {
		// POST /events would open incidents and page for anyone who can reach the port, and
		// GET /incidents would show evidence and log lines to them.
		fmt.Fprintf(stderr, "medic serve: %s is not a loopback address, and MEDIC_API_TOKEN is not set: "+
			"set MEDIC_API_TOKEN (every API call then needs Authorization: Bearer <token>), "+
			"or listen on 127.0.0.1 behind a reverse proxy that passes only /slack/ (docs/security.md)\n", cfg.Addr)
		return 2
	}
	log, err := logging.New(cfg.LogLevel)
	if err != nil {
		fmt.Fprintf(stderr, "medic serve: %v\n", err)
		return 2
	}
	defer func() { _ = log.Sync() }()
	if cfg.Table != "" {
		log.Warn("MEDIC_TABLE is set but medic serve uses the embedded store", zap.String("db", cfg.DB))
	}

	store, err := boltstore.Open(cfg.DB)
	if err != nil {
		fmt.Fprintf(stderr, "medic serve: %v\n", err)
		return 1
	}
	defer store.Close()
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		fmt.Fprintf(stderr, "medic serve: %v\n", err)
		return 1
	}
	// The API token (MEDIC_API_TOKEN, _ARN, _SSM) is the App's to add, once its secrets are read.
	var opts []server.Option
	if server.IsLoopback(cfg.Addr) {
		opts = append(opts, server.WithHosts(server.LoopbackHosts(ln.Addr().String())...))
	}
	// Fixes and Slack's deferred work run as background jobs that Stop waits for; the reconciler
	// runs every minute, the store's sweep every hour.
	a, err := app.New(ctx, cfg, log, app.Options{Store: store, Console: stdout, ProbeCredentials: true, Logs: awslogs.ForAccounts, Scaling: autoscaling.ForAccount,
		Remedies: app.RemediesInBackground, Listener: ln, Server: opts, Metrics: prom.New(),
		ReconcileEvery: time.Minute, SweepEvery: time.Hour, Retain: retainResolved})
	if err != nil {
		ln.Close()
		fmt.Fprintf(stderr, "medic serve: %v\n", err)
		return 1
	}
	url := "http://" + ln.Addr().String()
	auth := ""
	if a.Config().APIToken.Value != "" {
		auth = ` -H "Authorization: Bearer $MEDIC_API_TOKEN"`
	}
	fmt.Fprintf(stderr, `medic serve: listening on %s (store %s)
  send an event:   curl -s -X POST %s/events -H 'Content-Type: application/json'%s \
                     -d @testdata/events/ecs-task-state-change-stopped-essential-container-exited.json
  see incidents:   curl -s%s '%s/incidents?state=open'
`, url, cfg.DB, url, auth, auth, url)
	log.Info("serving", zap.String("addr", ln.Addr().String()), zap.String("db", cfg.DB))

	if err := a.Start(ctx); err != nil {
		fmt.Fprintf(stderr, "medic serve: %v\n", err)
		return 1
	}
	code := 0
	select {
	case err := <-a.Err():
		log.Error("server stopped", zap.Error(err))
		code = 1
	case <-ctx.Done():
		log.Info("shutting down")
	}
	// A fix under way waits for ECS up to app.JobTimeout: Stop gives it that long, and a bit more.
	sctx, cancel := context.WithTimeout(context.Background(), app.JobTimeout+10*time.Second)
	defer cancel()
	if err := a.Stop(sctx); err != nil {
		log.Error("shutdown", zap.Error(err))
		return 1
	}
	return code
}
