// Command floor is a hello-world Go Lambda that links the AWS SDK clients every ecs-medic function
// calls — the SDK's standard configuration, DynamoDB, ECS and STS — and builds them at its first
// invocation, as the functions do. Its cold start is the floor of any function that reads ECS and
// writes DynamoDB with the SDK: the SDK builds every linked service's schemas at package
// initialisation, whether or not a client is ever made. Build tags add the clients some functions
// link on top: logs (CloudWatch Logs and Lambda, the events and Slack functions), scaling
// (Application Auto Scaling, the remediation function).
package main

import (
	"context"
	"sync"

	"github.com/aws/aws-lambda-go/lambda"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

func main() {
	var once sync.Once
	var clients []any
	lambda.Start(func(ctx context.Context, in map[string]any) (int, error) {
		once.Do(func() {
			cfg, err := awsconfig.LoadDefaultConfig(ctx)
			if err != nil {
				return
			}
			clients = append(clients, dynamodb.NewFromConfig(cfg), ecs.NewFromConfig(cfg), sts.NewFromConfig(cfg))
			clients = append(clients, logsClients(cfg)...)
			clients = append(clients, scalingClients(cfg)...)
		})
		return len(clients), nil
	})
}
