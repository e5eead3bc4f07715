package classify

import (
	"strings"
	"testing"

	"github.com/ecs-medic/ecs-medic/internal/event"
)

// A reason is read by its structure (message.go): the leading code, the retry wrapper and the
// cause chain after it, ECS's generic wrappers, the resource named and how the innermost cause
// failed. Each case pins what a user sees — the cause and sub-cause, the rule, and the words that
// decided (what --explain and /medic why quote) — on a text built to sit on one edge of a cut.
func TestReasonStructure(t *testing.T) {
	const ssmThrottled = "ThrottlingException: Rate exceeded (Service: Ssm, Status Code: 400)"
	for _, tc := range []struct {
		name, reason string
		cause        Cause
		sub, rule    string
		phrase       string // Explain's Decided.Phrase
	}{
		// the code
		{"a code alone is the code", "CannotStartContainerError",
			StartFailure, "", "start-container", "cannotstartcontainererror"},
		{"a code alone, pull", "CannotPullContainerError: pull image manifest has been retried 1 time(s)",
			ImagePull, "", "image-pull", "cannotpullcontainererror"},
		// the retry wrapper: the words after it are how it failed, whatever came before
		{"the cause after the retry wrapper decides", "CannotPullContainerError: throttled earlier; ref pull has been retried 5 time(s): manifest unknown",
			ImagePull, "not-found", "image-pull", "cannotpullcontainererror … manifest unknown"},
		{"a retry wrapper without a count", "CannotPullContainerError: throttled earlier; ref pull has been retried: manifest unknown",
			ImagePull, "not-found", "image-pull", "cannotpullcontainererror … manifest unknown"},
		{"the cause from the first word of the tail", "CannotPullContainerError: toomanyrequests: You have reached your pull rate limit",
			ImagePull, "rate-limit", "image-pull", "cannotpullcontainererror … toomanyrequests"},
		{"the cause from the first byte of the text", "Access denied while pulling image docker.io/acme/app",
			ImagePull, "auth", "image-pull", "pulling image … access denied"},
		{"the phrase is the cause's word: said once", "toomanyrequests: You have reached your pull rate limit",
			ImagePull, "rate-limit", "image-pull", "toomanyrequests"},
		// ECS's generic wrapper names secrets and registry auth: it names neither, at the start of
		// the text as after a code
		{"the generic wrapper at the start names no resource", "unable to pull secrets or registry auth: execution resource retrieval failed: AccessDenied: Access Denied",
			ResourceInit, "", "resource-init", "unable to pull secrets or registry auth … accessdenied"},
		{"the generic wrapper after a code names no resource", "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: AccessDenied: Access Denied",
			ResourceInit, "", "resource-init", "resourceinitializationerror … accessdenied"},
		// a raw Secrets Manager or SSM error body, without ECS's wrapper: only without a code, or
		// under TaskFailedToStart
		{"a raw SSM error", ssmThrottled,
			ResourceInit, "secrets", "resource-init", "ssm … rate exceeded"},
		{"a raw SSM error under TaskFailedToStart", "TaskFailedToStart: " + ssmThrottled,
			ResourceInit, "secrets", "resource-init", "ssm … rate exceeded"},
		{"a raw SSM error under another code is that code's", "CannotInspectContainerError: " + ssmThrottled,
			StartFailure, "", "start-failure", "cannotinspectcontainererror"},
		// generic fetch words count only with a resource named
		{"unable to retrieve, no resource named", "unable to retrieve the task metadata: connection refused",
			Unknown, "", "none", ""},
		{"failed to fetch, a resource named", "failed to fetch the ssm parameter: AccessDenied",
			ResourceInit, "secrets", "resource-init", "failed to fetch … accessdenied"},
		// an ENI named only by the word: the network path, whatever the denial
		{"ENI by the word alone", "ResourceInitializationError: ENI eni-0123456789abcdef0 could not be attached: AccessDenied",
			ResourceInit, "network", "resource-init", "resourceinitializationerror … accessdenied"},
		// EFS named by a phrase, or only by the word
		{"EFS by its phrase", "failed to mount the EFS volume: mount.nfs: Connection timed out",
			ResourceInit, "efs", "efs", "efs volume"},
		{"EFS by the word alone", "mount of efs fs-12345 failed: access denied",
			ResourceInit, "efs", "efs", "efs"},
		// an instance's fate, the word "instance" anywhere, at the start too
		{"instance at the start", "Instance i-0abc was terminated.",
			HostLost, "", "host-lost", "instance … terminated"},
		{"instance in the middle", "Task stopped: EC2 instance i-0abc is shutting down",
			HostLost, "", "host-lost", "instance … shutting down"},
		{"an instance without a fate is no lost host", "Task failed to start on instance i-0abc",
			StartFailure, "", "start-failure", "task failed to start"},
		{"instances is not the word instance", "Task stopped: all instances are shutting down",
			Unknown, "", "none", ""},
		// placement
		{"TaskFailedToStart: ATTRIBUTE is placement", "TaskFailedToStart: ATTRIBUTE",
			StartFailure, "", "placement", "taskfailedtostart: attribute"},
		{"TaskFailedToStart: RESOURCE:MEMORY is placement, not memory", "TaskFailedToStart: RESOURCE:MEMORY",
			StartFailure, "", "placement", "taskfailedtostart: resource:memory"},
		{"a capacity provider with no capacity", "Capacity provider FARGATE_SPOT has no capacity",
			StartFailure, "", "placement", "capacity provider"},
		{"a capacity provider named, nothing failed", "The capacity provider strategy was updated",
			Unknown, "", "none", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			task := &event.TaskDetail{StoppedReason: tc.reason}
			d := Task(task)
			if d.Cause != tc.cause || d.Sub != tc.sub || d.Rule != tc.rule {
				t.Fatalf("%s/%s by %s, want %s/%s by %s", d.Cause, d.Sub, d.Rule, tc.cause, tc.sub, tc.rule)
			}
			if len(d.Evidence) == 0 || d.Evidence[0] != (Evidence{Field: "stoppedReason", Value: tc.reason}) {
				t.Errorf("evidence %+v, want the reason verbatim first", d.Evidence)
			}
			ex := (*Classifier)(nil).Explain(task)
			if ex.Decided.Phrase != tc.phrase {
				t.Errorf("decided by %q, want %q", ex.Decided.Phrase, tc.phrase)
			}
		})
	}
}

