//go:build scaling

package main

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
)

// scalingClients is the client the remediation function adds: Application Auto Scaling.
func scalingClients(cfg aws.Config) []any {
	return []any{applicationautoscaling.NewFromConfig(cfg)}
}
