// Command slack is the Lambda function behind the Slack app's Function URL: the `/medic` slash
// command and the incident messages' buttons. Work that calls AWS or a receiver runs in an
// asynchronous invocation of this same function, after Slack has its acknowledgement.
package main

import (
	"context"
	"fmt"
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
		fmt.Fprintln(os.Stderr, "slack: MEDIC_SLACK_SIGNING_SECRET (or _ARN, _SSM) is required: every Slack request is verified")
		os.Exit(1)
	}
	lambda.Start(awslambda.Slack(h, h.Run))
}
