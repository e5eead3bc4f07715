// Package app is ecs-medic's composition root: it wires the parts from a configuration (the
// logger, metrics, the ECS state source, the notifiers, the pipeline, the reconciler, Slack's
// handler, the remediator) and runs them with Start and Stop: the HTTP API, the tickers and the
// background jobs (fixes, Slack's deferred work), every one of which Stop waits for. The Lambda
// mains, `medic serve`/`replay` and the tests share it so that every entry point is built the
// same way.
package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	slackapi "github.com/slack-go/slack"
	"go.uber.org/zap"

	"github.com/ecs-medic/ecs-medic/internal/accounts"
	"github.com/ecs-medic/ecs-medic/internal/chatops"
	"github.com/ecs-medic/ecs-medic/internal/config"
	"github.com/ecs-medic/ecs-medic/internal/cost"
	"github.com/ecs-medic/ecs-medic/internal/deployment"
	"github.com/ecs-medic/ecs-medic/internal/digest"
	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/metrics"
	"github.com/ecs-medic/ecs-medic/internal/notify"
	"github.com/ecs-medic/ecs-medic/internal/notify/pagerduty"
	"github.com/ecs-medic/ecs-medic/internal/notify/slack"
	"github.com/ecs-medic/ecs-medic/internal/pipeline"
	"github.com/ecs-medic/ecs-medic/internal/reconcile"
	"github.com/ecs-medic/ecs-medic/internal/remediate"
	"github.com/ecs-medic/ecs-medic/internal/route"
	"github.com/ecs-medic/ecs-medic/internal/runbook"
	"github.com/ecs-medic/ecs-medic/internal/secrets"
	"github.com/ecs-medic/ecs-medic/internal/server"
	"github.com/ecs-medic/ecs-medic/internal/servicestate"
	"github.com/ecs-medic/ecs-medic/internal/tasklogs"
	"github.com/ecs-medic/ecs-medic/runbooks"
)

// App is a wired ecs-medic: the composition root every entry point builds (medic serve, medic
// replay, the Lambda functions, the tests) and runs with Start and Stop. Nothing in it is nil: a
// part that cannot work here (no ECS, no remediation, no digest) is a stand-in that says why.
type App struct {
	cfg      config.Config
	log      *zap.Logger
	metrics  *metrics.Metrics
	store    incident.Store
	states   pipeline.StateReader
	forget   func(servicestate.Ref)
	sender   notify.Sender // counts every notification, whoever sends it
	manager  *incident.Manager
	pipeline *pipeline.Pipeline
	region   string
	runbooks *runbook.Set
	// reconciler is the pass the schedule (or medic serve's ticker) runs.
	reconciler *reconcile.Reconciler
	// fix carries out a fix: the remediator here, the remediation function elsewhere, or nil
	// when ECS cannot be reached (chatops then tells the human how to do it by hand).
	fix func(context.Context, remediate.Request) (remediate.Outcome, error)
	// remediator is the remediator's Handle, or a refusal saying ECS cannot be reached.
	remediator func(context.Context, remediate.Request) (remediate.Outcome, error)
	slack      *chatops.Handler // nil without MEDIC_SLACK_SIGNING_SECRET: no Slack request is served
	handler    http.Handler     // medic serve's HTTP API

	// routes (MEDIC_ROUTES, nil without) and their PagerDuty keys are what `/medic oncall` reads.
	routes    *route.File
	pagerKeys pagerKeys

	opts Options
	jobs *jobs
	life lifecycle
	// queues deliver Slack's messages in the background between Start and Stop, one per channel.
	queues []*notify.Queue
}

// Remedies says what happens when an incident whose runbook has a fix opens or worsens.
type Remedies int

const (
	// RemediesOff asks for no fix (medic replay, most tests).
	RemediesOff Remedies = iota
	// RemediesInline runs the remediator inside the event's handling (recorded scenarios).
	RemediesInline
	// RemediesInBackground runs the remediator as a background job, so an event is answered
	// without waiting for ECS; Stop waits for it (medic serve).
	RemediesInBackground
)

