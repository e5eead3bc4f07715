package app

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awslambdasvc "github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"go.uber.org/zap"

	"github.com/ecs-medic/ecs-medic/internal/remediate"
)

// remedyVia asks the remediation function (MEDIC_REMEDIATE_FUNCTION) to consider a fix,
// asynchronously: the function that handles events may not change ECS, nor wait for it.
func remedyVia(api *awslambdasvc.Client, function string, log *zap.Logger) func(context.Context, string) {
	return func(ctx context.Context, id string) {
		payload, _ := json.Marshal(remediate.Request{Incident: id, By: "auto"})
		if _, err := api.Invoke(ctx, &awslambdasvc.InvokeInput{FunctionName: aws.String(function),
			InvocationType: lambdatypes.InvocationTypeEvent, Payload: payload}); err != nil {
			log.Error("invoke the remediation function", zap.String("incident", id), zap.Error(err))
		}
	}
}

// fixVia runs a human's fix in the remediation function and waits for its outcome.
func fixVia(api *awslambdasvc.Client, function string) func(context.Context, remediate.Request) (remediate.Outcome, error) {
	return func(ctx context.Context, req remediate.Request) (remediate.Outcome, error) {
		payload, _ := json.Marshal(req)
		out, err := api.Invoke(ctx, &awslambdasvc.InvokeInput{FunctionName: aws.String(function), Payload: payload})
		if err != nil {
			return remediate.Outcome{}, fmt.Errorf("invoke %s: %w", function, err)
		}
		if out.FunctionError != nil {
			return remediate.Outcome{}, fmt.Errorf("%s: %s", function, out.Payload)
		}
		var o remediate.Outcome
		if err := json.Unmarshal(out.Payload, &o); err != nil {
			return o, fmt.Errorf("%s answered %s: %w", function, out.Payload, err)
		}
		return o, nil
	}
}
