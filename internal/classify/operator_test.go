package classify

import (
	"strings"
	"testing"

	"github.com/ecs-medic/ecs-medic/internal/event"
)

func TestParseRules(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string // substrings of the error, each naming the file; none: valid
		rules      int
	}{
		{name: "valid", rules: 2, yaml: `
rules:
  - id: vault
    match: 'vault agent .* permission denied'
    cause: resource-init
    sub: secrets
    field: container
    stop_code: TaskFailedToStart
  - id: benign
    match: '^Stopped by the nightly job'
    cause: expected
    confidence: suspected
`},
		{name: "empty file", yaml: "", rules: 0},
		{name: "bad regex", yaml: "rules:\n  - {id: r1, match: 'a(b', cause: oom-killed}\n",
			want: []string{`classify.yaml: rule "r1": match "a(b" is not a valid regular expression`}},
		{name: "unknown cause", yaml: "rules:\n  - {id: r1, match: x, cause: oom}\n",
			want: []string{`classify.yaml: rule "r1": cause "oom" is not one of oom-killed`}},
		{name: "unknown is not a rule's cause", yaml: "rules:\n  - {id: r1, match: x, cause: unknown}\n",
			want: []string{`rule "r1": cause "unknown"`}},
		{name: "unknown sub", yaml: "rules:\n  - {id: r1, match: x, cause: image-pull, sub: denied}\n",
			want: []string{`classify.yaml: rule "r1": sub "denied" is not a sub-cause of image-pull (not-found, auth, rate-limit, network)`}},
		{name: "sub on a cause without", yaml: "rules:\n  - {id: r1, match: x, cause: oom-killed, sub: heap}\n",
			want: []string{`rule "r1": cause oom-killed has no sub-causes`}},
		{name: "missing id and match", yaml: "rules:\n  - {cause: oom-killed}\n",
			want: []string{"classify.yaml: rule 1: id is required", "classify.yaml: rule 1: match (a regular expression) is required"}},
		{name: "duplicate id", yaml: "rules:\n  - {id: a, match: x, cause: oom-killed}\n  - {id: a, match: y, cause: oom-killed}\n",
			want: []string{`rule "a": id is used by another rule`}},
		{name: "bad field, stop code, confidence", yaml: "rules:\n  - {id: a, match: x, cause: oom-killed, field: exitCode, stop_code: Oops, confidence: sure}\n",
			want: []string{`field "exitCode"`, `stop_code "Oops"`, `confidence "sure"`}},
		{name: "unknown key", yaml: "rules:\n  - {id: a, match: x, cause: oom-killed, subcause: y}\n",
			want: []string{"classify.yaml:", "subcause"}},
		{name: "not YAML", yaml: "rules: [",
			want: []string{"classify.yaml:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rules, err := ParseRules(RulesFile, []byte(tc.yaml))
			if len(tc.want) == 0 {
				if err != nil || len(rules) != tc.rules {
					t.Fatalf("got %d rules, %v; want %d", len(rules), err, tc.rules)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, RulesFile+":") {
					t.Errorf("line %q does not name the file", line)
				}
			}
		})
	}
}

func TestOperatorRulesComeFirst(t *testing.T) {
	rules, err := ParseRules(RulesFile, []byte(`
rules:
  - id: acme-registry
    match: 'registry\.acme\.internal.*(i/o timeout|connection refused)'
    cause: start-failure
    field: container
  - id: nightly
    match: 'stopped by nightly-reaper'
    cause: expected
    stop_code: UserInitiated
`))
	if err != nil {
		t.Fatal(err)
	}
	c := New(rules)
	pull := "CannotPullContainerError: failed to resolve ref registry.acme.internal/app:1: dial tcp 10.0.0.1:443: i/o timeout"
	for _, tc := range []struct {
		name string
		task event.TaskDetail
		want Cause
		rule string
	}{
		{"operator rule on a container reason", event.TaskDetail{StoppedReason: "Essential container in task exited",
			Containers: []event.Container{{Name: "app", Reason: pull}}}, StartFailure, "operator:acme-registry"},
		{"field limits it: the same text as stoppedReason is the built-in's", event.TaskDetail{StoppedReason: pull},
			ImagePull, "image-pull"},
		{"stop code limits it", event.TaskDetail{StoppedReason: "Task stopped by nightly-reaper", StopCode: "UserInitiated"},
			Expected, "operator:nightly"},
		{"other stop code: built-in rules", event.TaskDetail{StoppedReason: "Task stopped by nightly-reaper", StopCode: "TaskFailedToStart"},
			StartFailure, "stop-code:TaskFailedToStart"},
		{"built-in rules still apply", event.TaskDetail{StoppedReason: "Essential container in task exited",
			Containers: []event.Container{{Name: "app", Reason: "OutOfMemoryError: Container killed due to memory usage"}}}, OOMKilled, "oom"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := c.Task(&tc.task)
			if d.Cause != tc.want || d.Rule != tc.rule {
				t.Fatalf("got %s by %s, want %s by %s", d.Cause, d.Rule, tc.want, tc.rule)
			}
			if len(d.Evidence) == 0 || d.Evidence[0].Value == "" {
				t.Errorf("no evidence: %+v", d)
			}
		})
	}
	if got := Task(&event.TaskDetail{StoppedReason: pull}); got.Cause != ImagePull {
		t.Errorf("package Task (built-in rules only) gave %s", got.Cause)
	}
}