// hasWord finds a word only between non-alphanumeric bytes (or the text's ends), in any case.
func TestHasWord(t *testing.T) {
	for _, tc := range []struct {
		s, w string
		want bool
	}{
		{"efs", "efs", true},
		{"EFS", "efs", true},
		{"the EFS volume", "efs", true},
		{"mount-efs-1", "efs", true},
		{"refs/heads/main", "efs", false},
		{"efs1", "efs", false},
		{"1efs", "efs", false},
		{"xefs efs", "efs", true}, // the second occurrence is the word
		{"refs efsx", "efs", false},
		{"on instance", "instance", true},
		{"instances", "instance", false},
		{"--------- instances", "instance", false},
		{"", "efs", false},
	} {
		var m msg
		m.parse("stoppedReason", -1, tc.s)
		if got := m.hasWord(&phrases{words: []string{tc.w}, ids: []uint16{lexicon.index[tc.w]}}); got != tc.want {
			t.Errorf("hasWord(%q, %q) = %v, want %v", tc.s, tc.w, got, tc.want)
		}
	}
}

func TestIsAlnum(t *testing.T) {
	for c := 0; c < 256; c++ {
		want := 'a' <= c && c <= 'z' || '0' <= c && c <= '9'
		if got := isAlnum(byte(c)); got != want {
			t.Errorf("isAlnum(%q) = %v", byte(c), got)
		}
	}
}

// A phrase is inside a wrapper when it shares a byte with it: one that ends where the wrapper
// starts, or starts where it ends, is outside.
func TestInWrapper(t *testing.T) {
	var m msg
	m.wrapBuf[0], m.nwrap = [2]int32{10, 20}, 1
	for _, tc := range []struct {
		pos, n int32
		want   bool
	}{
		{0, 10, false}, {0, 11, true}, {5, 6, true}, {10, 1, true}, {12, 3, true}, {19, 1, true},
		{19, 5, true}, {20, 3, false}, {25, 3, false}, {0, 30, true},
	} {
		if got := m.inWrapper(tc.pos, tc.n); got != tc.want {
			t.Errorf("phrase at %d, %d bytes: inside %v, want %v", tc.pos, tc.n, got, tc.want)
		}
	}
	// The same at the level of a message: "secret" in the wrapper names nothing, right after it it
	// does.
	m.parse("stoppedReason", -1, "unable to pull secrets or registry auth")
	if m.service() != svcNone {
		t.Errorf("the wrapper alone names %v", m.service())
	}
	m.parse("stoppedReason", -1, "unable to pull secrets or registry authsecret")
	if m.service() != svcSecrets {
		t.Errorf("a phrase right after the wrapper: %v", m.service())
	}
	m.parse("stoppedReason", -1, "ssmunable to pull secrets or registry auth")
	if m.service() != svcSecrets {
		t.Errorf("a phrase right before the wrapper: %v", m.service())
	}
}