// Options are the parts an entry point chooses.
type Options struct {
	Store incident.Store
	// Console is where the console notifier writes when no receiver is configured.
	Console io.Writer
	// States overrides the ECS state source (tests, recorded scenarios).
	States pipeline.StateReader
	// AWS is the AWS configuration; when nil it is loaded the SDK's standard way (AWS_REGION,
	// AWS_ENDPOINT_URL_ECS, profiles, roles, ...).
	AWS *aws.Config
	// Remedies chooses how a fix is asked for; Remedy, when set, replaces it (the Lambda
	// functions invoke the remediation function).
	Remedies Remedies
	Remedy   func(ctx context.Context, incidentID string)
	// FixVia runs a human's fix elsewhere (the remediation function) instead of here.
	FixVia func(context.Context, remediate.Request) (remediate.Outcome, error)
	// Defer runs Slack's deferred work; nil: a background job, drained by Stop (medic serve).
	Defer func(*chatops.Handler) chatops.Deferrer
	// Metrics are where the App counts (metrics/prom for medic serve's GET /metrics); nil: none
	// kept (the Lambda functions).
	Metrics *metrics.Metrics
	// Now is the clock of the per-account clients and the state cache (tests); default time.Now.
	Now func() time.Time
	// IncidentClock stamps incidents and their timelines: wall time by default, the events' own
	// time in a replay, so a recorded night replays with its own times.
	IncidentClock func() time.Time
	// Deployments reads the task definitions a deployment link compares (recorded scenarios);
	// nil: each account's ECS client, when ECS is reachable.
	Deployments pipeline.DeploymentReader
	// Logs builds the reader of stopped tasks' container logs over the per-account clients
	// (awslogs.ForAccounts): the pipeline keeps their last lines as an incident's evidence, and
	// Slack's `/medic logs` and `why` show them. The entry point gives it, so that a Lambda function
	// that never reads logs does not link the CloudWatch Logs client; nil: no log is read.
	Logs func(tasklogs.Clients) tasklogs.Tailer
	// Scaling reads an account's Application Auto Scaling maximum for scale-out
	// (autoscaling.ForAccount). The entry points that carry out fixes give it, so that the
	// functions that never scale do not link that client; nil: scale-out is refused.
	Scaling func(*accounts.Clients) remediate.Scaling
	// ProbeCredentials checks at start that AWS credentials exist, so a laptop without them gets
	// one clear log line and "state unavailable" instead of a slow failure per event.
	ProbeCredentials bool

	// Listener, when set, is where Start serves the HTTP API (medic serve).
	Listener net.Listener
	// Server are the HTTP API's options (token, allowed hosts).
	Server []server.Option
	// ReconcileEvery runs the reconciler on a ticker from Start to Stop; 0: never (the Lambda
	// schedule runs it, tests call it).
	ReconcileEvery time.Duration
	// SweepEvery drops expired marks and resolved incidents older than Retain, when the store
	// can (the embedded store); 0: never.
	SweepEvery time.Duration
	Retain     time.Duration
}

