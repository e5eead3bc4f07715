// Command reconciler is the Lambda function an EventBridge Scheduler schedule runs every minute:
// it resolves recovered services, escalates past-due incidents and finds services whose events
// were lost. It reads ECS and writes the table.
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
		fmt.Fprintln(os.Stderr, "reconciler:", err)
		os.Exit(1)
	}
	lambda.Start(awslambda.Reconcile(a.Reconciler(), a.Log))
}
