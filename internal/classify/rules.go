package classify

import "strings"

// The built-in rules, most specific first. Each reads one parsed message (message.go): its error
// code, the retry wrapper, the service it names and how the innermost cause failed. The first
// rule that reads a message decides for that message; across messages, the earliest rule wins
// (classify.go), so the order of this table is the precedence:
//
//   - placement reasons before anything that could read "MEMORY" as an OOM kill;
//   - a log-driver failure is resource-init/logging whatever prefix carries it;
//   - an OOM kill inside a CannotStartContainerError is still an OOM kill;
//   - an EFS mount failure, even from the Docker volume driver under CannotCreateContainerError;
//   - a container whose command cannot run (exec, OCI runtime) is start-failure even when its
//     text carries "ResourceInitializationError";
//   - the resources a task fetches before it starts (secrets, registry auth, ENI), then the image;
//   - infrastructure (Spot, hosts), health checks, other start failures;
//   - expected stops after every failure, so a real failure during a scale-in still counts;
//   - "Essential container in task exited" last: it only says that something died.
//
// Every rule has real messages in testdata/classify/ (TestEveryRuleHasCases).
//
// References:
//   - https://docs.aws.amazon.com/AmazonECS/latest/developerguide/stopped-task-error-codes.html
//   - https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_cannot_pull_image.html
//   - https://docs.aws.amazon.com/AmazonECS/latest/developerguide/resource-initialization-error.html
//   - https://docs.aws.amazon.com/AmazonECS/latest/developerguide/cannot-start-container.html

// rule is one built-in rule. match returns the sub-cause and the phrase that decided.
type rule struct {
	id         string
	cause      Cause
	confidence Confidence
	reader     reader
	// list is what a phraseReader reads.
	list *phrases
}

// reader names the function that reads a message for a rule. The functions are called through a
// switch, not stored as func values, so that the message a rule reads does not escape to the heap.
type reader uint8

const (
	phraseReader reader = iota
	placementReader
	loggingReader
	efsReader
	startContainerReader
	resourceInitReader
	imagePullReader
	hostLostReader
	healthCheckReader
	startFailureReader
)

// read returns the sub-cause and the phrase that decided.
func (r *rule) read(m *msg) (sub, phrase string, ok bool) {
	switch r.reader {
	case placementReader:
		return matchPlacement(m)
	case loggingReader:
		return matchLogging(m)
	case efsReader:
		return matchEFS(m)
	case startContainerReader:
		return matchStartContainer(m)
	case resourceInitReader:
		return matchResourceInit(m)
	case imagePullReader:
		return matchImagePull(m)
	case hostLostReader:
		return matchHostLost(m)
	case healthCheckReader:
		return matchHealthCheck(m)
	case startFailureReader:
		return matchStartFailure(m)
	}
	if p := m.first(r.list); p != "" {
		return "", p, true
	}
	return "", "", false
}

// generic rules say only that something stopped: a more specific finding in another text, a
// sidecar's, or the exit code may refine them.
func (r *rule) generic() bool { return r.cause == EssentialExit }

var rules = []rule{
	{id: "placement", cause: StartFailure, confidence: Confirmed, reader: placementReader},
	{id: "logging", cause: ResourceInit, confidence: Confirmed, reader: loggingReader},
	{id: "oom", cause: OOMKilled, confidence: Confirmed, list: oomPhrases},
	{id: "efs", cause: ResourceInit, confidence: Confirmed, reader: efsReader},
	{id: "start-container", cause: StartFailure, confidence: Confirmed, reader: startContainerReader},
	{id: "resource-init", cause: ResourceInit, confidence: Confirmed, reader: resourceInitReader},
	{id: "image-pull", cause: ImagePull, confidence: Confirmed, reader: imagePullReader},
	{id: "spot", cause: SpotInterruption, confidence: Confirmed, list: spotPhrases},
	{id: "host-lost", cause: HostLost, confidence: Confirmed, reader: hostLostReader},
	{id: "health-check", cause: HealthCheck, confidence: Confirmed, reader: healthCheckReader},
	{id: "start-failure", cause: StartFailure, confidence: Confirmed, reader: startFailureReader},
	{id: "expected", cause: Expected, confidence: Confirmed, list: expectedPhrases},
	{id: "essential-exit", cause: EssentialExit, confidence: Confirmed, list: essentialPhrases},
}

