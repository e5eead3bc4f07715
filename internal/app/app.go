// Package app wires ecs-medic's parts from a configuration: the logger, metrics, the ECS state
// source, the notifiers and the pipeline. The Lambda mains and `medic serve`/`replay` share it so
// that every entry point is built the same way.
package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	awslambdasvc "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	slackapi "github.com/slack-go/slack"
	"go.uber.org/zap"

	"github.com/ecs-medic/ecs-medic/internal/accounts"
	"github.com/ecs-medic/ecs-medic/internal/chatops"
	"github.com/ecs-medic/ecs-medic/internal/config"
	"github.com/ecs-medic/ecs-medic/internal/cost"
	"github.com/ecs-medic/ecs-medic/internal/deployment"
	"github.com/ecs-medic/ecs-medic/internal/digest"
	"github.com/ecs-medic/ecs-medic/internal/dynamostore"
	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/logging"
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
	"github.com/ecs-medic/ecs-medic/internal/servicestate"
	"github.com/ecs-medic/ecs-medic/internal/tasklogs"
	"github.com/ecs-medic/ecs-medic/runbooks"
)

// App is a wired ecs-medic.
type App struct {
	Config  config.Config
	Log     *zap.Logger
	Metrics *metrics.Metrics
	States  pipeline.StateReader
	Source  *servicestate.Source // nil when ECS is unreachable
	// ECS is the home account's client (default credentials), for the reconciler's sweep of the
	// home account; nil when ECS is unreachable. Everything about a given service goes through
	// Accounts instead, with that service's own account's credentials.
	ECS      *ecs.Client
	Accounts *accounts.Provider // nil when ECS is unreachable
	// Fanout delivers notifications: each incident to its route's receivers (MEDIC_ROUTES).
	Fanout   notify.Sender
	Routes   *route.File // nil without MEDIC_ROUTES
	Manager  *incident.Manager
	Pipeline *pipeline.Pipeline
	Logs     *tasklogs.Reader // nil when ECS is unreachable
	Region   string
	Runbooks *runbook.Set
	// Remediator changes ECS; nil when ECS is unreachable. Only the remediation function (and
	// medic serve) may use it: the other Lambdas' roles cannot call ECS's write APIs.
	Remediator *remediate.Remediator
	// FixVia runs a human's fix elsewhere (the remediation function), when set.
	FixVia func(context.Context, remediate.Request) (remediate.Outcome, error)
	// Lambda invokes functions (the remediation function, the Slack function's deferred work);
	// set by ForLambda only.
	Lambda *awslambdasvc.Client

	// digest posts the weekly report; nil when MEDIC_DIGEST_SCHEDULE is unset.
	digest *digest.Digest
	// pagerKeys are the routes' PagerDuty keys, for `/medic oncall`.
	pagerKeys pagerKeys
}

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
	// Remedy is called when an incident with a runbook fix opens (pipeline.WithRemedy).
	Remedy func(ctx context.Context, incidentID string)
	// Now is the clock of the per-account clients and the state cache (tests); default time.Now.
	Now func() time.Time
	// IncidentClock stamps incidents and their timelines: wall time by default, the events' own
	// time in a replay, so a recorded night replays with its own times.
	IncidentClock func() time.Time
	// Deployments reads the task definitions a deployment link compares (recorded scenarios);
	// nil: each account's ECS client, when ECS is reachable.
	Deployments pipeline.DeploymentReader
	// ProbeCredentials checks at start that AWS credentials exist, so a laptop without them gets
	// one clear log line and "state unavailable" instead of a slow failure per event.
	ProbeCredentials bool
}

