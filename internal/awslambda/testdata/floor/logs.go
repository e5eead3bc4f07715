//go:build logs

package main

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
)

// logsClients are the clients the events and Slack functions add: CloudWatch Logs and Lambda.
func logsClients(cfg aws.Config) []any {
	return []any{cloudwatchlogs.NewFromConfig(cfg), awslambda.NewFromConfig(cfg)}
}
