// Package awslogs reads the last lines a stopped task's container wrote to CloudWatch Logs, found
// from its task definition's awslogs settings, so an incident keeps its evidence after ECS forgets
// the task. It is a package of its own so that only the entry points that read logs (the events
// and Slack functions, medic serve) link the CloudWatch Logs client.
// https://docs.aws.amazon.com/AmazonECS/latest/developerguide/using_awslogs.html
package awslogs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	logtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ecs-medic/ecs-medic/internal/accounts"
	"github.com/ecs-medic/ecs-medic/internal/tasklogs"
)

// ECSAPI is the part of *ecs.Client the reader calls.
type ECSAPI interface {
	DescribeTaskDefinition(ctx context.Context, in *ecs.DescribeTaskDefinitionInput, optFns ...func(*ecs.Options)) (*ecs.DescribeTaskDefinitionOutput, error)
}

// LogsAPI is the part of *cloudwatchlogs.Client the reader calls.
type LogsAPI interface {
	GetLogEvents(ctx context.Context, in *cloudwatchlogs.GetLogEventsInput, optFns ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.GetLogEventsOutput, error)
}

// Task and Tail are package tasklogs' (what callers that do not read logs themselves may name).
type (
	Task = tasklogs.Task
	Tail = tasklogs.Tail
)

// Reader reads container logs. Task definitions never change once registered, so they are
// cached for the life of the process.
type Reader struct {
	ecs   func(ctx context.Context, account, region string) (ECSAPI, error)
	logs  func(ctx context.Context, account, region string) (LogsAPI, error)
	lines int

	mu   sync.Mutex
	defs map[string]*ecstypes.TaskDefinition
}

// New returns a reader of the last n lines (20 when n <= 0) through one pair of clients, whatever
// the task's account: for one account (tests). ecs-medic itself uses PerAccount.
func New(ecsAPI ECSAPI, logs LogsAPI, n int) *Reader {
	return newReader(func(context.Context, string, string) (ECSAPI, error) { return ecsAPI, nil },
		func(context.Context, string, string) (LogsAPI, error) { return logs, nil }, n)
}

// PerAccount returns a reader that reads each task's definition and log with the clients of the
// task's own account (the log's region may differ: awslogs-region).
func PerAccount(c tasklogs.Clients, n int) *Reader {
	return newReader(func(ctx context.Context, account, region string) (ECSAPI, error) {
		cs, err := c.For(ctx, account, region)
		if err != nil {
			return nil, err
		}
		return cs.ECS, nil
	}, func(ctx context.Context, account, region string) (LogsAPI, error) {
		cs, err := c.For(ctx, account, region)
		if err != nil {
			return nil, err
		}
		return accounts.Client(cs, logsKey{}, func(cfg aws.Config) LogsAPI { return cloudwatchlogs.NewFromConfig(cfg) }), nil
	}, n)
}

// logsKey keeps an account's CloudWatch Logs client with its other clients (accounts.Client).
type logsKey struct{}

// ForAccounts is PerAccount reading the last 20 lines: what an entry point gives app.Options.Logs.
func ForAccounts(c tasklogs.Clients) tasklogs.Tailer { return PerAccount(c, 20) }

func newReader(e func(context.Context, string, string) (ECSAPI, error), l func(context.Context, string, string) (LogsAPI, error), n int) *Reader {
	if n <= 0 {
		n = 20
	}
	return &Reader{ecs: e, logs: l, lines: n, defs: map[string]*ecstypes.TaskDefinition{}}
}

const maxLine = 500

// Last returns the container's last lines. The error says, for people, why they could not be read.
func (r *Reader) Last(ctx context.Context, t Task) (Tail, error) {
	def, err := r.definition(ctx, t)
	if err != nil {
		return Tail{}, err
	}
	var c *ecstypes.ContainerDefinition
	for i := range def.ContainerDefinitions {
		cd := &def.ContainerDefinitions[i]
		if aws.ToString(cd.Name) == t.Container || (t.Container == "" && cd.LogConfiguration != nil && cd.LogConfiguration.LogDriver == ecstypes.LogDriverAwslogs) {
			c = cd
			break
		}
	}
	switch {
	case c == nil:
		return Tail{}, fmt.Errorf("container %q is not in task definition %s", t.Container, t.TaskDefinition)
	case c.LogConfiguration == nil:
		return Tail{}, fmt.Errorf("container %s has no log configuration", aws.ToString(c.Name))
	case c.LogConfiguration.LogDriver != ecstypes.LogDriverAwslogs:
		return Tail{}, fmt.Errorf("container %s logs with %s, not awslogs", aws.ToString(c.Name), c.LogConfiguration.LogDriver)
	}
	opts := c.LogConfiguration.Options
	tail := Tail{Group: opts["awslogs-group"]}
	if prefix := opts["awslogs-stream-prefix"]; prefix != "" {
		tail.Stream = prefix + "/" + aws.ToString(c.Name) + "/" + t.TaskID
	} else {
		tail.Stream = t.RuntimeID // without a prefix the stream is named after the Docker container
	}
	if tail.Group == "" || tail.Stream == "" {
		return tail, fmt.Errorf("container %s: awslogs settings do not name the stream (group %q, no stream prefix)", aws.ToString(c.Name), tail.Group)
	}
	region := opts["awslogs-region"]
	if region == "" {
		region = t.Region
	}
	logs, err := r.logs(ctx, t.Account, region)
	if err != nil {
		return tail, fmt.Errorf("read log stream %s in %s: %w", tail.Stream, tail.Group, err)
	}
	out, err := logs.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{
		LogGroupName: aws.String(tail.Group), LogStreamName: aws.String(tail.Stream),
		Limit: aws.Int32(int32(r.lines)), StartFromHead: aws.Bool(false),
	}, func(o *cloudwatchlogs.Options) {
		if region != "" {
			o.Region = region
		}
	})
	var notFound *logtypes.ResourceNotFoundException
	switch {
	case errors.As(err, &notFound):
		return tail, fmt.Errorf("log stream %s in %s does not exist (the container may never have started)", tail.Stream, tail.Group)
	case err != nil:
		return tail, fmt.Errorf("read log stream %s in %s: %w", tail.Stream, tail.Group, err)
	}
	for _, e := range out.Events {
		line := strings.TrimRight(aws.ToString(e.Message), "\r\n")
		if len(line) > maxLine {
			line = line[:maxLine] + "…"
		}
		tail.Lines = append(tail.Lines, line)
	}
	if len(tail.Lines) > r.lines {
		tail.Lines = tail.Lines[len(tail.Lines)-r.lines:]
	}
	return tail, nil
}

func (r *Reader) definition(ctx context.Context, t Task) (*ecstypes.TaskDefinition, error) {
	key := t.Account + "|" + t.TaskDefinition // a bare family:revision exists in every account
	r.mu.Lock()
	def, ok := r.defs[key]
	r.mu.Unlock()
	if ok {
		return def, nil
	}
	api, err := r.ecs(ctx, t.Account, t.Region)
	if err != nil {
		return nil, fmt.Errorf("describe task definition %s: %w", t.TaskDefinition, err)
	}
	out, err := api.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(t.TaskDefinition)},
		func(o *ecs.Options) {
			if t.Region != "" {
				o.Region = t.Region
			}
		})
	if err != nil {
		return nil, fmt.Errorf("describe task definition %s: %w", t.TaskDefinition, err)
	}
	r.mu.Lock()
	r.defs[key] = out.TaskDefinition
	r.mu.Unlock()
	return out.TaskDefinition, nil
}
