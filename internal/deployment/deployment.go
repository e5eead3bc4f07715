// Package deployment links an incident to the deployment that most likely caused it: a service
// whose tasks started failing within minutes of a new task definition revision going out, on
// that revision. It says which revisions (from → to) and what changed between them — images,
// task and container sizes, environment and secret names (never values), commands — so the page
// can say "likely bad deploy" and offer the rollback. It also knows which services medic cannot
// roll back at all: those whose deployments CodeDeploy or an external tool controls.
package deployment

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ecs-medic/ecs-medic/internal/event"
	"github.com/ecs-medic/ecs-medic/internal/servicestate"
)

// Window is how long after a deployment started a failure on its revision is blamed on it: new
// tasks must run within 5 minutes of a deploy, and the first 15 are the ones a team watches.
const Window = 15 * time.Minute

// Link is the deployment an incident follows, and what it changed.
type Link struct {
	DeploymentID string    `json:"deployment_id"`
	StartedAt    time.Time `json:"started_at"`
	// From is the revision the service ran before ("" when ECS no longer lists it and medic does
	// not know it otherwise); To is the revision the failing tasks run.
	From string `json:"from,omitempty"`
	To   string `json:"to"`
	// After is how long after the deployment started the first failure came.
	After   time.Duration `json:"after"`
	Changes []string      `json:"changes,omitempty"`
	// Rollback says whether UpdateService can roll the service back (its deployment controller is
	// ECS), and if not, what to do instead.
	Rollback     bool   `json:"rollback"`
	RollbackHelp string `json:"rollback_help,omitempty"`
}

// Summary is the one-line form for a page or a message.
func (l *Link) Summary() string {
	s := fmt.Sprintf("likely bad deploy: %s → %s, started %s before the first failure", Revision(l.From), Revision(l.To), roundDuration(l.After))
	if l.From == "" {
		s = fmt.Sprintf("likely bad deploy: %s (the revision before it is not known), started %s before the first failure", Revision(l.To), roundDuration(l.After))
	}
	if len(l.Changes) > 0 {
		s += "; changed: " + strings.Join(l.Changes, "; ")
	}
	return s
}

func roundDuration(d time.Duration) string {
	if d < time.Minute {
		return d.Round(time.Second).String()
	}
	return d.Round(time.Minute).String()
}

// Suspect finds the deployment a failure at firstFailure on revision failing most likely comes
// from: the service's primary deployment, on that revision, started at most Window before the
// failure (or still rolling out). stable is the last revision medic saw the service run at its
// desired count, the "from" when ECS no longer lists the previous deployment. Nil when no
// deployment fits.
func Suspect(snap *servicestate.Snapshot, failing string, firstFailure time.Time, stable string) *Link {
	if snap == nil || failing == "" {
		return nil
	}
	var primary *servicestate.Deployment
	for i := range snap.Deployments {
		if snap.Deployments[i].Status == "PRIMARY" {
			primary = &snap.Deployments[i]
		}
	}
	if primary == nil || primary.TaskDefinition != failing || primary.CreatedAt.IsZero() {
		return nil
	}
	after := firstFailure.Sub(primary.CreatedAt)
	if after < 0 || (after > Window && primary.RolloutState != "IN_PROGRESS") {
		return nil
	}
	l := &Link{DeploymentID: primary.ID, StartedAt: primary.CreatedAt, To: failing, After: after}
	for _, d := range snap.Deployments {
		if d.Status == "ACTIVE" && d.TaskDefinition != failing {
			l.From = d.TaskDefinition
			break
		}
	}
	if l.From == "" && stable != failing {
		l.From = stable
	}
	l.Rollback, l.RollbackHelp = CanRollBack(snap.Controller)
	return l
}

