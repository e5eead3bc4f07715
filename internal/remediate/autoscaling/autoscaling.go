// Package autoscaling reads an ECS service's Application Auto Scaling maximum, the bound a
// scale-out never passes (remediate.Scaling). It is a package of its own so that only the entry
// points that carry out fixes (the remediation function and medic serve) link the Application
// Auto Scaling client: the SDK builds a linked service's schemas at every start.
package autoscaling

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling/types"

	"github.com/ecs-medic/ecs-medic/internal/accounts"
	"github.com/ecs-medic/ecs-medic/internal/remediate"
)

// API is the part of *applicationautoscaling.Client the reader calls.
type API interface {
	DescribeScalableTargets(ctx context.Context, in *applicationautoscaling.DescribeScalableTargetsInput, optFns ...func(*applicationautoscaling.Options)) (*applicationautoscaling.DescribeScalableTargetsOutput, error)
}

// Reader reads scalable targets through one client.
type Reader struct{ api API }

// New returns a reader over api.
func New(api API) *Reader { return &Reader{api: api} }

// MaxTasks is the least maximum of the service's scalable targets for its desired count; ok is
// false when it has none.
func (r *Reader) MaxTasks(ctx context.Context, cluster, service string) (int, bool, error) {
	out, err := r.api.DescribeScalableTargets(ctx, &applicationautoscaling.DescribeScalableTargetsInput{
		ServiceNamespace: astypes.ServiceNamespaceEcs, ResourceIds: []string{"service/" + cluster + "/" + service}})
	if err != nil {
		return 0, false, fmt.Errorf("describe scalable targets: %w", err)
	}
	maxTasks, ok := 0, false
	for _, t := range out.ScalableTargets {
		if t.ScalableDimension != astypes.ScalableDimensionECSServiceDesiredCount {
			continue
		}
		n := int(aws.ToInt32(t.MaxCapacity))
		if ok {
			n = min(n, maxTasks)
		}
		maxTasks, ok = n, true
	}
	return maxTasks, ok, nil
}

// key tells this package's client apart in an account's client set.
type key struct{}

// ForAccount is the reader of an account's client set, signed with that account's credentials,
// built from the set's configuration on first use and kept with the set.
func ForAccount(cs *accounts.Clients) remediate.Scaling {
	return accounts.Client(cs, key{}, func(cfg aws.Config) remediate.Scaling {
		return New(applicationautoscaling.NewFromConfig(cfg))
	})
}
