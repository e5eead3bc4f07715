package chatops

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"go.uber.org/zap"

	"github.com/ecs-medic/ecs-medic/internal/event"
	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/notify"
	"github.com/ecs-medic/ecs-medic/internal/tasklogs"
)

var errShortTask = errors.New("give at least 8 characters of the task id")

// findTask finds the incident that saw a task (by id or ARN, or an unambiguous prefix of 8+).
func (h *Handler) findTask(ctx context.Context, q string) (*incident.Incident, string, error) {
	q = strings.ToLower(event.TaskID(q))
	if len(q) < 8 {
		return nil, "", errShortTask
	}
	var found *incident.Incident
	var task string
	saw := func(inc *incident.Incident) bool {
		for _, id := range append([]string{event.TaskID(inc.Facts.TaskArn)}, inc.Occurrences.Tasks...) {
			if id != "" && strings.HasPrefix(strings.ToLower(id), q) {
				found, task = inc, id
				return false
			}
		}
		return true
	}
	// Every active incident first (the task is most likely failing now), then the newest
	// resolved ones.
	if err := incident.Each(ctx, h.Manager, incident.Filter{Active: true, Limit: 500}, saw); err != nil || found != nil {
		return found, task, err
	}
	recent, err := h.Manager.List(ctx, incident.Filter{State: incident.Resolved, Limit: recentTasks})
	for _, inc := range recent {
		if !saw(inc) {
			break
		}
	}
	return found, task, err
}

// recentTasks is how many of the newest resolved incidents a task id is looked up in: ECS keeps
// a stopped task about an hour, and an incident's own record of it is what is asked for.
const recentTasks = 500

func (h *Handler) why(ctx context.Context, args []string, responseURL string) Reply {
	if len(args) == 2 {
		return h.whyCluster(ctx, args, responseURL)
	}
	if len(args) != 1 {
		return Reply{Text: "Usage: `/medic why <task-id>` (or `/medic why <cluster> <task-id>` for a task no incident saw)"}
	}
	inc, id, err := h.findTask(ctx, args[0])
	switch {
	case errors.Is(err, errShortTask):
		return Reply{Text: "Give at least 8 characters of the task id, e.g. `/medic why 0f4e2c1a`."}
	case err != nil:
		h.Log.Error("slack why", zap.Error(err))
		return Reply{Text: "Could not look the task up just now: ecs-medic's store did not answer. Try again in a minute."}
	case inc == nil:
		return Reply{Text: fmt.Sprintf("No incident mentions task `%s` (expected stops open none). ECS keeps stopped tasks about an hour: `/medic why <cluster> %s` reads it from ECS and classifies it, `/medic status <cluster>/<service>` shows the recent ones.", echo(args[0]), echo(args[0]))}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "*Task `%s`* — %s, %s\n", esc(id), esc(notify.CauseWords(inc)), inc.Confidence)
	if item := inc.Cause.SOPItem(); item != "" {
		fmt.Fprintf(&b, "SOP-002: %s\n", item)
	}
	writeDiagnosis(&b, inc.Diagnosis)
	if event.TaskID(inc.Facts.TaskArn) == id && len(inc.LogLines) > 0 {
		b.WriteString("*Last log lines*\n```" + esc(strings.Join(inc.LogLines, "\n")) + "```\n")
	}
	fmt.Fprintf(&b, "Incident `%s` (%s, %s, %d occurrence(s))", inc.ID, inc.Severity, inc.State, inc.Occurrences.Count)
	return Reply{Text: b.String()}
}

