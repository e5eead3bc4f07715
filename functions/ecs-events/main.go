// Command ecs-events is the Lambda function for ECS events from EventBridge: task state changes,
// service actions and deployment state changes. Its role may read ECS and write the table; it
// changes nothing in ECS.
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
		fmt.Fprintln(os.Stderr, "ecs-events:", err)
		os.Exit(1)
	}
	lambda.Start(awslambda.Events(a.Pipeline, a.Log))
}
