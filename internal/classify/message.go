package classify

import (
	"strings"
	"unicode"
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
	// text is what the rules read: the reason itself when it is ASCII, read with ASCII case
	// folding (every phrase is lower-case), so no lower-cased copy is made; otherwise a copy
	// lower-cased with typographic apostrophes folded (normalize), read the same way. Positions
	// in the one are positions in the other for ASCII texts, so both read alike.
	text string
	// code is the leading error code ("cannotpullcontainererror"), "" for a plain-English text.
	code string
	// tailStart is where the cause chain after the last retry wrapper starts in text (where the
	// text after the code starts when there is no wrapper): the words that say how it failed.
	tailStart int
	// hits are the phrases of the rules found in text (phrases.go), seen the same as a set;
	// wrappers are the spans of ECS's generic wrappers, where no service is looked for.
	// (Fixed arrays with counts, not slices into the message itself: a message that pointed into
	// itself could not live on the stack.)
	hitBuf   [48]hit
	nhits    int
	moreHits []hit // beyond hitBuf, rarely
	seen     bitset
	wrapBuf  [2][2]int32
	nwrap    int
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
		m.svc, m.svcDone = m.serviceOf(), true
	}
	return m.svc
}

// failure is how the innermost cause failed.
func (m *msg) failure() failure {
	if !m.howDone {
		m.how, m.howWord = m.failureOf()
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
	"cannotpullcontainerautherror", "cannotdescribecontainererror", "cannotgetdockerclienterror",
	"dockerstateerror", "containernetworkingerror", "containervanishederror",
}

// parse reads a reason's structure: one scan of the text for every phrase, then a few cuts.
func (m *msg) parse(field string, container int, raw string) {
	*m = msg{field: field, container: container, raw: raw, text: raw}
	if !isASCII(raw) {
		m.text = normalize(raw)
	}
	m.scan(m.text)
	s := strings.TrimSpace(m.text)
	body := s
	if i := strings.IndexByte(s, ':'); i > 0 && i < 45 {
		if c := codeOf(s[:i]); c != "" {
			m.code, body = c, strings.TrimSpace(s[i+1:])
		}
	} else if c := codeOf(s); c != "" {
		m.code, body = c, ""
	}
	// "TaskFailedToStart: CannotPullContainerError: …": the stop code repeated as a wrapper; the
	// code inside is the one that names the failure.
	if m.code == "taskfailedtostart" {
		if i := strings.IndexByte(body, ':'); i > 0 {
			if c := codeOf(body[:i]); c != "" {
				m.code, body = c, strings.TrimSpace(body[i+1:])
			}
		}
	}
	// body and tail end where the trimmed text ends.
	end := len(strings.TrimRightFunc(m.text, unicode.IsSpace))
	tail := body
	if i := m.lastHit(retryWrapper.ids[0], end-len(body)); i >= 0 {
		rest := m.text[int(i)+len(retryWrapper.words[0]) : end]
		if j := strings.IndexByte(rest, ':'); j >= 0 {
			rest = rest[j+1:]
		} else {
			rest = ""
		}
		tail = strings.TrimSpace(rest)
	}
	m.tailStart = end - len(tail)
	// ECS wraps every failure to fetch a task's resources in "unable to pull secrets or registry
	// auth": it names both, so it names neither; the service is read from what follows.
	for i, id := range wrapperPhrases.ids {
		if pos := m.firstHit(id); pos >= 0 && m.nwrap < len(m.wrapBuf) {
			m.wrapBuf[m.nwrap] = [2]int32{pos, pos + int32(len(wrapperPhrases.words[i]))}
			m.nwrap++
		}
	}
}

// wrapperPhrases are ECS's generic wrappers around a resource failure.
var wrapperPhrases = words("unable to pull secrets or registry auth", "execution resource retrieval failed")

// retryWrapper is the ECS agent's retry wrapper ("pull image manifest has been retried 5
// time(s): …"): the cause follows its last occurrence.
var retryWrapper = words("has been retried")

// Words the rules look for on their own, found by the same scan as every phrase.
var (
	wordEmpty        = words("empty")
	wordUnable       = words("unable")
	wordNoCapacity   = words("no capacity")
	wordPull         = words("pull")
	wordResourceInit = words("resourceinitializationerror")
	wordECRHost      = words(".dkr.ecr.")
	wordAgent        = words("agent")
	wordInstance     = words("instance")
	wordEFS          = words("efs")
	wordENI          = words("eni")
)

// codeOf returns the known error code s is, in lower case, or "".
func codeOf(s string) string {
	for _, c := range errorCodes {
		if len(s) == len(c) && hasPrefixFold(s, c) {
			return c
		}
	}
	return ""
}

// serviceOf names the AWS resource a message is about. The order matters where a message names
// two: a private registry's credentials live in Secrets Manager, so "registry auth" wins over
// "asm"; an EFS mount names the network too.
func (m *msg) serviceOf() service {
	switch {
	case m.firstIn(logPhrases, 0) != "":
		return svcLogs
	case m.firstIn(efsPhrases, 0) != "" || m.hasWord(wordEFS):
		return svcEFS
	case m.firstIn(authPhrases, 0) != "":
		return svcECRAuth
	case m.firstIn(secretPhrases, 0) != "":
		return svcSecrets
	case m.firstIn(envFilePhrases, 0) != "":
		return svcEnvFile
	case m.firstIn(eniPhrases, 0) != "" || m.hasWord(wordENI):
		return svcENI
	}
	return svcNone
}

var (
	authPhrases = words("ecr registry auth", "registry auth from", "private registry", "repositorycredentials",
		"repository credentials", "registry credentials", "ecr:getauthorizationtoken", "getauthorizationtoken",
		"asm auth", "asmauth", "asm-auth", "ecr credentials", "private registry credentials")
	secretPhrases = words("secret", "from asm", "asm:", "asm resource", "ssm", "parameter store", "parameternotfound",
		"getparameters", "kms")
	envFilePhrases = words("env file", "envfile", "environmentfile", "environment file")
	eniPhrases     = words("failed to configure eni", "network interface", "eni plugin", "cni setup",
		"network namespace", "setup regular eni", "setup trunk eni", "branch eni", "containernetworkingerror")
)

var logPhrases = words(
	"failed to initialize logging driver", "failed to validate logger args", "logging driver",
	"log driver", "log-driver", "failed to create cloudwatch log stream", "failed to create cloudwatch log group",
	"cannot find the amazon cloudwatch log group", "logs:createlogstream", "logs:createloggroup",
	"create stream has been retried", "awslogs", "fluent.sock", "log router", "firelens", "log group", "log stream",
	"and amazon cloudwatch", "cloudwatch logs",
)

var efsPhrases = words(
	"efs utils", "efs-utils", "efs volume", ".efs.", "amazon-efs", "mount.nfs", "volumedriver.create",
	"elasticfilesystem", "efs mount", "efs access point", "efs file system", "mounting volume failed",
)

// hasWord reports whether w (a list of one word) occurs in the text as a word (not inside
// "refs"), in any case.
func (m *msg) hasWord(w *phrases) bool {
	id, n := w.ids[0], len(w.words[0])
	if !m.has(id) {
		return false
	}
	s, found := m.text, false
	m.eachHit(func(h hit) bool {
		if h.id == id {
			j := int(h.pos)
			before := j == 0 || !isAlnum(lower(s[j-1]))
			after := j+n == len(s) || !isAlnum(lower(s[j+n]))
			found = before && after
		}
		return !found
	})
	return found
}

func isAlnum(b byte) bool { return b >= 'a' && b <= 'z' || b >= '0' && b <= '9' }

// Words of the innermost cause, by how it failed.
var (
	rateLimitWords = words("toomanyrequests", "too many requests", "rate limit", "rate exceeded", "throttl",
		"status code 429", "(429)", " 429 ")
	deniedWords = words("accessdenied", "access denied", "not authorized", "unauthorized", "forbidden", "(403)",
		"status code 403", "(401)", "no basic auth credentials", "credentials: not found", "permission", "denied:", "pull access denied",
		"is not allowed", "invalid security token", "unrecognizedclient", "expiredtoken", "kms", "decrypt",
		"authorization token has expired", "requested access to the resource is denied")
	notFoundWords = words("not found", "notfound", "does not exist", "manifest unknown", "(404)", "no such image",
		"can't find", "cannot find", "could not find", "invalid reference format", "does not contain descriptor matching platform",
		"no matching manifest", "name unknown", "doesn't exist", "invalidparameter", "is not valid", "invalid character",
		"unmarshal", "malformed", "normalize image reference", "validationexception", "invalid name", "invalidrequestexception",
		"invalidparameterexception")
	networkWords = words("i/o timeout", "context deadline exceeded", "context canceled", "request canceled",
		"requestcanceled", "network configuration", "network connection", "connection issue", "dial tcp", "no such host", "connection refused",
		"connection reset", "tls handshake timeout", "client.timeout exceeded", "could not reach", "timeout exceeded",
		"signal: killed", "timed out", "connection timed out", "network is unreachable", "no route to host",
		"temporary failure in name resolution", "eof", "api error (500)", "api error (502)", "api error (503)",
		"status code 500", "status code 502", "status code 503", "internal server error", "service unavailable",
		"bad gateway", "unexpected status code", "failed open", "send request failed", "net/http", "api error (5", "api error\"",
		// the ECS agent replaces the S3 URL of an ECR image layer it could not fetch with this
		"redacted ecr url related to", "starport-layer-bucket")
)

// failureOf says how the innermost cause failed. The tail decides first (the words after the
// retry wrapper are the cause); the whole text is the fallback for messages without a wrapper.
func (m *msg) failureOf() (failure, string) {
	for _, from := range [2]int{m.tailStart, 0} {
		for _, k := range [...]struct {
			how   failure
			words *phrases
		}{{howRateLimit, rateLimitWords}, {howDenied, deniedWords}, {howNotFound, notFoundWords}, {howNetwork, networkWords}} {
			if w := m.firstIn(k.words, from); w != "" {
				return k.how, w
			}
		}
	}
	return howNone, ""
}

// normalize lower-cases and folds the typographic apostrophe AWS's newer messages use
// ("The task can’t pull the image"). ASCII texts are not copied: they are read with case folding.
func normalize(s string) string {
	s = strings.ToLower(s)
	if strings.Contains(s, "\u2019") {
		s = strings.ReplaceAll(s, "\u2019", "'")
	}
	return s
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// lower is an ASCII byte in lower case.
func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// hasPrefixFold reports whether s starts with the lower-case w, in any ASCII case.
func hasPrefixFold(s, w string) bool {
	if len(s) < len(w) {
		return false
	}
	for j := 0; j < len(w); j++ {
		if lower(s[j]) != w[j] {
			return false
		}
	}
	return true
}

// contains reports whether the text holds w (a list of one), in any case.
func (m *msg) contains(w *phrases) bool { return m.has(w.ids[0]) }
