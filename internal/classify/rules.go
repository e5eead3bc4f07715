package classify

// The rule table. Each rule names a cause by substrings of the verbatim ECS text (lower-cased,
// with typographic apostrophes folded). Rules are tried in order and the first that matches any
// text wins, so a specific rule must stand above a generic one: a log-driver failure that arrives
// as CannotStartContainerError or ResourceInitializationError is logging (SPEC §1), an OOM-killed
// container init is OOM, and "Essential container in task exited" comes last because it only says
// that something died.
//
// The real messages each rule was built from are in testdata/classify/cases.yaml with their
// sources; every rule has cases there (TestEveryRuleHasCases).
//
// References:
//   - https://docs.aws.amazon.com/AmazonECS/latest/developerguide/stopped-task-error-codes.html
//   - https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_cannot_pull_image.html
//   - https://docs.aws.amazon.com/AmazonECS/latest/developerguide/resource-initialization-error.html
//   - https://docs.aws.amazon.com/AmazonECS/latest/developerguide/cannot-start-container.html

type rule struct {
	id         string
	cause      Cause
	confidence Confidence
	// any: the rule matches a text containing one of these.
	any []string
	// subs: the first sub-rule whose substrings match names the sub-cause.
	subs []subRule
}

type subRule struct {
	sub string
	any []string
}

// Network trouble shows in many causes in the same words.
var networkWords = []string{
	"i/o timeout", "context deadline exceeded", "context canceled", "request canceled",
	"network configuration", "connection issue", "dial tcp", "no such host", "connection refused",
	"connection reset", "tls handshake timeout", "client.timeout exceeded", "could not reach",
	"timeout exceeded", "signal: killed",
}

var rules = []rule{
	{
		id: "logging", cause: ResourceInit, confidence: Confirmed,
		any: []string{
			"failed to initialize logging driver", "failed to validate logger args",
			"failed to create cloudwatch log stream", "failed to create cloudwatch log group",
			"logging driver", "log-driver", "cannot find the amazon cloudwatch log group",
		},
		subs: []subRule{{sub: "logging", any: []string{""}}},
	},
	{
		id: "oom", cause: OOMKilled, confidence: Confirmed,
		any: []string{
			"outofmemoryerror", "out of memory", "oom-killed", "oomkilled",
			"container killed due to memory usage", "memory limit too low", "oom killed",
		},
	},
	{
		id: "resource-init", cause: ResourceInit, confidence: Confirmed,
		any: []string{"resourceinitializationerror", "unable to pull secrets or registry auth",
			"failed to download env files", "failed to invoke efs utils", "failed to configure eni"},
		subs: []subRule{
			{sub: "efs", any: []string{"efs", "mount.nfs", "volume"}},
			{sub: "network", any: networkWords},
			{sub: "registry-auth", any: []string{"ecr registry auth", "registry auth from", "private registry", "repositorycredentials", "registry credentials"}},
			{sub: "secrets", any: []string{"secret", "ssm", "asm", "parameter", "kms", "env files"}},
			{sub: "network", any: []string{"eni", "network"}},
		},
	},
	{
		id: "image-pull", cause: ImagePull, confidence: Confirmed,
		any: []string{
			"cannotpullcontainererror", "can't pull the image", "cannot pull the image", "task cannot pull",
			"pull access denied", "toomanyrequests", "you have reached your pull rate limit",
			"error pulling image", "pull image manifest", "ref pull has been retried",
			"failed to resolve ref", "manifest unknown",
		},
		subs: []subRule{
			{sub: "rate-limit", any: []string{"toomanyrequests", "too many requests", "rate limit", "429 too many", "status code 429", "(429)"}},
			{sub: "auth", any: []string{"pull access denied", "403 forbidden", "(403)", "status code 403", "401 unauthorized", "(401)", "forbidden", "unauthorized",
				"no basic auth credentials", "not authorized", "permissions to pull", "accessdenied", "access denied", "denied:"}},
			{sub: "not-found", any: []string{"not found", "manifest unknown", "(404)", "404 not found", "does not exist",
				"no such image", "does not contain descriptor matching platform", "invalid reference format"}},
			{sub: "network", any: networkWords},
			{sub: "network", any: []string{"network", "unexpected status code", "api error (500)"}},
		},
	},
	{
		id: "spot", cause: SpotInterruption, confidence: Confirmed,
		any: []string{"spot task was interrupted", "spot interruption", "spotinterruption", "terminationnotice", "fargate spot"},
	},
	{
		id: "host-lost", cause: HostLost, confidence: Confirmed,
		any: []string{
			"host ec2 (instance", "host ec2 instance", "instance terminated", "container instance was drained",
			"container instance is draining", "container instance deregistered", "agent disconnected",
			"performing maintenance on the underlying infrastructure", "task retirement",
			"scheduled for retirement", "underlying host", "instance stopped/terminated",
		},
	},
	{
		id: "health-check", cause: HealthCheck, confidence: Confirmed,
		any:  []string{"health check", "healthcheck", "unhealthy"},
		subs: []subRule{{sub: "elb", any: []string{"elb", "target-group", "target group", "load balancer"}}, {sub: "container", any: []string{""}}},
	},
	{
		id: "start-failure", cause: StartFailure, confidence: Confirmed,
		any: []string{
			"cannotstartcontainererror", "cannotcreatecontainererror", "cannotinspectcontainererror",
			"containerruntimeerror", "containerruntimetimeouterror", "cannotstopcontainererror",
			"dockertimeouterror", "cannotcreatevolumeerror", "task failed to start",
			"timeout waiting for network interface provisioning", "oci runtime create failed",
			"exec format error",
		},
	},
	{
		id: "expected", cause: Expected, confidence: Confirmed,
		any: []string{
			"scaling activity initiated by", "task stopped by user", "stopped by user",
			"deployment completed", "replaced by a new deployment", "service deleted",
			"task was stopped by the scheduler", "stopping a task in a draining state", "stopped by eventbridge",
		},
	},
	{
		id: "essential-exit", cause: EssentialExit, confidence: Confirmed,
		any: []string{"essential container in task exited", "essentialcontainerexited"},
	},
}

// stopCodeRules apply when no text rule matched: the stop code alone says less than the text.
// https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Task.html (stopCode)
var stopCodeRules = map[string]struct {
	cause      Cause
	confidence Confidence
}{
	"SpotInterruption":          {SpotInterruption, Confirmed},
	"TerminationNotice":         {SpotInterruption, Confirmed},
	"EssentialContainerExited":  {EssentialExit, Confirmed},
	"TaskFailedToStart":         {StartFailure, Suspected},
	"UserInitiated":             {Expected, Confirmed},
	"ServiceSchedulerInitiated": {Expected, Suspected},
}