var oomPhrases = words(
	"outofmemoryerror", "out of memory", "oom-killed", "oomkilled", "oom killed", "oom-kill",
	"container killed due to memory usage", "memory limit too low", "killed due to memory",
)

// placementPhrases are ECS's reasons for not placing a task
// (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Failure.html and the service
// event "was unable to place a task"). None of them is an OOM kill.
var placementPhrases = words(
	"resource:memory", "resource:cpu", "resource:ports", "resource:eni", "resource:gpu", "resource:fargate",
	"no active instances", "empty capacity provider", "memberof placement constraint",
	"placement constraint", "no container instance met", "was unable to place a task", "unable to place",
	"insufficient memory", "insufficient cpu", "capacity is unavailable", "capacity provider",
	"distinctinstance", "missing attribute", "missing attributes",
)

func matchPlacement(m *msg) (string, string, bool) {
	if m.code == "taskfailedtostart" {
		b := strings.TrimSpace(strings.TrimPrefix(m.text[len(m.code):], ":"))
		if hasPrefixFold(b, "attribute") || hasPrefixFold(b, "resource:") {
			return "", "taskfailedtostart: " + strings.ToLower(b), true // (b of a lower-cased text is so already)
		}
	}
	if p := m.first(placementPhrases); p != "" {
		if p == "capacity provider" && !m.contains(wordEmpty) && !m.contains(wordUnable) &&
			!m.contains(wordNoCapacity) {
			return "", "", false
		}
		return "", p, true
	}
	return "", "", false
}

func matchLogging(m *msg) (string, string, bool) {
	if m.service() == svcLogs {
		return "logging", m.first(logPhrases), true
	}
	return "", "", false
}

func matchEFS(m *msg) (string, string, bool) {
	if m.service() != svcEFS {
		return "", "", false
	}
	if p := m.first(efsPhrases); p != "" {
		return "efs", p, true
	}
	return "efs", "efs", true
}

// runtimePhrases are the container runtime failing to create or start the container process.
var runtimePhrases = words(
	"oci runtime", "runc create failed", "failed to create shim task", "starting container process",
	"executable file not found", "exec format error", "failed to create new container runtime task",
	"error response from daemon", "unable to start container process",
)

// matchStartContainer: the runtime could not create or start the container (a missing entrypoint,
// a port in use, a full disk), even when the message carries "ResourceInitializationError" as
// Fargate's runtime wraps it — unless the text is about a resource fetched before the start.
func matchStartContainer(m *msg) (string, string, bool) {
	switch m.service() {
	case svcSecrets, svcECRAuth, svcEnvFile, svcENI:
		return "", "", false
	}
	if m.code == "cannotstartcontainererror" || m.code == "cannotcreatecontainererror" {
		return "", m.code, true
	}
	if p := m.first(runtimePhrases); p != "" && !m.contains(wordPull) {
		return "", p, true
	}
	return "", "", false
}

// resourcePhrases name the fetches a task does before its containers start.
var resourcePhrases = words(
	"unable to pull secrets or registry auth", "execution resource retrieval failed", "failed to download env files",
	"failed to configure eni", "network interface", "eni plugin", "cni setup", "network namespace", "retrieve the secret", "retrieve secret",
	"fetch secret", "unable to retrieve", "secrets manager", "secretsmanager:getsecretvalue", "ssm:getparameter",
	"parameternotfound", "parameter store", "failed to get registry auth", "registry auth", "env file",
	"failed to fetch", "retrieve the parameter", "execution role credentials", "missing secret value",
	"containernetworkingerror",
)

