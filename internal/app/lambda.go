package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"go.uber.org/zap"

	"github.com/ecs-medic/ecs-medic/internal/config"
	"github.com/ecs-medic/ecs-medic/internal/dynamostore"
	"github.com/ecs-medic/ecs-medic/internal/logging"
)

// Parts adds what one function's role needs beyond the store, the pipeline and the notifiers:
// the events function asks the remediation function for fixes, the Slack function runs fixes
// there and sends itself its deferred jobs (package invoke). They are given by the function's
// main, so a function that invokes nothing never links the Lambda API client. nil: nothing more.
type Parts func(awsCfg aws.Config, log *zap.Logger, o *Options)

// Lambda is one function's App, built at its first invocation. The configuration is read and
// checked at init (a misconfigured function fails to start, saying why); the rest — the AWS
// configuration, secrets, runbooks, routes, the clients — is built when first needed, so the cold
// start pays only for the packages the function links. A build that fails is tried again at the
// next invocation (a secret not readable yet, a throttled call), not cached.
type Lambda struct {
	cfg    config.Config
	log    *zap.Logger
	getenv func(string) string
	parts  Parts

	mu  sync.Mutex
	app *App
}

// NewLambda reads and checks a function's configuration from the environment: MEDIC_TABLE (the
// functions keep incidents in DynamoDB), the log level, every MEDIC_ variable's syntax.
func NewLambda(getenv func(string) string, parts Parts) (*Lambda, error) {
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
	return &Lambda{cfg: cfg, log: log, getenv: getenv, parts: parts}, nil
}

// Log is the function's logger.
func (l *Lambda) Log() *zap.Logger { return l.log }

// App returns the function's App, building it on the first call. Invocations of one execution
// environment never overlap, but the lock keeps a second caller from building twice anyway.
func (l *Lambda) App(ctx context.Context) (*App, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.app != nil {
		return l.app, nil
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	opts := Options{Store: dynamostore.New(dynamodb.NewFromConfig(awsCfg), l.cfg.Table), AWS: &awsCfg, Console: os.Stdout}
	if l.parts != nil {
		l.parts(awsCfg, l.log, &opts)
	}
	a, err := New(ctx, l.cfg, l.log, opts)
	if err != nil {
		return nil, err
	}
	l.app = a
	return a, nil
}

// LambdaHandler adapts a handler built from the App to Lambda: the App is built at the first
// invocation (Lambda.App), and a build that fails fails that invocation, logged, so Lambda
// retries the event and the next invocation builds again.
func LambdaHandler[In, Out any](l *Lambda, h func(*App) func(context.Context, In) (Out, error)) func(context.Context, In) (Out, error) {
	var (
		mu   sync.Mutex
		hdlr func(context.Context, In) (Out, error)
	)
	return func(ctx context.Context, in In) (Out, error) {
		mu.Lock()
		if hdlr == nil {
			a, err := l.App(ctx)
			if err != nil {
				mu.Unlock()
				l.log.Error("start", zap.Error(err))
				var zero Out
				return zero, err
			}
			hdlr = h(a)
		}
		f := hdlr
		mu.Unlock()
		return f(ctx, in)
	}
}