func TestExplain(t *testing.T) {
	exit := func(n int) *int { return &n }
	task := &event.TaskDetail{
		StoppedReason: "Essential container in task exited",
		StopCode:      "EssentialContainerExited",
		Containers: []event.Container{
			{Name: "envoy", ExitCode: exit(0), Reason: "CannotInspectContainerError: sidecar oddity"},
			{Name: "api", ExitCode: exit(137)},
		},
	}
	ex := (*Classifier)(nil).Explain(task)
	if ex.Diagnosis.Cause != OOMKilled || ex.Diagnosis.Confidence != Suspected || ex.Diagnosis.Container != "api" {
		t.Fatalf("diagnosis %+v", ex.Diagnosis)
	}
	if ex.Decided.Rule != "essential-exit+exit-137" || ex.Decided.Field != "stoppedReason" {
		t.Errorf("decided %+v", ex.Decided)
	}
	var also []string
	for _, f := range ex.Also {
		also = append(also, f.Rule+"@"+f.Field)
	}
	// The sidecar that exited 0 matched a rule but could not decide; the stop code is listed too.
	want := []string{"start-failure@containers[envoy].reason", "stop-code:EssentialContainerExited@stopCode"}
	if strings.Join(also, " ") != strings.Join(want, " ") {
		t.Errorf("also %v, want %v", also, want)
	}
	// Explain and Task agree.
	if d := Task(task); d.Cause != ex.Diagnosis.Cause || d.Rule != ex.Diagnosis.Rule {
		t.Errorf("Task %s/%s, Explain %s/%s", d.Cause, d.Rule, ex.Diagnosis.Cause, ex.Diagnosis.Rule)
	}
}

func FuzzTask(f *testing.F) {
	for _, c := range loadCases(f) {
		code := -1
		if len(c.Containers) > 0 && c.Containers[0].ExitCode != nil {
			code = *c.Containers[0].ExitCode
		}
		reason := ""
		if len(c.Containers) > 0 {
			reason = c.Containers[0].Reason
		}
		f.Add(c.StoppedReason, c.StopCode, reason, code)
	}
	f.Fuzz(func(t *testing.T, stopped, stopCode, reason string, code int) {
		task := &event.TaskDetail{StoppedReason: stopped, StopCode: stopCode,
			Containers: []event.Container{{Name: "app", Reason: reason}, {Name: "sidecar", Reason: reason}}}
		if code >= 0 {
			task.Containers[0].ExitCode = &code
		}
		d := Task(task)
		ex := (*Classifier)(nil).Explain(task)
		if d.Cause != ex.Diagnosis.Cause || d.Sub != ex.Diagnosis.Sub || d.Rule != ex.Diagnosis.Rule {
			t.Fatalf("Task %+v, Explain %+v", d, ex.Diagnosis)
		}
		known := false
		for _, c := range Causes {
			known = known || c == d.Cause
		}
		if !known || d.Confidence == "" || d.Rule == "" {
			t.Fatalf("diagnosis %+v", d)
		}
		if d.Cause != Unknown && len(d.Evidence) == 0 {
			t.Fatalf("no evidence: %+v", d)
		}
		if d.Sub != "" && !contains(Subs(d.Cause), d.Sub) {
			t.Fatalf("sub %q is not one of %s's", d.Sub, d.Cause)
		}
	})
}

// A StopTask call's reason is the caller's words: under UserInitiated it is an expected stop
// whatever it says, unless the operator's rules say otherwise; a container's own reason still
// counts.
func TestUserStopReasonIsTheCallersWords(t *testing.T) {
	exit := func(n int) *int { return &n }
	for _, tc := range []struct {
		task event.TaskDetail
		want Cause
	}{
		{event.TaskDetail{StopCode: "UserInitiated", StoppedReason: "redeploying after the health check fix",
			Containers: []event.Container{{Name: "app", ExitCode: exit(137)}}}, Expected},
		{event.TaskDetail{StopCode: "UserInitiated", StoppedReason: "Task killed by the user"}, Expected},
		{event.TaskDetail{StopCode: "UserInitiated", StoppedReason: "cleanup",
			Containers: []event.Container{{Name: "app", Reason: "OutOfMemoryError: Container killed due to memory usage", ExitCode: exit(137)}}}, OOMKilled},
		{event.TaskDetail{StopCode: "ServiceSchedulerInitiated", StoppedReason: "Task failed container health checks"}, HealthCheck},
	} {
		if got := Task(&tc.task); got.Cause != tc.want {
			t.Errorf("%+v: %s (%s), want %s", tc.task, got.Cause, got.Rule, tc.want)
		}
	}
}