func matchResourceInit(m *msg) (string, string, bool) {
	p := ""
	switch {
	case m.code == "resourceinitializationerror":
		p = m.code
	case m.contains(wordResourceInit):
		p = "resourceinitializationerror"
	default:
		p = m.first(resourcePhrases)
		if p == "unable to retrieve" || p == "failed to fetch" {
			// generic words: only with a resource named
			if m.service() != svcSecrets && m.service() != svcECRAuth && m.service() != svcEnvFile {
				p = ""
			}
		}
		if p == "" && m.service() == svcSecrets && m.failure() != howNone && (m.code == "" || m.code == "taskfailedtostart") {
			// a raw Secrets Manager or SSM error body, without the wrapper
			p = m.first(rawSecretPhrases)
		}
		if p == "" {
			return "", "", false
		}
	}
	return resourceSub(m), because(p, m), true
}

// because is the phrase that named the family, with the words of the innermost cause that named
// the sub-cause, for --explain.
func because(p string, m *msg) string {
	if m.failure(); m.howWord != "" && m.howWord != p {
		return p + " … " + m.howWord
	}
	return p
}

// resourceSub picks the sub-cause of a resource-init message. The resource named decides, except
// when the innermost cause is the network (a timeout, a refused connection): then the fix is the
// network path (NAT, VPC endpoints), whichever resource was being fetched. A denial or a
// missing secret is the resource's own problem even if the text also advises checking the network.
func resourceSub(m *msg) string {
	switch m.service() {
	case svcLogs:
		return "logging"
	case svcEFS:
		return "efs"
	case svcENI:
		return "network"
	}
	if m.failure() == howNetwork {
		return "network"
	}
	switch m.service() {
	case svcSecrets:
		return "secrets"
	case svcECRAuth:
		return "registry-auth"
	}
	return ""
}

var pullPhrases = words(
	"can't pull the image", "cannot pull the image", "task cannot pull", "task can't pull", "unable to pull",
	"pull access denied", "toomanyrequests", "pull rate limit", "error pulling image", "pull image manifest",
	"ref pull has been retried", "failed to resolve ref", "manifest unknown", "failed to pull and unpack",
	"inspect image has been retried", "no matching manifest", "image pull", "pulling image", "failed to pull image",
	"pull image", "image manifest", "docker login", "image reference", "between the task and amazon ecr",
)

func matchImagePull(m *msg) (string, string, bool) {
	p := ""
	if m.code == "cannotpullcontainerautherror" {
		return "auth", m.code, true
	}
	if m.code == "cannotpullcontainererror" || m.code == "cannotpullecrcontainererror" || m.code == "cannotpullimagemanifesterror" {
		p = m.code
	} else if p = m.first(pullPhrases); p == "" {
		return "", "", false
	}
	return pullSub(m), because(p, m), true
}

// pullSub: throttled, denied, missing or unreachable. Docker answers "pull access denied …,
// repository does not exist or may require 'docker login'" both for an image that does not exist
// and for one the caller may not read: alone, that names no sub-cause. An explicit denial of a
// principal (IAM's "is not authorized to perform", a 403) makes it auth; "not found" makes it
// not-found.
func pullSub(m *msg) string {
	if m.any(ambiguousPull) && m.failure() != howRateLimit {
		switch {
		case m.any(explicitDenial):
			return "auth"
		case m.any(imageMissing):
			return "not-found"
		case m.contains(wordECRHost):
			// ECR names a missing repository or tag ("not found", "name unknown"); its bare
			// "may require 'docker login'" is a credential the host did not have or that expired.
			return "auth"
		}
		return ""
	}
	switch m.failure() {
	case howRateLimit:
		return "rate-limit"
	case howDenied:
		return "auth"
	case howNotFound:
		return "not-found"
	case howNetwork:
		return "network"
	}
	return ""
}

var ambiguousPull = words("repository does not exist or may require", "check if image exists and role has permissions",
	"does not exist or no pull access", "insufficient_scope")

// explicitDenial names a principal that was refused; the ECS agent reads "is not authorized to
// perform: ecr:BatchGetImage" as missing pull permissions.
var explicitDenial = words("is not authorized to perform", "accessdenied", "403 forbidden", "(403)",
	"status code 403", "role has the permissions to pull", "no basic auth credentials", "authentication required",
	"unauthorized")

