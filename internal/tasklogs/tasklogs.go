// Package tasklogs names what is read of a stopped task's log: the task (Task) and the lines
// read (Tail). The reader itself, which calls CloudWatch Logs, is package tasklogs/awslogs: only
// the entry points that read logs link it (and the SDK's CloudWatch Logs package with it).
package tasklogs

import (
	"context"

	"github.com/ecs-medic/ecs-medic/internal/accounts"
)

// Clients hands out the clients of an account and region (accounts.Provider).
type Clients interface {
	For(ctx context.Context, account, region string) (*accounts.Clients, error)
}

// Task names the stopped task and its failed container. Account and Region decide whose
// credentials read its task definition and log.
type Task struct {
	Account        string
	Region         string
	TaskDefinition string // ARN
	TaskID         string
	Container      string // "" picks the first container logging with awslogs
	RuntimeID      string // the Docker container id, the stream name on EC2 without a prefix
}

// Tail is what was read.
type Tail struct {
	Group, Stream string
	Lines         []string
}

// Tailer reads a container's last lines (awslogs.Reader).
type Tailer interface {
	Last(ctx context.Context, t Task) (Tail, error)
}
