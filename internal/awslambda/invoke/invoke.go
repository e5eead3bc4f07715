// Package invoke is how one ecs-medic function asks another (or itself) for work through the
// Lambda API: the events function asks the remediation function to consider a fix, the Slack
// function runs a human's fix there and sends itself its deferred jobs. It is a package of its own
// so that only the functions that invoke link the Lambda API client: the others start faster.
package invoke

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awslambdasvc "github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"go.uber.org/zap"

	"github.com/ecs-medic/ecs-medic/internal/awslambda"
	"github.com/ecs-medic/ecs-medic/internal/chatops"
	"github.com/ecs-medic/ecs-medic/internal/remediate"
)

// API is the part of *lambda.Client this package calls.
type API interface {
	Invoke(ctx context.Context, in *awslambdasvc.InvokeInput, optFns ...func(*awslambdasvc.Options)) (*awslambdasvc.InvokeOutput, error)
}

// Client builds the Lambda API client from the AWS configuration on its first invocation, so a
// function that never invokes (no remediation function, no deferred Slack work) never builds it.
func Client(cfg func() aws.Config) API {
	return &lazy{cfg: cfg}
}

type lazy struct {
	cfg  func() aws.Config
	once sync.Once
	api  *awslambdasvc.Client
}

func (l *lazy) Invoke(ctx context.Context, in *awslambdasvc.InvokeInput, optFns ...func(*awslambdasvc.Options)) (*awslambdasvc.InvokeOutput, error) {
	l.once.Do(func() { l.api = awslambdasvc.NewFromConfig(l.cfg()) })
	return l.api.Invoke(ctx, in, optFns...)
}

// Remedy asks the remediation function (MEDIC_REMEDIATE_FUNCTION) to consider a fix,
// asynchronously: the function that handles events may not change ECS, nor wait for it.
func Remedy(api API, function string, log *zap.Logger) func(context.Context, string) {
	return func(ctx context.Context, id string) {
		payload, _ := json.Marshal(remediate.Request{Incident: id, By: "auto"})
		if _, err := api.Invoke(ctx, &awslambdasvc.InvokeInput{FunctionName: aws.String(function),
			InvocationType: lambdatypes.InvocationTypeEvent, Payload: payload}); err != nil {
			log.Error("invoke the remediation function", zap.String("incident", id), zap.Error(err))
		}
	}
}

// Fix runs a human's fix in the remediation function and waits for its outcome.
func Fix(api API, function string) func(context.Context, remediate.Request) (remediate.Outcome, error) {
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

// Self is the Slack function's Deferrer. Lambda freezes a function once it has answered, so work
// that must not delay Slack's 3-second acknowledgement (reading ECS, paging) runs in a second,
// asynchronous invocation of the same function, which answers through response_url
// (awslambda.Slack tells the two kinds of invocation apart).
func Self(api API, function string) chatops.Deferrer {
	return func(ctx context.Context, j chatops.Job) error {
		payload, err := json.Marshal(awslambda.JobEnvelope{Job: &j})
		if err != nil {
			return err
		}
		_, err = api.Invoke(ctx, &awslambdasvc.InvokeInput{FunctionName: aws.String(function),
			InvocationType: lambdatypes.InvocationTypeEvent, Payload: payload})
		if err != nil {
			return fmt.Errorf("invoke %s for a deferred %s: %w", function, j.Kind, err)
		}
		return nil
	}
}
