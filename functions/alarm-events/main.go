// Command alarm-events is the Lambda function for CloudWatch Alarm State Change events: an alarm
// in ALARM opens an incident, its return to OK resolves it. It needs no ECS permission.
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
		fmt.Fprintln(os.Stderr, "alarm-events:", err)
		os.Exit(1)
	}
	lambda.Start(awslambda.Events(a.Pipeline, a.Log))
}
