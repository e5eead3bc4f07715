//go:build !scaling

package main

import "github.com/aws/aws-sdk-go-v2/aws"

func scalingClients(aws.Config) []any { return nil }
