// Command ecs-events is the Lambda function for ECS events from EventBridge: task state changes,
// service actions and deployment state changes. Its role may read ECS and write the table; it
// changes nothing in ECS.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"go.uber.org/zap"

	"github.com/ecs-medic/ecs-medic/internal/app"
	"github.com/ecs-medic/ecs-medic/internal/awslambda"
	"github.com/ecs-medic/ecs-medic/internal/awslambda/invoke"
	"github.com/ecs-medic/ecs-medic/internal/pipeline"
	"github.com/ecs-medic/ecs-medic/internal/tasklogs/awslogs"
)

func main() {
	l, err := app.NewLambda(os.Getenv, remedies)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ecs-events:", err)
		os.Exit(1)
	}
	lambda.Start(app.LambdaHandler(l, func(a *app.App) func(context.Context, json.RawMessage) (pipeline.Result, error) {
		return awslambda.Events(a.Pipeline(), a.Log())
	}))
}

// remedies asks the remediation function (MEDIC_REMEDIATE_FUNCTION) to consider a new incident's
// fix: this function's role may not change ECS. A stopped task's log lines are read into its
// incident (CloudWatch Logs, linked by this function and the Slack function only).
func remedies(awsCfg aws.Config, log *zap.Logger, o *app.Options) {
	o.Logs = awslogs.ForAccounts
	if fn := os.Getenv("MEDIC_REMEDIATE_FUNCTION"); fn != "" {
		o.Remedy = invoke.Remedy(invoke.Client(func() aws.Config { return awsCfg }), fn, log)
	}
}
