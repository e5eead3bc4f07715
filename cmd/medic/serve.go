package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/ecs-medic/ecs-medic/internal/app"
	"github.com/ecs-medic/ecs-medic/internal/boltstore"
	"github.com/ecs-medic/ecs-medic/internal/chatops"
	"github.com/ecs-medic/ecs-medic/internal/config"
	"github.com/ecs-medic/ecs-medic/internal/logging"
	"github.com/ecs-medic/ecs-medic/internal/reconcile"
	"github.com/ecs-medic/ecs-medic/internal/server"
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
	var a *app.App
	remedy := func(ctx context.Context, id string) { a.RemedyInBackground(ctx, id) }
	a, err = app.New(ctx, cfg, log, app.Options{Store: store, Console: stdout, ProbeCredentials: true, Remedy: remedy})
	if err != nil {
		fmt.Fprintf(stderr, "medic serve: %v\n", err)
		return 1
	}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		fmt.Fprintf(stderr, "medic serve: %v\n", err)
		return 1
	}
	opts := []server.Option{server.WithToken(a.Config.APIToken.Value.Reveal())}
	if server.IsLoopback(cfg.Addr) {
		opts = append(opts, server.WithHosts(server.LoopbackHosts(ln.Addr().String())...))
	}
	srv := &http.Server{
		Handler:           server.New(a.Pipeline, store, a.Metrics, log, slackHandler(a), opts...),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
	}
	url := "http://" + ln.Addr().String()
	auth := ""
	if a.Config.APIToken.Value != "" {
		auth = ` -H "Authorization: Bearer $MEDIC_API_TOKEN"`
	}
	fmt.Fprintf(stderr, `medic serve: listening on %s (store %s)
  send an event:   curl -s -X POST %s/events -H 'Content-Type: application/json'%s \
                     -d @testdata/events/ecs-task-state-change-stopped-essential-container-exited.json
  see incidents:   curl -s%s '%s/incidents?state=open'
`, url, cfg.DB, url, auth, auth, url)
	log.Info("serving", zap.String("addr", ln.Addr().String()), zap.String("db", cfg.DB))

	go every(ctx, time.Hour, func() { sweep(store, log) })
	rec := a.Reconciler()
	go every(ctx, time.Minute, func() { reconcileOnce(ctx, rec, log) })
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			log.Error("server stopped", zap.Error(err))
			return 1
		}
	case <-ctx.Done():
		log.Info("shutting down")
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			log.Error("shutdown", zap.Error(err))
			return 1
		}
	}
	return 0
}

// slackHandler is the /medic handler when a signing secret is configured; its deferred work runs
// in goroutines.
func slackHandler(a *app.App) http.Handler {
	h := a.Slack(chatops.Goroutines)
	if h == nil {
		return nil
	}
	return h
}

// every calls fn each interval until ctx ends.
func every(ctx context.Context, interval time.Duration, fn func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}

// reconcileOnce runs the reconciler once, as the scheduled Lambda does in AWS every minute.
func reconcileOnce(ctx context.Context, r *reconcile.Reconciler, log *zap.Logger) {
	rep, err := r.Run(ctx)
	if err != nil {
		log.Warn("reconcile", zap.Error(err))
		return
	}
	if rep.Resolved+rep.Escalated+rep.Found+rep.Errors > 0 {
		log.Info("reconciled", zap.Int("checked", rep.Checked), zap.Int("resolved", rep.Resolved),
			zap.Int("escalated", rep.Escalated), zap.Int("found", rep.Found), zap.Int("errors", rep.Errors))
	}
}

// sweep drops expired idempotency marks and old resolved incidents.
func sweep(store *boltstore.Store, log *zap.Logger) {
	if n, err := store.Sweep(retainResolved); err != nil {
		log.Warn("sweep store", zap.Error(err))
	} else if n > 0 {
		log.Info("swept store", zap.Int("removed", n))
	}
}
