// Command slack is the Lambda function behind the Slack app's Function URL: the `/medic` slash
// command and the incident messages' buttons. Work that calls AWS or a receiver runs in an
// asynchronous invocation of this same function, after Slack has its acknowledgement.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"go.uber.org/zap"

	"github.com/ecs-medic/ecs-medic/internal/app"
	"github.com/ecs-medic/ecs-medic/internal/awslambda"
	"github.com/ecs-medic/ecs-medic/internal/awslambda/invoke"
	"github.com/ecs-medic/ecs-medic/internal/chatops"
	"github.com/ecs-medic/ecs-medic/internal/tasklogs/awslogs"
)

func main() {
	l, err := app.NewLambda(os.Getenv, parts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "slack:", err)
		os.Exit(1)
	}
	lambda.Start(app.LambdaHandler(l, func(a *app.App) func(context.Context, json.RawMessage) (any, error) {
		h, ok := a.Slack()
		if !ok {
			// Deployed before its secrets were filled (the URL must exist to create the Slack app):
			// answer every request 503, saying why, rather than failing on each one.
			a.Log().Warn("MEDIC_SLACK_SIGNING_SECRET (or _ARN, _SSM) is not set: every Slack request is refused until it is (Terraform: fill the signing secret, set slack_enabled = true)")
			return awslambda.Slack(notSwitchedOn{}, func(context.Context, chatops.Job) error { return errNotSwitchedOn })
		}
		return awslambda.Slack(h, h.Run)
	}))
}

// parts: deferred jobs go to an asynchronous invocation of this function, and a human's fix to
// the remediation function (MEDIC_REMEDIATE_FUNCTION), whose role alone may change ECS.
// `/medic logs` and `why` read containers' logs (CloudWatch Logs).
func parts(awsCfg aws.Config, _ *zap.Logger, o *app.Options) {
	o.Logs = awslogs.ForAccounts
	api := invoke.Client(func() aws.Config { return awsCfg })
	self := invoke.Self(api, os.Getenv("AWS_LAMBDA_FUNCTION_NAME"))
	o.Defer = func(*chatops.Handler) chatops.Deferrer { return self }
	if fn := os.Getenv("MEDIC_REMEDIATE_FUNCTION"); fn != "" {
		o.FixVia = invoke.Fix(api, fn)
	}
}

var errNotSwitchedOn = errors.New("slack is not switched on: MEDIC_SLACK_SIGNING_SECRET is not set")

// notSwitchedOn answers Slack while the function has no signing secret to verify requests with.
type notSwitchedOn struct{}

func (notSwitchedOn) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	http.Error(w, "ecs-medic: Slack is not switched on yet: fill the slack-signing-secret and slack-bot-token secrets and set slack_enabled = true", http.StatusServiceUnavailable)
}
