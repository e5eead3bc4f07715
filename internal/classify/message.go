package classify

import (
	"strings"
)

// msg is one verbatim reason text read for its structure. ECS reasons have a shape:
//
//	CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref …: 403 Forbidden
//	└─ code ────────────────┘ └─ op ─────────────┘ └─ wrapper ─────────────┘ └─ cause chain ("a: b: c") ─┘
//
// The code names the family of failure, the retry wrapper says what was being done, the service
// named in the chain (asm, ssm, ecr, efs, logs) says which resource, and the innermost cause says
// how it failed (denied, not found, throttled, timed out). AWS's newer plain-English messages
// ("The task can't pull the image …") carry no code; they are read by their phrases.
type msg struct {
	field     string // "stoppedReason", "containers[api].reason"
	container int    // index into containers, -1 for the task's stoppedReason
	raw       string
	norm      string // lower-cased, typographic apostrophes folded
	// code is the leading error code ("cannotpullcontainererror"), "" for a plain-English text.
	code string
	// op is what was being retried ("ref pull", "service call", "create stream"), "" without a
	// retry wrapper.
	op string
	// tail is the cause chain after the last retry wrapper (the whole text after the code when
	// there is none): the words that say how it failed.
	tail string
	// named is the text without ECS's generic wrappers, where the service is looked for.
	named string
	// The service named and how the innermost cause failed (with the words that said so) are
	// worked out when a rule first asks: most texts are decided before any rule needs them.
	svc              service
	how              failure
	howWord          string
	svcDone, howDone bool
}

// service is the AWS resource the text names.
func (m *msg) service() service {
	if !m.svcDone {
		m.svc, m.svcDone = serviceOf(m.named), true
	}
	return m.svc
}

// failure is how the innermost cause failed.
func (m *msg) failure() failure {
	if !m.howDone {
		m.how, m.howWord = failureOf(m.tail, m.named)
		m.howDone = true
	}
	return m.how
}

// service is the AWS resource a message names.
type service uint8

const (
	svcNone    service = iota
	svcSecrets         // Secrets Manager (asm) or SSM Parameter Store
	svcEnvFile         // S3 environment files
	svcECRAuth         // ECR registry auth, or private registry credentials
	svcEFS
	svcLogs
	svcENI
)

// failure is how the innermost cause failed.
type failure uint8

const (
	howNone failure = iota
	howRateLimit
	howDenied
	howNotFound
	howNetwork
)

// errorCodes are the leading codes ECS and its agent put on stop reasons
// (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/stopped-task-error-codes.html),
// lower-cased.
var errorCodes = []string{
	"cannotpullcontainererror", "cannotpullecrcontainererror", "cannotpullimagemanifesterror", "resourceinitializationerror",
	"cannotstartcontainererror", "cannotcreatecontainererror", "cannotinspectcontainererror",
	"cannotstopcontainererror", "cannotremovecontainererror", "cannotcreatevolumeerror",
	"containerruntimeerror", "containerruntimetimeouterror", "dockertimeouterror",
	"outofmemoryerror", "taskfailedtostart", "internalerror", "dockerclientconfigerror",
	"cannotinspectcontainerruntimeerror", "spotinterruption", "terminationnotice",
	"essentialcontainerexited", "serviceschedulerinitiated", "userinitiated",
}

// parse reads a reason's structure. It is cheap: a handful of scans of a string of at most a few
// hundred bytes.
func parse(field string, container int, raw string) msg {
	m := msg{field: field, container: container, raw: raw, norm: normalize(raw)}
	s := strings.TrimSpace(m.norm)
	body := s
	if i := strings.IndexByte(s, ':'); i > 0 && i < 45 {
		if c := s[:i]; isCode(c) {
			m.code, body = c, strings.TrimSpace(s[i+1:])
		}
	} else if isCode(s) {
		m.code, body = s, ""
	}
	// "TaskFailedToStart: CannotPullContainerError: …": the stop code repeated as a wrapper; the
	// code inside is the one that names the failure.
	if m.code == "taskfailedtostart" {
		if i := strings.IndexByte(body, ':'); i > 0 && isCode(body[:i]) {
			m.code, body = body[:i], strings.TrimSpace(body[i+1:])
		}
	}
	m.tail = body
	if i := strings.LastIndex(body, "has been retried"); i >= 0 {
		m.op = lastWords(body[:i])
		rest := body[i+len("has been retried"):]
		if j := strings.IndexByte(rest, ':'); j >= 0 {
			rest = rest[j+1:]
		} else {
			rest = ""
		}
		m.tail = strings.TrimSpace(rest)
	}
	// ECS wraps every failure to fetch a task's resources in "unable to pull secrets or registry
	// auth": it names both, so it names neither; the service is read from what follows.
	m.named = s
	for _, w := range wrapperPhrases {
		m.named = strings.Replace(m.named, w, "", 1) // no copy when absent
	}
	return m
}

// wrapperPhrases are ECS's generic wrappers around a resource failure.
var wrapperPhrases = []string{"unable to pull secrets or registry auth", "execution resource retrieval failed"}

// isCode reports whether s is one of the known error codes.
func isCode(s string) bool {
	for _, c := range errorCodes {
		if s == c {
			return true
		}
	}
	return false
}

// lastWords is the operation before a retry wrapper: "ref pull" in "…: ref pull has been retried".
func lastWords(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		s = strings.TrimSpace(s[i+1:])
	}
	return s
}