// Explain lists every other finding — other rules on the deciding text, and every rule on the
// other texts — in precedence order, and never the decisive one; on a tie, a failed container's
// text decides over the task's reason.
func TestExplainListsEveryOtherFinding(t *testing.T) {
	logging := "CannotStartContainerError: Error response from daemon: failed to initialize logging driver: failed to create Cloudwatch log stream: ResourceNotFoundException"
	task := &event.TaskDetail{
		StoppedReason: "Essential container in task exited",
		StopCode:      "EssentialContainerExited",
		Containers:    []event.Container{{Name: "app", ExitCode: code(1), Reason: logging}},
	}
	ex := (*Classifier)(nil).Explain(task)
	if ex.Diagnosis.Cause != ResourceInit || ex.Diagnosis.Sub != "logging" || ex.Decided.Rule != "logging" ||
		ex.Decided.Field != "containers[app].reason" {
		t.Fatalf("diagnosis %+v, decided %+v", ex.Diagnosis, ex.Decided)
	}
	var also []string
	for _, f := range ex.Also {
		also = append(also, f.Rule+"@"+f.Field)
	}
	want := "start-container@containers[app].reason essential-exit@stoppedReason stop-code:EssentialContainerExited@stopCode"
	if strings.Join(also, " ") != want {
		t.Errorf("also %v, want %s", also, want)
	}

	oom := "OutOfMemoryError: Container killed due to memory usage"
	tie := &event.TaskDetail{StoppedReason: oom, Containers: []event.Container{{Name: "app", ExitCode: code(137), Reason: oom}}}
	for _, d := range []Diagnosis{Task(tie), (*Classifier)(nil).Explain(tie).Diagnosis} {
		if d.Cause != OOMKilled || d.Evidence[0].Field != "containers[app].reason" {
			t.Errorf("tie: %s decided by %s", d.Cause, d.Evidence[0].Field)
		}
	}
	if ex := (*Classifier)(nil).Explain(tie); ex.Decided.Field != "containers[app].reason" {
		t.Errorf("tie: Explain decided by %s", ex.Decided.Field)
	}
}

// The container a diagnosis names is the one whose text decided, wherever it is in the task; a
// container that exited 0 does not decide over one that never ran and said why.
func TestDecidingText(t *testing.T) {
	for _, tc := range []struct {
		name       string
		containers []event.Container
		cause      Cause
		container  string
		exit       int // -1: none
	}{
		{"the OOM-killed sidecar, first in the task, is named", []event.Container{
			{Name: "sidecar", ExitCode: code(137), Reason: "OutOfMemoryError: Container killed due to memory usage"},
			{Name: "app", ExitCode: code(1), Reason: "DockerTimeoutError: Could not transition to started; timed out after waiting 3m0s"},
		}, OOMKilled, "sidecar", 137},
		{"a clean sidecar does not outrank an essential container that never ran", []event.Container{
			{Name: "app", Reason: "CannotPullContainerError: pull image manifest has been retried 5 time(s): manifest unknown"},
			{Name: "log_router", ExitCode: code(0), Reason: "OutOfMemoryError: Container killed due to memory usage"},
		}, ImagePull, "app", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Task(&event.TaskDetail{StopCode: "EssentialContainerExited", StoppedReason: "Essential container in task exited", Containers: tc.containers})
			if d.Cause != tc.cause || d.Container != tc.container {
				t.Fatalf("%s on %q, want %s on %q", d.Cause, d.Container, tc.cause, tc.container)
			}
			if (d.ExitCode == nil) != (tc.exit < 0) || d.ExitCode != nil && *d.ExitCode != tc.exit {
				t.Errorf("exit code %v, want %d", d.ExitCode, tc.exit)
			}
		})
	}
}

// An operator rule's confidence is confirmed unless the rule says suspected.
func TestOperatorRuleConfidence(t *testing.T) {
	rules, err := ParseRules(RulesFile, []byte(`
rules:
  - id: vault
    match: 'vault agent'
    cause: resource-init
    sub: secrets
  - id: flaky
    match: 'flaky sidecar'
    cause: essential-exit
    confidence: suspected
`))
	if err != nil {
		t.Fatal(err)
	}
	c := New(rules)
	for reason, want := range map[string]Confidence{"vault agent: permission denied": Confirmed, "flaky sidecar died": Suspected} {
		if d := c.Task(&event.TaskDetail{StoppedReason: reason}); d.Confidence != want || !strings.HasPrefix(d.Rule, "operator:") {
			t.Errorf("%q: %s by %s, want %s", reason, d.Confidence, d.Rule, want)
		}
	}
}
