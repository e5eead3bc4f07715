// Command slack is the Lambda function behind the Slack app's Function URL: the `/medic` slash
// command and the incident messages' buttons. Work that calls AWS or a receiver runs in an
// asynchronous invocation of this same function, after Slack has its acknowledgement.
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/ecs-medic/ecs-medic/internal/app"
	"github.com/ecs-medic/ecs-medic/internal/awslambda"
	"github.com/ecs-medic/ecs-medic/internal/chatops"
)

func main() {
	a, err := app.ForLambda(context.Background(), os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "slack:", err)
		os.Exit(1)
	}
	self := awslambda.SelfInvoke(a.Lambda, os.Getenv("AWS_LAMBDA_FUNCTION_NAME"))
	h := a.Slack(func(*chatops.Handler) chatops.Deferrer { return self })
	if h == nil {
		// Deployed before its secrets were filled (the URL must exist to create the Slack app):
		// answer every request 503, saying why, rather than failing to start on each one.
		a.Log.Warn("MEDIC_SLACK_SIGNING_SECRET (or _ARN, _SSM) is not set: every Slack request is refused until it is (Terraform: fill the signing secret, set slack_enabled = true)")
		lambda.Start(awslambda.FunctionURL(notSwitchedOn{}))
		return
	}
	lambda.Start(awslambda.Slack(h, h.Run))
}

// notSwitchedOn answers Slack while the function has no signing secret to verify requests with.
type notSwitchedOn struct{}

func (notSwitchedOn) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	http.Error(w, "ecs-medic: Slack is not switched on yet: fill the slack-signing-secret and slack-bot-token secrets and set slack_enabled = true", http.StatusServiceUnavailable)
}