// New wires an App. Nothing runs until Start.
func New(ctx context.Context, cfg config.Config, log *zap.Logger, opts Options) (*App, error) {
	a := &App{cfg: cfg, log: log, store: opts.Store, states: opts.States, forget: func(servicestate.Ref) {}, opts: opts}
	a.jobs = newJobs(log)
	awsCfg, awsReason := loadAWS(ctx, opts)
	var (
		source *servicestate.Source
		home   *ecs.Client
		prov   *accounts.Provider
	)
	if a.states == nil {
		a.states, source, home, prov = ecsStates(ctx, log, awsCfg, awsReason, opts, cfg)
	}
	a.metrics = opts.Metrics
	if a.metrics == nil {
		a.metrics = metrics.Nop()
	}
	if source != nil {
		a.forget = source.Forget
		a.metrics.CounterFunc("medic_ecs_describe_services_calls_total",
			"DescribeServices calls made to read service state.", func() float64 { return float64(source.Calls()) })
	}

	if secrets.Needed(&cfg) {
		if awsReason != "" {
			return nil, fmt.Errorf("secrets given as _ARN or _SSM need AWS: %s", awsReason)
		}
		rd := secrets.NewAWS(awsCfg)
		if err := secrets.Resolve(ctx, &cfg, rd, rd); err != nil {
			return nil, err
		}
		a.cfg = cfg
	}
	if err := cfg.CheckSecrets(); err != nil {
		return nil, err
	}

	var (
		err    error
		routes *route.File
		fanout notify.Sender
	)
	if cfg.Routes != "" {
		if routes, err = route.Load(cfg.Routes); err != nil {
			return nil, err
		}
		a.routes = routes
	}
	queue := func(n notify.Notifier) notify.Notifier {
		c := counted{metrics: a.metrics}
		q := notify.NewQueue(n, log, notify.WithQueueCount(func(k notify.Kind, r notify.Result) { c.count(k, []notify.Result{r}) }))
		a.queues = append(a.queues, q)
		return q
	}
	if fanout, a.pagerKeys, err = senders(ctx, cfg, routes, awsCfg, awsReason, opts.Console, log, queue); err != nil {
		return nil, err
	}
	a.sender = counted{next: fanout, metrics: a.metrics}
	var mo []incident.Option
	if opts.IncidentClock != nil {
		mo = append(mo, incident.WithClock(opts.IncidentClock))
	}
	if routes != nil {
		mo = append(mo, incident.WithRoute(routeOf(routes)))
	}
	a.manager = incident.NewManager(opts.Store, mo...)
	dig, err := weeklyDigest(cfg, opts.Store)
	if err != nil {
		return nil, err
	}
	a.region = awsCfg.Region
	rbs, err := LoadRunbooks(cfg.Runbooks)
	if err != nil {
		return nil, err
	}
	a.runbooks = rbs
	a.remediator = func(context.Context, remediate.Request) (remediate.Outcome, error) {
		return remediate.Outcome{}, errNoECS
	}
	po := []pipeline.Option{pipeline.WithRunbooks(rbs), pipeline.WithAccounts(cfg.Accounts)}
	if opts.Deployments != nil {
		po = append(po, pipeline.WithDeployments(opts.Deployments))
	}
	var logs tasklogs.Tailer
	if prov != nil {
		if opts.Logs != nil {
			logs = opts.Logs(prov)
			po = append(po, pipeline.WithLogs(logs))
		}
		if opts.Deployments == nil {
			po = append(po, pipeline.WithDeployments(func(ctx context.Context, account, region string) (deployment.ECS, error) {
				cs, err := prov.For(ctx, account, region)
				if err != nil {
					return nil, err
				}
				return cs.ECS, nil
			}))
		}
		prices, err := cost.Load(cfg.Prices)
		if err != nil {
			return nil, fmt.Errorf("MEDIC_PRICES: %w", err)
		}
		r := &remediate.Remediator{Clients: prov, ScalingFor: opts.Scaling, Manager: a.manager, Guards: opts.Store,
			Runbooks: rbs, Sender: a.sender, Cap: cfg.AutoFix, DryRun: cfg.DryRun, MaxTasks: cfg.MaxTasks, Prices: prices, Log: log}
		a.remediator, a.fix = r.Handle, r.Handle
	}
	if opts.FixVia != nil {
		a.fix = opts.FixVia
	}
	switch {
	case opts.Remedy != nil:
		po = append(po, pipeline.WithRemedy(opts.Remedy))
	case opts.Remedies == RemediesInline && prov != nil:
		po = append(po, pipeline.WithRemedy(a.remedyNow))
	case opts.Remedies == RemediesInBackground && prov != nil:
		po = append(po, pipeline.WithRemedy(a.remedyInBackground))
	}
	a.pipeline = pipeline.New(a.manager, a.states, a.sender, log, a.metrics, po...)

	a.reconciler = &reconcile.Reconciler{Manager: a.manager, Guards: opts.Store, States: a.states, Sender: a.sender, Quiet: 5 * time.Minute,
		Region: a.region, Log: log}
	if home != nil { // a nil *ecs.Client in the interface would not read as "no lister"
		a.reconciler.Lister = home
	}
	if dig != nil {
		a.reconciler.Digest = dig
	}
	a.slack = a.slackHandler(prov, logs)
	var slackHTTP http.Handler
	if a.slack != nil {
		slackHTTP = a.slack
	}
	// The API token is the configuration's (its secret read by now); a caller's options follow it.
	so := append([]server.Option{server.WithToken(a.cfg.APIToken.Value.Reveal())}, opts.Server...)
	a.handler = server.New(a.pipeline, opts.Store, a.metrics, log, slackHTTP, so...)
	return a, nil
}

