package remediate

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ecs-medic/ecs-medic/internal/event"
	"github.com/ecs-medic/ecs-medic/internal/incident"
)

func (r *Remediator) service(ctx context.Context, inc *incident.Incident) (*ecstypes.Service, error) {
	out, err := r.ECS.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(inc.Scope.Cluster), Services: []string{inc.Scope.Service}},
		func(o *ecs.Options) { o.Region = inc.Scope.Region })
	if err != nil {
		return nil, fmt.Errorf("describe service %s: %w", inc.Scope.Name(), err)
	}
	if len(out.Services) == 0 {
		return nil, fmt.Errorf("service %s not found", inc.Scope.Name())
	}
	return &out.Services[0], nil
}

func (r *Remediator) tags(ctx context.Context, arn string) (map[string]string, error) {
	out, err := r.ECS.ListTagsForResource(ctx, &ecs.ListTagsForResourceInput{ResourceArn: aws.String(arn)})
	if err != nil {
		return nil, fmt.Errorf("list tags of %s: %w", arn, err)
	}
	m := map[string]string{}
	for _, t := range out.Tags {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m, nil
}

func (r *Remediator) update(ctx context.Context, inc *incident.Incident, in *ecs.UpdateServiceInput) error {
	in.Cluster, in.Service = aws.String(inc.Scope.Cluster), aws.String(inc.Scope.Service)
	if _, err := r.ECS.UpdateService(ctx, in, func(o *ecs.Options) { o.Region = inc.Scope.Region }); err != nil {
		return fmt.Errorf("update service %s: %w", inc.Scope.Name(), err)
	}
	return nil
}

// revision names a task definition as people do: family:revision.
func revision(taskDef string) string { return event.ResourceName(taskDef) }