// CanRollBack says whether UpdateService can change the service's task definition, given its
// deployment controller, and what to do instead when it cannot.
// https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-types.html
func CanRollBack(controller string) (bool, string) {
	switch controller {
	case "", "ECS":
		return true, ""
	case "CODE_DEPLOY":
		return false, "the service is deployed by CodeDeploy (blue/green): UpdateService cannot change its task definition. " +
			"Roll back in CodeDeploy: stop the deployment with rollback (aws deploy stop-deployment --deployment-id <id> --auto-rollback-enabled), " +
			"or create a deployment of the previous revision"
	case "EXTERNAL":
		return false, "the service's deployments are run by an external controller: roll back with the tool that deploys it " +
			"(a task set on the previous revision, then make it primary)"
	default:
		return false, fmt.Sprintf("the service's deployment controller %s is not one medic can roll back", controller)
	}
}

// ECS is the part of *ecs.Client the comparison reads.
type ECS interface {
	DescribeTaskDefinition(ctx context.Context, in *ecs.DescribeTaskDefinitionInput, optFns ...func(*ecs.Options)) (*ecs.DescribeTaskDefinitionOutput, error)
}

// Compare fills in what changed from l.From to l.To, reading both task definitions.
func Compare(ctx context.Context, api ECS, region string, l *Link) error {
	if l.From == "" {
		return nil
	}
	read := func(arn string) (*ecstypes.TaskDefinition, error) {
		out, err := api.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(arn)},
			func(o *ecs.Options) {
				if region != "" {
					o.Region = region
				}
			})
		if err != nil {
			return nil, fmt.Errorf("describe task definition %s: %w", Revision(arn), err)
		}
		return out.TaskDefinition, nil
	}
	from, err := read(l.From)
	if err != nil {
		return err
	}
	to, err := read(l.To)
	if err != nil {
		return err
	}
	l.Changes = Diff(from, to)
	return nil
}

// maxChanges bounds the list: a page names the few that matter, the console has the rest.
const maxChanges = 12

// Diff says what changed between two task definitions, in words, never with an environment or
// secret value.
func Diff(from, to *ecstypes.TaskDefinition) []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	if a, b := aws.ToString(from.Cpu), aws.ToString(to.Cpu); a != b {
		add("task CPU %s → %s", orNone(a), orNone(b))
	}
	if a, b := aws.ToString(from.Memory), aws.ToString(to.Memory); a != b {
		add("task memory %s → %s MiB", orNone(a), orNone(b))
	}
	if a, b := aws.ToString(from.TaskRoleArn), aws.ToString(to.TaskRoleArn); a != b {
		add("task role %s → %s", lastSegment(a), lastSegment(b))
	}
	if a, b := aws.ToString(from.ExecutionRoleArn), aws.ToString(to.ExecutionRoleArn); a != b {
		add("execution role %s → %s", lastSegment(a), lastSegment(b))
	}
	old := map[string]ecstypes.ContainerDefinition{}
	for _, c := range from.ContainerDefinitions {
		old[aws.ToString(c.Name)] = c
	}
	seen := map[string]bool{}
	for _, c := range to.ContainerDefinitions {
		name := aws.ToString(c.Name)
		seen[name] = true
		o, ok := old[name]
		if !ok {
			add("container %s added (image %s)", name, aws.ToString(c.Image))
			continue
		}
		if a, b := aws.ToString(o.Image), aws.ToString(c.Image); a != b {
			add("%s image %s → %s", name, imageTag(a, b), imageTag(b, a))
		}
		if a, b := aws.ToInt32(o.Memory), aws.ToInt32(c.Memory); a != b {
			add("%s memory %s → %s MiB", name, intOrNone(a), intOrNone(b))
		}
		if a, b := aws.ToInt32(o.MemoryReservation), aws.ToInt32(c.MemoryReservation); a != b {
			add("%s memory reservation %s → %s MiB", name, intOrNone(a), intOrNone(b))
		}
		if a, b := o.Cpu, c.Cpu; a != b {
			add("%s CPU %d → %d", name, a, b)
		}
		if env := keysChanged(envMap(o.Environment), envMap(c.Environment)); env != "" {
			add("%s environment %s", name, env)
		}
		if sec := keysChanged(secretMap(o.Secrets), secretMap(c.Secrets)); sec != "" {
			add("%s secrets %s", name, sec)
		}
		if !slices.Equal(o.Command, c.Command) {
			add("%s command %s → %s", name, words(o.Command), words(c.Command))
		}
		if !slices.Equal(o.EntryPoint, c.EntryPoint) {
			add("%s entry point %s → %s", name, words(o.EntryPoint), words(c.EntryPoint))
		}
		if a, b := o.Essential, c.Essential; aws.ToBool(a) != aws.ToBool(b) {
			add("%s essential %v → %v", name, aws.ToBool(a), aws.ToBool(b))
		}
	}
	for _, c := range from.ContainerDefinitions {
		if name := aws.ToString(c.Name); !seen[name] {
			add("container %s removed", name)
		}
	}
	if len(out) == 0 {
		out = append(out, "no change medic compares (images, sizes, environment and secret names, commands, roles)")
	}
	if len(out) > maxChanges {
		n := len(out) - maxChanges
		out = append(out[:maxChanges], fmt.Sprintf("and %d more", n))
	}
	return out
}