// errNoECS is the remediator's answer where ECS cannot be reached.
var errNoECS = errors.New("ECS cannot be reached (no region or credentials): no fix can be made here")

// Config is the configuration the App runs with, secrets resolved.
func (a *App) Config() config.Config { return a.cfg }

// Log is the App's logger.
func (a *App) Log() *zap.Logger { return a.log }

// Metrics are the App's metrics (GET /metrics); they count nothing unless Options.Metrics
// was given.
func (a *App) Metrics() *metrics.Metrics { return a.metrics }

// Pipeline handles events.
func (a *App) Pipeline() *pipeline.Pipeline { return a.pipeline }

// Manager is the incident manager.
func (a *App) Manager() *incident.Manager { return a.manager }

// Sender delivers notifications to each incident's receivers, counting each outcome
// (medic_notifications_total) whoever sends it: the pipeline, the reconciler, a fix, Slack.
func (a *App) Sender() notify.Sender { return a.sender }

// States reads services' state: ECS through each service's own account, or a stand-in that
// says why it is unavailable.
func (a *App) States() pipeline.StateReader { return a.states }

// ForgetState drops a service's cached state, so the next read asks ECS (no-op without ECS).
func (a *App) ForgetState(ref servicestate.Ref) { a.forget(ref) }

// Runbooks are the runbooks in force.
func (a *App) Runbooks() *runbook.Set { return a.runbooks }

// Region is the home region ("" without AWS).
func (a *App) Region() string { return a.region }

// Reconciler is the reconciler the scheduled function and `medic serve` run every minute: a
// service resolves after 5 quiet minutes at running = desired.
// Each call returns a copy, which a test may tune (Quiet) without changing the App's.
func (a *App) Reconciler() *reconcile.Reconciler {
	r := *a.reconciler
	return &r
}

// Remediate carries out a fix here, under the guardrails: the remediation function's handler. It
// refuses, saying why, where ECS cannot be reached.
func (a *App) Remediate(ctx context.Context, req remediate.Request) (remediate.Outcome, error) {
	return a.remediator(ctx, req)
}

// Handler is `medic serve`'s HTTP API (POST /events, GET /incidents, /metrics, /slack/...).
func (a *App) Handler() http.Handler { return a.handler }

// Slack is the handler of Slack's requests; ok is false when MEDIC_SLACK_SIGNING_SECRET is not
// set: without it no request can be verified, so none is served.
func (a *App) Slack() (h *chatops.Handler, ok bool) { return a.slack, a.slack != nil }

// remedyNow runs the remediator inside the event's handling.
func (a *App) remedyNow(ctx context.Context, id string) {
	if _, err := a.remediator(ctx, remediate.Request{Incident: id, By: "auto"}); err != nil {
		a.log.Warn("remediation", zap.String("incident", id), zap.Error(err))
	}
}

