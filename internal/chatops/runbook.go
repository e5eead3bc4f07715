package chatops

import (
	"fmt"
	"strings"

	"github.com/ecs-medic/ecs-medic/internal/classify"
)

// runbookAnswer answers with what SOP-002 says for a cause.
func runbookAnswer(args []string) Reply {
	if len(args) != 1 {
		return Reply{Text: "Usage: `/medic runbook <cause>`, one of: " + causeList()}
	}
	steps := map[classify.Cause]string{
		classify.OOMKilled:        "The task ran out of memory. SOP-002: increase the task's memory (task definition `memory`, or the container's hard limit), register a new revision and update the service. Check the last log lines for a leak first.",
		classify.EssentialExit:    "The application crashed. SOP-002: read the application logs (`/medic logs <task>`), fix the root cause, redeploy; roll back (SOP-001) if a deploy caused it.",
		classify.ResourceInit:     "The task could not set up its resources. SOP-002: fix the execution role's permissions (secrets, registry auth, log group), or the network path to them (NAT or VPC endpoints).",
		classify.ImagePull:        "The image could not be pulled. SOP-002: fix registry auth (execution role `ecr:*` permissions, repository policy) or the image reference (tag, digest, platform); check the network path to the registry.",
		classify.HealthCheck:      "Tasks fail health checks. Check the target group's health check path and grace period, the security group from the load balancer, and the application's start time.",
		classify.StartFailure:     "The container could not start. Read the reason: port conflicts, a bad entrypoint or architecture, a full disk on EC2 hosts.",
		classify.SpotInterruption: "Spot capacity was reclaimed. Usually self-healing; keep some on-demand capacity in the capacity provider strategy.",
		classify.HostLost:         "The host went away. Usually self-healing; check the Auto Scaling group and the instance's events.",
		classify.Unknown:          "The stop reason is one ecs-medic does not know. Read it with `/medic why <task>` and the logs; add the message to the classification corpus.",
	}
	c := classify.Cause(strings.ToLower(args[0]))
	text, ok := steps[c]
	if !ok {
		return Reply{Text: fmt.Sprintf("No runbook for `%s`. Causes: %s", echo(args[0]), causeList())}
	}
	return Reply{Text: fmt.Sprintf("*%s* (`%s`)\n%s", c.Title(), c, text)}
}

func causeList() string {
	var cs []string
	for _, c := range classify.Causes {
		if c != classify.Expected {
			cs = append(cs, "`"+string(c)+"`")
		}
	}
	return strings.Join(cs, ", ")
}
