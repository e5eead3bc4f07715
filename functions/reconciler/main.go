// Command reconciler is the Lambda function an EventBridge Scheduler schedule runs every minute:
// it resolves recovered services, escalates past-due incidents and finds services whose events
// were lost. It reads ECS and writes the table.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/ecs-medic/ecs-medic/internal/app"
	"github.com/ecs-medic/ecs-medic/internal/awslambda"
	"github.com/ecs-medic/ecs-medic/internal/reconcile"
)

func main() {
	l, err := app.NewLambda(os.Getenv, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "reconciler:", err)
		os.Exit(1)
	}
	// EventBridge Scheduler's payload (an empty object by default) carries nothing the pass needs.
	lambda.Start(app.LambdaHandler(l, func(a *app.App) func(context.Context, json.RawMessage) (reconcile.Report, error) {
		run := awslambda.Reconcile(a.Reconciler(), a.Log())
		return func(ctx context.Context, _ json.RawMessage) (reconcile.Report, error) { return run(ctx) }
	}))
}