// imageTag shows an image by what differs from the other: the tag or digest when the repository
// is the same, the whole reference when it is not.
func imageTag(image, other string) string {
	repo, ref := splitImage(image)
	if orepo, _ := splitImage(other); repo == orepo && ref != "" {
		return ref
	}
	return image
}

func splitImage(image string) (repo, ref string) {
	if i := strings.LastIndexByte(image, '@'); i >= 0 {
		return image[:i], image[i+1:]
	}
	if i := strings.LastIndexByte(image, ':'); i > strings.LastIndexByte(image, '/') {
		return image[:i], image[i+1:]
	}
	return image, "latest"
}

func envMap(kvs []ecstypes.KeyValuePair) map[string]string {
	m := map[string]string{}
	for _, kv := range kvs {
		m[aws.ToString(kv.Name)] = aws.ToString(kv.Value)
	}
	return m
}

func secretMap(ss []ecstypes.Secret) map[string]string {
	m := map[string]string{}
	for _, s := range ss {
		m[aws.ToString(s.Name)] = aws.ToString(s.ValueFrom)
	}
	return m
}

// keysChanged names the keys added, removed and changed, never a value.
func keysChanged(a, b map[string]string) string {
	var added, removed, changed []string
	for k, v := range b {
		ov, ok := a[k]
		switch {
		case !ok:
			added = append(added, k)
		case ov != v:
			changed = append(changed, k)
		}
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			removed = append(removed, k)
		}
	}
	var parts []string
	for _, p := range []struct {
		what string
		keys []string
	}{{"added", added}, {"removed", removed}, {"changed", changed}} {
		if len(p.keys) > 0 {
			slices.Sort(p.keys)
			parts = append(parts, p.what+" "+strings.Join(p.keys, ", "))
		}
	}
	return strings.Join(parts, "; ")
}

// maxWords bounds a command in a message: its shape is what a reader needs.
const maxWords = 80

func words(ws []string) string {
	if len(ws) == 0 {
		return "(image default)"
	}
	s := []rune(strings.Join(ws, " "))
	if len(s) > maxWords {
		return strconv.Quote(string(s[:maxWords]) + "…")
	}
	return strconv.Quote(string(s))
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func intOrNone(n int32) string {
	if n == 0 {
		return "none"
	}
	return strconv.Itoa(int(n))
}

func lastSegment(arn string) string { return cmp.Or(event.ResourceName(arn), "none") }

// Revision is a task definition ARN's "family:revision", or "unknown" when there is none.
func Revision(arn string) string {
	if arn == "" {
		return "unknown"
	}
	return lastSegment(arn)
}
