// Command remediate is the only Lambda function allowed to change ECS: it carries out runbook
// fixes (raise memory, roll back, force a new deployment, scale out) under the guardrails of
// internal/remediate, when the events function or the Slack function asks.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"go.uber.org/zap"

	"github.com/ecs-medic/ecs-medic/internal/app"
	"github.com/ecs-medic/ecs-medic/internal/remediate"
	"github.com/ecs-medic/ecs-medic/internal/remediate/autoscaling"
)

func main() {
	l, err := app.NewLambda(os.Getenv, scaling)
	if err != nil {
		fmt.Fprintln(os.Stderr, "remediate:", err)
		os.Exit(1)
	}
	// Where ECS cannot be reached (no region or credentials) every request is refused, saying so.
	lambda.Start(app.LambdaHandler(l, func(a *app.App) func(context.Context, remediate.Request) (remediate.Outcome, error) {
		return a.Remediate
	}))
}

// scaling: scale-out is bounded by the service's Application Auto Scaling maximum, read with the
// client only this function links.
func scaling(_ aws.Config, _ *zap.Logger, o *app.Options) { o.Scaling = autoscaling.ForAccount }