func (h *Handler) logs(ctx context.Context, args []string, responseURL string) Reply {
	account, region := "", ""
	if len(args) != 2 && len(args) != 1 {
		return Reply{Text: "Usage: `/medic logs <task-id>` (or `/medic logs <cluster> <task-id>` for a task no incident saw)"}
	}
	if len(args) == 1 {
		inc, id, err := h.findTask(ctx, args[0])
		switch {
		case errors.Is(err, errShortTask):
			return Reply{Text: "Give at least 8 characters of the task id, e.g. `/medic logs 0f4e2c1a`."}
		case err != nil:
			h.Log.Error("slack logs", zap.Error(err))
			return Reply{Text: "Could not look the task up just now: ecs-medic's store did not answer. Try again in a minute."}
		}
		if inc != nil && event.TaskID(inc.Facts.TaskArn) == id {
			if len(inc.LogLines) == 0 {
				why := inc.LogError
				if why == "" {
					why = "the container wrote none, or its task definition has no awslogs log configuration"
				}
				return Reply{Text: fmt.Sprintf("No log lines were kept for `%s`: %s. Look in CloudWatch Logs, or the container's log driver.", esc(id), esc(strings.TrimRight(why, ". ")))}
			}
			return Reply{Text: fmt.Sprintf("*Last log lines of `%s`* (`%s`)\n```%s```", esc(id), esc(inc.Facts.LogStream), esc(strings.Join(inc.LogLines, "\n")))}
		}
		if inc == nil {
			return Reply{Text: fmt.Sprintf("No incident saw task `%s`. Name its cluster to read it from ECS: `/medic logs <cluster> %s`.", echo(args[0]), echo(args[0]))}
		}
		account, region = inc.Scope.Account, inc.Scope.Region
		args = []string{inc.Scope.Cluster, id}
	}
	if (h.ECS == nil && h.Clients == nil) || h.Logs == nil {
		return Reply{Text: "ECS and CloudWatch Logs cannot be reached from here (no AWS region or credentials)."}
	}
	if len(args[0]) > 255 || len(args[1]) > 255 {
		return Reply{Text: "Cluster names and task ids have at most 255 characters: check them with `/medic status <cluster>/<service>`."}
	}
	h.runLater(ctx, Job{Kind: JobLogs, Args: args, Account: account, Region: region, ResponseURL: responseURL})
	return Reply{Text: "Reading the logs of `" + echo(args[1]) + "`…"}
}

func (h *Handler) logsFromECS(ctx context.Context, account, region string, args []string) Reply {
	api, err := h.ecs(ctx, account, region)
	if err != nil {
		return Reply{Text: fmt.Sprintf("Could not reach ECS for task `%s`: %s.", echo(args[1]), esc(shortReason(err)))}
	}
	if region == "" {
		region = h.Region
	}
	out, err := api.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String(args[0]), Tasks: []string{args[1]}})
	if err != nil {
		h.Log.Warn("slack logs: describe task", zap.Error(err))
		return Reply{Text: fmt.Sprintf("ECS did not describe task `%s` (%s). Check the cluster name, or look in the ECS console.", echo(args[1]), esc(shortReason(err)))}
	}
	if len(out.Tasks) == 0 {
		return Reply{Text: fmt.Sprintf("ECS does not know task `%s` in `%s` (it forgets stopped tasks after about an hour).", echo(args[1]), echo(args[0]))}
	}
	t := out.Tasks[0]
	d := h.Classifier.Task(taskDetail(t))
	tail, err := h.Logs.Last(ctx, tasklogs.Task{Account: account, Region: region, TaskDefinition: aws.ToString(t.TaskDefinitionArn), TaskID: event.TaskID(aws.ToString(t.TaskArn)), Container: d.Container})
	if err != nil {
		return Reply{Text: fmt.Sprintf("No log lines for `%s`: %s. Look in CloudWatch Logs.", echo(args[1]), esc(shortReason(err)))}
	}
	return Reply{Text: fmt.Sprintf("*Last log lines of `%s`* (`%s`)\n```%s```", echo(args[1]), esc(tail.Stream), esc(strings.Join(tail.Lines, "\n")))}
}

// taskDetail turns DescribeTasks' task into the event's shape, to classify it the same way.
func taskDetail(t ecstypes.Task) *event.TaskDetail {
	td := &event.TaskDetail{TaskArn: aws.ToString(t.TaskArn), ClusterArn: aws.ToString(t.ClusterArn), LastStatus: aws.ToString(t.LastStatus),
		StopCode: string(t.StopCode), StoppedReason: aws.ToString(t.StoppedReason), TaskDefinitionArn: aws.ToString(t.TaskDefinitionArn), Group: aws.ToString(t.Group)}
	for _, c := range t.Containers {
		var code *int
		if c.ExitCode != nil {
			v := int(*c.ExitCode)
			code = &v
		}
		td.Containers = append(td.Containers, event.Container{Name: aws.ToString(c.Name), Reason: aws.ToString(c.Reason), ExitCode: code, RuntimeID: aws.ToString(c.RuntimeId)})
	}
	return td
}

type responseURLKey struct{}

func withResponseURL(ctx context.Context, u string) context.Context {
	return context.WithValue(ctx, responseURLKey{}, u)
}

func responseURLFrom(ctx context.Context) string {
	u, _ := ctx.Value(responseURLKey{}).(string)
	return u
}