// remedyInBackground runs the remediator as a background job, so an event is answered without
// waiting for ECS. A job refused because the App is stopping is logged: the incident stays open
// and the next fix request (the next failure, or a human) tries again.
func (a *App) remedyInBackground(_ context.Context, id string) {
	err := a.jobs.Go("fix", func(ctx context.Context) error {
		_, err := a.remediator(ctx, remediate.Request{Incident: id, By: "auto"})
		return err
	})
	if err != nil {
		a.log.Warn("remediation not started", zap.String("incident", id), zap.Error(err))
	}
}

// slackHandler builds the handler of Slack's requests (nil without a signing secret).
func (a *App) slackHandler(prov *accounts.Provider, logs tasklogs.Tailer) *chatops.Handler {
	if a.cfg.SlackSigningSecret.Value == "" {
		return nil
	}
	h := &chatops.Handler{
		SigningSecret: a.cfg.SlackSigningSecret.Value,
		SlackAPIURL:   a.cfg.SlackAPIURL,
		AllowedUsers:  a.cfg.SlackAllowedUsers,
		AllowedGroups: a.cfg.SlackAllowedGroups,
		Seen:          a.store,
		Manager:       a.manager,
		Sender:        a.sender,
		Region:        a.region,
		Runbooks:      a.runbooks,
		Log:           a.log,
		Fix:           a.fix,
		// status, why and logs classify as the pipeline does: classify.yaml's rules first.
		Classifier: a.runbooks.Classifier,
	}
	h.OnCall = a.onCall()
	if prov != nil {
		h.Clients = prov
	}
	if logs != nil {
		h.Logs = logs
	}
	if token := a.cfg.SlackBotToken.Value; token != "" && len(a.cfg.SlackAllowedGroups) > 0 {
		var so []slackapi.Option
		if a.cfg.SlackAPIURL != "" {
			so = append(so, slackapi.OptionAPIURL(strings.TrimSuffix(a.cfg.SlackAPIURL, "/")+"/"))
		}
		h.Groups = slackapi.New(token.Reveal(), so...)
	}
	if a.opts.Defer != nil {
		h.Defer = a.opts.Defer(h)
	} else {
		h.Defer = func(_ context.Context, j chatops.Job) error {
			return a.jobs.Go("slack "+string(j.Kind), func(ctx context.Context) error { return h.Run(ctx, j) })
		}
	}
	return h
}

// weeklyDigest builds the weekly digest MEDIC_DIGEST_SCHEDULE asks for (nil when unset). It posts
// with its own Slack client, to MEDIC_DIGEST_CHANNEL or else MEDIC_SLACK_CHANNEL.
func weeklyDigest(cfg config.Config, store incident.Store) (*digest.Digest, error) {
	if cfg.DigestSchedule == "" {
		return nil, nil
	}
	sched, err := digest.ParseSchedule(cfg.DigestSchedule)
	if err != nil {
		return nil, fmt.Errorf("MEDIC_DIGEST_SCHEDULE: %w", err)
	}
	channel := cmp.Or(cfg.DigestChannel, cfg.SlackChannel)
	if cfg.SlackBotToken.Value == "" || channel == "" {
		return nil, errors.New("MEDIC_DIGEST_SCHEDULE posts the weekly digest to Slack: set MEDIC_SLACK_BOT_TOKEN and MEDIC_DIGEST_CHANNEL (or MEDIC_SLACK_CHANNEL), or unset it")
	}
	var so []slack.Option
	if cfg.SlackAPIURL != "" {
		so = append(so, slack.WithAPIURL(cfg.SlackAPIURL))
	}
	return &digest.Digest{Schedule: sched, Channel: channel, Store: store, Poster: slack.New(cfg.SlackBotToken.Value, channel, so...)}, nil
}

