// Package app wires ecs-medic's parts from a configuration: the logger, metrics, the ECS state
// source, the notifiers and the pipeline. The Lambda mains and `medic serve`/`replay` share it so
// that every entry point is built the same way.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"go.uber.org/zap"

	"github.com/ecs-medic/ecs-medic/internal/config"
	"github.com/ecs-medic/ecs-medic/internal/dynamostore"
	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/logging"
	"github.com/ecs-medic/ecs-medic/internal/metrics"
	"github.com/ecs-medic/ecs-medic/internal/notify"
	"github.com/ecs-medic/ecs-medic/internal/notify/console"
	"github.com/ecs-medic/ecs-medic/internal/pipeline"
	"github.com/ecs-medic/ecs-medic/internal/servicestate"
)

// App is a wired ecs-medic.
type App struct {
	Config   config.Config
	Log      *zap.Logger
	Metrics  *metrics.Metrics
	States   pipeline.StateReader
	Source   *servicestate.Source // nil when ECS is unreachable
	ECS      *ecs.Client          // nil when ECS is unreachable
	Fanout   *notify.Fanout
	Manager  *incident.Manager
	Pipeline *pipeline.Pipeline
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
	// ProbeCredentials checks at start that AWS credentials exist, so a laptop without them gets
	// one clear log line and "state unavailable" instead of a slow failure per event.
	ProbeCredentials bool
}

// New wires an App.
func New(ctx context.Context, cfg config.Config, log *zap.Logger, opts Options) (*App, error) {
	a := &App{Config: cfg, Log: log, States: opts.States}
	if a.States == nil {
		a.States, a.Source, a.ECS = ecsStates(ctx, log, opts)
	}
	if a.Source != nil {
		src := a.Source
		a.Metrics = metrics.New(metrics.CounterFunc("medic_ecs_describe_services_calls_total",
			"DescribeServices calls made to read service state.", func() float64 { return float64(src.Calls()) }))
	} else {
		a.Metrics = metrics.New()
	}

	var notifiers []notify.Notifier
	if !cfg.PagerDutyRoutingKey.Set() {
		log.Info("MEDIC_PAGERDUTY_ROUTING_KEY is not set: no paging")
	}
	if len(notifiers) == 0 && opts.Console != nil {
		notifiers = append(notifiers, console.New(opts.Console))
	}
	a.Fanout = notify.NewFanout(notifiers)
	a.Manager = incident.NewManager(opts.Store)
	a.Pipeline = pipeline.New(a.Manager, a.States, a.Fanout, log, a.Metrics)
	return a, nil
}

func ecsStates(ctx context.Context, log *zap.Logger, opts Options) (pipeline.StateReader, *servicestate.Source, *ecs.Client) {
	var cfg aws.Config
	if opts.AWS != nil {
		cfg = *opts.AWS
	} else {
		loaded, err := awsconfig.LoadDefaultConfig(ctx)
		if err != nil {
			log.Warn("AWS configuration could not be loaded: severity falls back to P3", zap.Error(err))
			return servicestate.Unavailable{Reason: "AWS configuration: " + err.Error()}, nil, nil
		}
		cfg = loaded
	}
	if cfg.Region == "" {
		log.Warn("no AWS region configured (AWS_REGION): service state unavailable, severity falls back to P3")
		return servicestate.Unavailable{Reason: "no AWS region configured"}, nil, nil
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
			return servicestate.Unavailable{Reason: "no AWS credentials"}, nil, nil
		}
	}
	client := ecs.NewFromConfig(cfg)
	src := servicestate.New(client)
	return src, src, client
}

// ForLambda wires an App the way every Lambda function needs it: configuration from the
// environment, JSON logs, the SDK's default AWS configuration, and the DynamoDB store on
// MEDIC_TABLE. Cold-start work is done here, once per execution environment.
func ForLambda(ctx context.Context, getenv func(string) string) (*App, *dynamostore.Store, error) {
	cfg, err := config.Load(getenv)
	if err != nil {
		return nil, nil, err
	}
	if cfg.Table == "" {
		return nil, nil, errors.New("MEDIC_TABLE is not set: the Lambda functions keep incidents in DynamoDB")
	}
	log, err := logging.New(cfg.LogLevel)
	if err != nil {
		return nil, nil, err
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	store := dynamostore.New(dynamodb.NewFromConfig(awsCfg), cfg.Table)
	a, err := New(ctx, cfg, log, Options{Store: store, AWS: &awsCfg, Console: os.Stdout})
	if err != nil {
		return nil, nil, err
	}
	return a, store, nil
}
