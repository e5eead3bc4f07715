// Command alarm-events is the Lambda function for CloudWatch Alarm State Change events: an alarm
// in ALARM opens an incident, its return to OK resolves it. It needs no ECS permission.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/ecs-medic/ecs-medic/internal/app"
	"github.com/ecs-medic/ecs-medic/internal/awslambda"
	"github.com/ecs-medic/ecs-medic/internal/pipeline"
)

func main() {
	l, err := app.NewLambda(os.Getenv, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "alarm-events:", err)
		os.Exit(1)
	}
	lambda.Start(app.LambdaHandler(l, func(a *app.App) func(context.Context, json.RawMessage) (pipeline.Result, error) {
		return awslambda.Events(a.Pipeline(), a.Log())
	}))
}