// imageMissing: the ECS agent reads Docker's "denied: requested access to the resource is denied"
// after "repository does not exist" as an image that does not exist (agent/api/errormessages),
// and says so: "Check whether the image exists". Docker Hub's "insufficient_scope: authorization
// failed" is its wording of the same answer for a repository it does not have.
var imageMissing = words("requested access to the resource is denied", "check whether the image exists",
	"not found", "manifest unknown", "(404)", "no such image", "insufficient_scope")

var spotPhrases = words("spot task was interrupted", "spot interruption", "spotinterruption", "fargate spot",
	"spot instance interruption", "spot capacity")

var hostPhrases = words(
	"host ec2 (instance", "host ec2 instance", "host ec2", "instance terminated", "instance was terminated",
	"instance stopped", "instance was stopped", "instance has been terminated", "instance is being terminated",
	"instance is terminating", "instance retirement", "container instance was drained", "container instance is draining",
	"container instance deregistered", "container instance was deregistered", "deregistration", "deregistered",
	"agent disconnected", "agent was disconnected", "agent is disconnected", "agent became disconnected",
	"performing maintenance on the underlying infrastructure", "underlying infrastructure", "task retirement",
	"scheduled for retirement", "underlying host", "instance stopped/terminated", "host was terminated",
	"host is terminated", "host terminated", "instance lost", "instance was lost", "instance unhealthy",
	"draining", "was drained",
)

// instanceFates are what can happen to an instance that takes its tasks with it, in any
// wording ("EC2 instance (i-…) was terminated", "container instance is draining").
var instanceFates = words("terminated", "terminating", "was stopped", ") stopped", "is stopping", "shut down",
	"shutting down", "retire", "drain", "deregist", "disconnected", "is lost", "was lost", "unreachable")

func matchHostLost(m *msg) (string, string, bool) {
	if m.code == "taskfailedtostart" && m.contains(wordAgent) {
		return "", "taskfailedtostart: agent", true
	}
	if p := m.first(hostPhrases); p != "" {
		return "", p, true
	}
	if m.hasWord(wordInstance) {
		if p := m.first(instanceFates); p != "" {
			return "", "instance … " + p, true
		}
	}
	return "", "", false
}

func matchHealthCheck(m *msg) (string, string, bool) {
	p := m.first(healthPhrases)
	if p == "" {
		return "", "", false
	}
	if m.any(elbPhrases) {
		return "elb", p, true
	}
	return "container", p, true
}

var (
	healthPhrases    = words("health check", "healthcheck", "unhealthy", "health-check")
	elbPhrases       = words("elb", "target-group", "target group", "targetgroup", "load balancer")
	rawSecretPhrases = words("secretsmanager", "secret", "ssm", "parameter", "kms")
)

var startPhrases = words(
	"cannotinspectcontainererror", "containerruntimeerror", "containerruntimetimeouterror",
	"cannotdescribecontainererror", "cannotgetdockerclienterror", "dockerstateerror", "containervanishederror",
	"dockertimeouterror", "cannotcreatevolumeerror", "cannotremovecontainererror", "dockerclientconfigerror",
	"task failed to start", "taskfailedtostart", "could not transition to", "failed to start", "can't start",
	"cannot start", "unable to start", "no space left on device", "port is already allocated", "address already in use",
	"not compatible with", "provisioning to complete",
)

func matchStartFailure(m *msg) (string, string, bool) {
	if p := m.first(startPhrases); p != "" {
		return "", p, true
	}
	return "", "", false
}

var expectedPhrases = words(
	"scaling activity initiated by", "stopped by user", "task stopped by user", "by user", "by the user",
	"user initiated", "userinitiated",
	"initiated by user", "requested by user", "stopped by the user", "manually stopped", "stopped manually",
	"deployment completed", "replaced by a new deployment", "service deleted", "service was deleted",
	"service is being deleted", "deleting service", "deleted the service", "task was stopped by the scheduler",
	"stopped by eventbridge", "terminated by user", "stoptask", "stop task api", "scale-in", "scaled in",
	"rebalancing",
)

var essentialPhrases = words("essential container in task exited", "essentialcontainerexited", "essential container exited")