// New wires an App.
func New(ctx context.Context, cfg config.Config, log *zap.Logger, opts Options) (*App, error) {
	a := &App{Config: cfg, Log: log, States: opts.States}
	awsCfg, awsReason := loadAWS(ctx, opts)
	if a.States == nil {
		a.States, a.Source, a.ECS, a.Accounts = ecsStates(ctx, log, awsCfg, awsReason, opts, cfg)
	}
	if a.Source != nil {
		src := a.Source
		a.Metrics = metrics.New(metrics.CounterFunc("medic_ecs_describe_services_calls_total",
			"DescribeServices calls made to read service state.", func() float64 { return float64(src.Calls()) }))
	} else {
		a.Metrics = metrics.New()
	}

	if secrets.Needed(&cfg) {
		if awsReason != "" {
			return nil, fmt.Errorf("secrets given as _ARN or _SSM need AWS: %s", awsReason)
		}
		if err := secrets.Resolve(ctx, &cfg, secretsmanager.NewFromConfig(awsCfg), ssm.NewFromConfig(awsCfg)); err != nil {
			return nil, err
		}
		a.Config = cfg
	}
	if err := cfg.CheckSecrets(); err != nil {
		return nil, err
	}

	var err error
	if cfg.Routes != "" {
		if a.Routes, err = route.Load(cfg.Routes); err != nil {
			return nil, err
		}
	}
	if a.Fanout, a.pagerKeys, err = senders(ctx, cfg, a.Routes, awsCfg, awsReason, opts.Console, log); err != nil {
		return nil, err
	}
	var mo []incident.Option
	if opts.IncidentClock != nil {
		mo = append(mo, incident.WithClock(opts.IncidentClock))
	}
	if a.Routes != nil {
		mo = append(mo, incident.WithRoute(routeOf(a.Routes)))
	}
	a.Manager = incident.NewManager(opts.Store, mo...)
	if a.digest, err = weeklyDigest(cfg, opts.Store); err != nil {
		return nil, err
	}
	a.Region = awsCfg.Region
	rbs, err := LoadRunbooks(cfg.Runbooks)
	if err != nil {
		return nil, err
	}
	a.Runbooks = rbs
	po := []pipeline.Option{pipeline.WithRunbooks(rbs), pipeline.WithAccounts(cfg.Accounts)}
	if opts.Deployments != nil {
		po = append(po, pipeline.WithDeployments(opts.Deployments))
	}
	if a.Accounts != nil {
		a.Logs = tasklogs.PerAccount(a.Accounts, 20)
		po = append(po, pipeline.WithLogs(a.Logs))
		if opts.Deployments == nil {
			po = append(po, pipeline.WithDeployments(func(ctx context.Context, account, region string) (deployment.ECS, error) {
				cs, err := a.Accounts.For(ctx, account, region)
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
		a.Remediator = &remediate.Remediator{Clients: a.Accounts, Manager: a.Manager,
			Runbooks: rbs, Sender: a.Fanout, Cap: cfg.AutoFix, DryRun: cfg.DryRun, MaxTasks: cfg.MaxTasks, Prices: prices, Log: log}
	}
	if opts.Remedy != nil {
		po = append(po, pipeline.WithRemedy(opts.Remedy))
	}
	a.Pipeline = pipeline.New(a.Manager, a.States, a.Fanout, log, a.Metrics, po...)
	return a, nil
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

// Reconciler is the reconciler the scheduled function and `medic serve` run every minute: a
// service resolves after 5 quiet minutes at running = desired.
func (a *App) Reconciler() *reconcile.Reconciler {
	r := &reconcile.Reconciler{Manager: a.Manager, States: a.States, Sender: a.Fanout, Quiet: 5 * time.Minute,
		Region: a.Region, Log: a.Log}
	if a.ECS != nil { // a nil *ecs.Client in the interface would not read as "no lister"
		r.Lister = a.ECS
	}
	if a.digest != nil {
		r.Digest = a.digest
	}
	return r
}

// RemedyInBackground is the remedy of `medic serve`: the remediator runs in a goroutine, so an
// event is answered without waiting for ECS.
func (a *App) RemedyInBackground(ctx context.Context, id string) {
	if a.Remediator == nil {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		if _, err := a.Remediator.Handle(ctx, remediate.Request{Incident: id, By: "auto"}); err != nil {
			a.Log.Warn("remediation", zap.String("incident", id), zap.Error(err))
		}
	}()
}

// Slack returns the handler of Slack's requests, or nil when MEDIC_SLACK_SIGNING_SECRET is not
// set: without it no request can be verified, so none is served.
func (a *App) Slack(deferrer func(*chatops.Handler) chatops.Deferrer) *chatops.Handler {
	if a.Config.SlackSigningSecret.Value == "" {
		return nil
	}
	h := &chatops.Handler{
		SigningSecret: a.Config.SlackSigningSecret.Value,
		SlackAPIURL:   a.Config.SlackAPIURL,
		AllowedUsers:  a.Config.SlackAllowedUsers,
		AllowedGroups: a.Config.SlackAllowedGroups,
		Manager:       a.Manager,
		Sender:        a.Fanout,
		Region:        a.Region,
		Log:           a.Log,
	}
	if a.Runbooks != nil {
		// status, why and logs classify as the pipeline does: classify.yaml's rules first.
		h.Classifier = a.Runbooks.Classifier
	}
	if a.Accounts != nil {
		h.Clients = a.Accounts
	}
	if a.Logs != nil {
		h.Logs = a.Logs
	}
	if token := a.Config.SlackBotToken.Value; token != "" && len(a.Config.SlackAllowedGroups) > 0 {
		var so []slackapi.Option
		if a.Config.SlackAPIURL != "" {
			so = append(so, slackapi.OptionAPIURL(strings.TrimSuffix(a.Config.SlackAPIURL, "/")+"/"))
		}
		h.Groups = slackapi.New(token.Reveal(), so...)
	}
	switch {
	case a.FixVia != nil:
		h.Fix = a.FixVia
	case a.Remediator != nil:
		h.Fix = a.Remediator.Handle
	}
	h.OnCall = a.onCall()
	h.Defer = deferrer(h)
	return h
}

// onCall is what `/medic oncall` reads: PagerDuty's REST API (MEDIC_PAGERDUTY_API_TOKEN) and the
// routes' keys.
func (a *App) onCall() *chatops.OnCall {
	oc := &chatops.OnCall{Routes: a.Routes, Keys: a.pagerKeys.keys, KeyErrors: a.pagerKeys.errs}
	if tok := a.Config.PagerDutyAPIToken.Value; tok != "" {
		oc.Finder = pagerduty.NewDirectory(tok, a.Config.PagerDutyAPIURL)
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

// ForLambda wires an App the way every Lambda function needs it: configuration from the
// environment, JSON logs, the SDK's default AWS configuration, and the DynamoDB store on
// MEDIC_TABLE. Cold-start work is done here, once per execution environment: the AWS
// configuration is loaded once and its clients are shared.
func ForLambda(ctx context.Context, getenv func(string) string) (*App, error) {
	cfg, err := config.Load(getenv)
	if err != nil {
		return nil, err
	}
	if cfg.Table == "" {
		return nil, errors.New("MEDIC_TABLE is not set: the Lambda functions keep incidents in DynamoDB")
	}
	log, err := logging.New(cfg.LogLevel)
	if err != nil {
		return nil, err
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	invoker := awslambdasvc.NewFromConfig(awsCfg)
	opts := Options{Store: dynamostore.New(dynamodb.NewFromConfig(awsCfg), cfg.Table), AWS: &awsCfg, Console: os.Stdout}
	fn := getenv("MEDIC_REMEDIATE_FUNCTION")
	if fn != "" {
		opts.Remedy = remedyVia(invoker, fn, log)
	}
	a, err := New(ctx, cfg, log, opts)
	if err != nil {
		return nil, err
	}
	a.Lambda = invoker
	if fn != "" {
		a.FixVia = fixVia(invoker, fn)
	}
	return a, nil
}