// serviceOf names the AWS resource a message is about. The order matters where a message names
// two: a private registry's credentials live in Secrets Manager, so "registry auth" wins over
// "asm"; an EFS mount names the network too.
func serviceOf(s string) service {
	// Each family is first gated by a word all its phrases share: most texts name no service.
	switch {
	case containsAny(s, logGate) && containsAny(s, logPhrases):
		return svcLogs
	case containsAny(s, efsGate) && (containsAny(s, efsPhrases) || hasWord(s, "efs")):
		return svcEFS
	case containsAny(s, authGate) && containsAny(s, []string{"ecr registry auth", "registry auth from", "private registry", "repositorycredentials",
		"repository credentials", "registry credentials", "ecr:getauthorizationtoken", "getauthorizationtoken",
		"asm auth", "asmauth"}):
		return svcECRAuth
	case containsAny(s, []string{"secret", "from asm", "asm:", "ssm", "parameter store", "parameternotfound",
		"getparameters", "kms"}):
		return svcSecrets
	case containsAny(s, []string{"env file", "envfile", "environmentfile", "environment file"}):
		return svcEnvFile
	case containsAny(s, []string{"failed to configure eni", "network interface", "eni plugin", "cni setup",
		"network namespace", "setup regular eni", "setup trunk eni", "branch eni"}) || hasWord(s, "eni"):
		return svcENI
	}
	return svcNone
}

var (
	logGate  = []string{"log", "fluent", "firelens", "create stream", "cloudwatch"}
	efsGate  = []string{"efs", "nfs", "volume", "elasticfilesystem"}
	authGate = []string{"auth", "registry", "credential"}
)

var logPhrases = []string{
	"failed to initialize logging driver", "failed to validate logger args", "logging driver",
	"log driver", "log-driver", "failed to create cloudwatch log stream", "failed to create cloudwatch log group",
	"cannot find the amazon cloudwatch log group", "logs:createlogstream", "logs:createloggroup",
	"create stream has been retried", "awslogs", "fluent.sock", "log router", "firelens", "log group", "log stream",
	"and amazon cloudwatch", "cloudwatch logs",
}

var efsPhrases = []string{
	"efs utils", "efs-utils", "efs volume", ".efs.", "amazon-efs", "mount.nfs", "volumedriver.create",
	"elasticfilesystem", "efs mount", "efs access point", "efs file system", "mounting volume failed",
}

// hasWord reports whether w occurs in s as a word (not inside "refs").
func hasWord(s, w string) bool {
	for i := 0; ; {
		j := strings.Index(s[i:], w)
		if j < 0 {
			return false
		}
		j += i
		before := j == 0 || !isAlnum(s[j-1])
		after := j+len(w) == len(s) || !isAlnum(s[j+len(w)])
		if before && after {
			return true
		}
		i = j + 1
	}
}

func isAlnum(b byte) bool { return b >= 'a' && b <= 'z' || b >= '0' && b <= '9' }

// Words of the innermost cause, by how it failed.
var (
	rateLimitWords = []string{"toomanyrequests", "too many requests", "rate limit", "rate exceeded", "throttl",
		"status code 429", "(429)", " 429 "}
	deniedWords = []string{"accessdenied", "access denied", "not authorized", "unauthorized", "forbidden", "(403)",
		"status code 403", "(401)", "no basic auth credentials", "permission", "denied:", "pull access denied",
		"is not allowed", "invalid security token", "unrecognizedclient", "expiredtoken", "kms", "decrypt",
		"authorization token has expired", "requested access to the resource is denied"}
	notFoundWords = []string{"not found", "notfound", "does not exist", "manifest unknown", "(404)", "no such image",
		"can't find", "cannot find", "could not find", "invalid reference format", "does not contain descriptor matching platform",
		"no matching manifest", "name unknown", "doesn't exist", "invalidparameter", "is not valid", "invalid character",
		"unmarshal", "malformed", "normalize image reference", "validationexception", "invalid name", "invalidrequestexception",
		"invalidparameterexception"}
	networkWords = []string{"i/o timeout", "context deadline exceeded", "context canceled", "request canceled",
		"requestcanceled", "network configuration", "connection issue", "dial tcp", "no such host", "connection refused",
		"connection reset", "tls handshake timeout", "client.timeout exceeded", "could not reach", "timeout exceeded",
		"signal: killed", "timed out", "connection timed out", "network is unreachable", "no route to host",
		"temporary failure in name resolution", "eof", "api error (500)", "api error (502)", "api error (503)",
		"status code 500", "status code 502", "status code 503", "internal server error", "service unavailable",
		"bad gateway", "unexpected status code", "failed open", "send request failed", "net/http", "api error (5", "api error\""}
)

// failureOf says how the innermost cause failed. The tail decides first (the words after the
// retry wrapper are the cause); the whole text is the fallback for messages without a wrapper.
func failureOf(tail, whole string) (failure, string) {
	for _, s := range [2]string{tail, whole} {
		for _, k := range [...]struct {
			how   failure
			words []string
		}{{howRateLimit, rateLimitWords}, {howDenied, deniedWords}, {howNotFound, notFoundWords}, {howNetwork, networkWords}} {
			if w := firstOf(s, k.words); w != "" {
				return k.how, w
			}
		}
	}
	return howNone, ""
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// firstOf returns the first of subs that s contains, or "".
func firstOf(s string, subs []string) string {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return sub
		}
	}
	return ""
}

// normalize lower-cases and folds the typographic apostrophe AWS's newer messages use
// ("The task can’t pull the image").
func normalize(s string) string {
	s = strings.ToLower(s)
	if strings.Contains(s, "\u2019") {
		s = strings.ReplaceAll(s, "\u2019", "'")
	}
	return s
}