// onCall is what `/medic oncall` reads: PagerDuty's REST API (MEDIC_PAGERDUTY_API_TOKEN) and the
// routes' keys.
func (a *App) onCall() *chatops.OnCall {
	oc := &chatops.OnCall{Routes: a.routes, Keys: a.pagerKeys.keys, KeyErrors: a.pagerKeys.errs}
	if tok := a.cfg.PagerDutyAPIToken.Value; tok != "" {
		oc.Finder = pagerduty.NewDirectory(tok, a.cfg.PagerDutyAPIURL)
	}
	return oc
}

// LoadRunbooks reads the runbooks from dir (MEDIC_RUNBOOKS), or the ones built into the binary.
// A folder that is missing, is not a folder, or holds no runbook is an error: silently running
// with no runbook would disable every fix and every paging choice.
func LoadRunbooks(dir string) (*runbook.Set, error) {
	fsys := fs.FS(runbooks.FS)
	if dir != "" {
		st, err := os.Stat(dir)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("runbooks: folder %s does not exist: point MEDIC_RUNBOOKS at your runbooks folder, or unset it to use the built-in runbooks", dir)
		case err != nil:
			return nil, fmt.Errorf("runbooks: %w", err)
		case !st.IsDir():
			return nil, fmt.Errorf("runbooks: %s is not a folder: MEDIC_RUNBOOKS names the folder that holds the *.md runbooks", dir)
		}
		fsys = os.DirFS(dir)
	}
	set, err := runbook.Load(fsys)
	if errors.Is(err, runbook.ErrEmpty) {
		// The set is returned too: its classifier (classify.yaml) serves `medic classify`.
		return set, fmt.Errorf("runbooks: %s: %w; add runbooks there, or unset MEDIC_RUNBOOKS to use the built-in ones", dir, runbook.ErrEmpty)
	}
	if err != nil {
		return nil, fmt.Errorf("runbooks: %w", err)
	}
	return set, nil
}

// loadAWS returns the AWS configuration, or why there is none usable.
func loadAWS(ctx context.Context, opts Options) (aws.Config, string) {
	if opts.AWS != nil {
		return *opts.AWS, ""
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return cfg, "AWS configuration: " + err.Error()
	}
	if cfg.Region == "" {
		return cfg, "no AWS region configured (AWS_REGION)"
	}
	return cfg, ""
}

func ecsStates(ctx context.Context, log *zap.Logger, cfg aws.Config, reason string, opts Options, c config.Config) (pipeline.StateReader, *servicestate.Source, *ecs.Client, *accounts.Provider) {
	if reason != "" {
		log.Warn("service state unavailable, severity falls back to P3: " + reason)
		return servicestate.Unavailable{Reason: reason}, nil, nil, nil
	}
	if opts.ProbeCredentials {
		pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		err := errors.New("no credential provider")
		if cfg.Credentials != nil {
			_, err = cfg.Credentials.Retrieve(pctx)
		}
		cancel()
		if err != nil {
			log.Warn("no AWS credentials: service state unavailable, severity falls back to P3", zap.Error(err))
			return servicestate.Unavailable{Reason: "no AWS credentials"}, nil, nil, nil
		}
	}
	// Every service is read and changed with its own account's credentials (SPEC §2, §8).
	ao := []accounts.Option{accounts.WithHome(c.HomeAccount), accounts.WithMemberRole(c.MemberRoleARN)}
	var so []servicestate.Option
	if opts.Now != nil {
		ao, so = append(ao, accounts.WithClock(opts.Now)), append(so, servicestate.WithClock(opts.Now))
	}
	prov := accounts.New(cfg, ao...)
	if c.MemberRoleARN == "" {
		log.Info("MEDIC_MEMBER_ROLE_ARN is not set: services of accounts other than the home account are never read or changed")
	}
	src := servicestate.PerAccount(prov, so...)
	return src, src, ecs.NewFromConfig(cfg), prov
}
