package chatops

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"go.uber.org/zap"

	"github.com/ecs-medic/ecs-medic/internal/event"
	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/notify"
	"github.com/ecs-medic/ecs-medic/internal/notify/slack"
)

// status reads a service from ECS, with its own account's credentials: counts, deployments, and
// its last stopped tasks, classified.
func (h *Handler) status(ctx context.Context, account, region string, args []string) Reply {
	cluster, service, _ := strings.Cut(args[0], "/")
	api, err := h.ecs(ctx, account, region)
	if err != nil {
		return Reply{Text: fmt.Sprintf("Could not reach ECS for `%s`: %s.", echo(args[0]), esc(shortReason(err)))}
	}
	out, err := api.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(cluster), Services: []string{service}})
	if err != nil {
		h.Log.Warn("slack status", zap.String("cluster", cluster), zap.String("service", service), zap.Error(err))
		return Reply{Text: fmt.Sprintf("ECS did not describe `%s` (%s). Check the names, or look in the ECS console.", echo(args[0]), esc(shortReason(err)))}
	}
	if len(out.Services) == 0 {
		msg := fmt.Sprintf("There is no service `%s` in cluster `%s`.", echo(service), echo(cluster))
		if s := closest(ctx, api, cluster, service); s != "" {
			msg += fmt.Sprintf(" Did you mean `%s/%s`?", echo(cluster), esc(s))
		}
		return Reply{Text: msg}
	}
	svc := out.Services[0]
	var b strings.Builder
	fmt.Fprintf(&b, "*%s/%s* — %d desired, %d running, %d pending (%s)\n", esc(cluster), esc(service), svc.DesiredCount, svc.RunningCount, svc.PendingCount, esc(aws.ToString(svc.Status)))
	b.WriteString("*Deployments*\n")
	for _, d := range svc.Deployments {
		fmt.Fprintf(&b, "• %s `%s` %s — %d/%d running", esc(aws.ToString(d.Status)), esc(event.ResourceName(aws.ToString(d.TaskDefinition))), esc(string(d.RolloutState)), d.RunningCount, d.DesiredCount)
		if d.FailedTasks > 0 {
			fmt.Fprintf(&b, ", %d failed", d.FailedTasks)
		}
		if r := aws.ToString(d.RolloutStateReason); r != "" {
			fmt.Fprintf(&b, " — %s", esc(r))
		}
		b.WriteString("\n")
	}
	list, err := api.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String(cluster), ServiceName: aws.String(service),
		DesiredStatus: ecstypes.DesiredStatusStopped, MaxResults: aws.Int32(5)})
	if err == nil && len(list.TaskArns) > 0 {
		tasks, err := api.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String(cluster), Tasks: list.TaskArns})
		if err == nil {
			sort.Slice(tasks.Tasks, func(i, j int) bool {
				return aws.ToTime(tasks.Tasks[i].StoppedAt).After(aws.ToTime(tasks.Tasks[j].StoppedAt))
			})
			b.WriteString("*Last stopped tasks*\n")
			for _, t := range tasks.Tasks {
				d := h.Classifier.Task(taskDetail(t))
				fmt.Fprintf(&b, "• `%s` %s — %s (`%s`)", esc(event.TaskID(aws.ToString(t.TaskArn))), aws.ToTime(t.StoppedAt).UTC().Format("15:04 UTC"), d.Cause.Title(), d.Cause)
				if d.Container != "" {
					fmt.Fprintf(&b, ", container `%s`", esc(d.Container))
				}
				if p := d.Primary(); p != "" {
					fmt.Fprintf(&b, ": %s", esc(slack.Truncate(p, 160)))
				}
				b.WriteString("\n")
			}
		}
	}
	if incs, err := h.Manager.List(ctx, incident.Filter{Active: true, Account: account, Cluster: cluster, Service: service}); err == nil {
		for _, inc := range incs {
			fmt.Fprintf(&b, "%s Open incident `%s` %s — %s\n", slack.SeverityEmoji(inc.Severity), inc.ID, inc.Severity, esc(notify.CauseWords(inc)))
		}
	}
	return Reply{Text: strings.TrimRight(b.String(), "\n")}
}
