package chatops

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"go.uber.org/zap"

	"github.com/ecs-medic/ecs-medic/internal/classify"
	"github.com/ecs-medic/ecs-medic/internal/event"
)

// whyCluster answers `why <cluster> <task-id>`: a task no incident saw (an expected stop, or one
// before ecs-medic was watching) is read from ECS after the acknowledgement and classified there.
func (h *Handler) whyCluster(ctx context.Context, args []string, responseURL string) Reply {
	if h.ECS == nil && h.Clients == nil {
		return Reply{Text: "ECS cannot be reached from here (no AWS region or credentials)."}
	}
	if len(args[0]) > 255 || len(args[1]) > 255 {
		return Reply{Text: "Cluster names and task ids have at most 255 characters: check them with `/medic status <cluster>/<service>`."}
	}
	h.defer_(ctx, Job{Kind: "why", Args: args, ResponseURL: responseURL})
	return Reply{Text: "Reading task `" + echo(args[1]) + "` from ECS…"}
}

// whyFromECS describes a task and classifies it with the operator's rules and the built-in ones,
// exactly as the pipeline would have.
func (h *Handler) whyFromECS(ctx context.Context, account, region string, args []string) Reply {
	if len(args) != 2 {
		return Reply{Text: "Usage: `/medic why <cluster> <task-id>`"}
	}
	api, err := h.ecs(ctx, account, region)
	if err != nil {
		return Reply{Text: fmt.Sprintf("Could not reach ECS for task `%s`: %s.", echo(args[1]), esc(shortReason(err)))}
	}
	out, err := api.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String(args[0]), Tasks: []string{args[1]}})
	if err != nil {
		h.Log.Warn("slack why: describe task", zap.String("cluster", args[0]), zap.String("task", args[1]), zap.Error(err))
		return Reply{Text: fmt.Sprintf("ECS did not describe task `%s` (%s). Check the cluster name, or look in the ECS console.", echo(args[1]), esc(shortReason(err)))}
	}
	if len(out.Tasks) == 0 {
		return Reply{Text: fmt.Sprintf("ECS does not know task `%s` in `%s` (it forgets stopped tasks after about an hour).", echo(args[1]), echo(args[0]))}
	}
	t := taskDetail(out.Tasks[0])
	if t.LastStatus != "STOPPED" {
		return Reply{Text: fmt.Sprintf("Task `%s` is %s, not stopped: there is nothing to diagnose yet.", esc(event.TaskID(t.TaskArn)), esc(strings.ToLower(t.LastStatus)))}
	}
	d := h.Classifier.Task(t)
	var b strings.Builder
	fmt.Fprintf(&b, "*Task `%s`* — %s, %s\n", esc(event.TaskID(t.TaskArn)), esc(d.Cause.Title()), d.Confidence)
	if d.Sub != "" {
		fmt.Fprintf(&b, "Sub-cause: %s\n", esc(d.Sub))
	}
	if item := d.Cause.SOPItem(); item != "" {
		fmt.Fprintf(&b, "SOP-002: %s\n", item)
	}
	writeDiagnosis(&b, &d)
	if d.Cause.OpensIncident() {
		b.WriteString("No incident mentions this task.")
	} else {
		b.WriteString("An expected stop: it opens no incident.")
	}
	return Reply{Text: b.String()}
}

// writeDiagnosis writes the container, the rule that decided and the evidence of a diagnosis.
func writeDiagnosis(b *strings.Builder, d *classify.Diagnosis) {
	if d == nil {
		return
	}
	if d.Container != "" {
		fmt.Fprintf(b, "Container `%s`", esc(d.Container))
		if d.ExitCode != nil {
			fmt.Fprintf(b, " exited %d", *d.ExitCode)
		}
		b.WriteString("\n")
	}
	if d.Rule != "" && d.Rule != "none" {
		fmt.Fprintf(b, "Decided by rule `%s`\n", esc(d.Rule))
	}
	if len(d.Evidence) > 0 {
		b.WriteString("*Evidence*\n")
		for _, e := range d.Evidence {
			fmt.Fprintf(b, "• %s: `%s`\n", esc(e.Field), esc(e.Value))
		}
	}
}
