// Command remediate is the only Lambda function allowed to change ECS: it carries out runbook
// fixes (raise memory, roll back, force a new deployment, scale out) under the guardrails of
// internal/remediate, when the events function or the Slack function asks.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/ecs-medic/ecs-medic/internal/app"
	"github.com/ecs-medic/ecs-medic/internal/awslambda"
)

func main() {
	a, err := app.ForLambda(context.Background(), os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "remediate:", err)
		os.Exit(1)
	}
	if a.Remediator == nil {
		fmt.Fprintln(os.Stderr, "remediate: ECS cannot be reached (no region or credentials)")
		os.Exit(1)
	}
	lambda.Start(awslambda.Remediate(a.Remediator))
}
