package classify

import (
	"strings"
	"testing"

	"github.com/ecs-medic/ecs-medic/internal/event"
)

// These tests use only Task, Explain and the Diagnosis they return, so they hold through a rewrite
// of the classifier's insides.

func code(n int) *int { return &n }

// AWS's newer messages write "can’t" with a typographic apostrophe: it reads as "can't".
func TestTypographicApostropheFolds(t *testing.T) {
	texts := []string{
		"The task can't pull the image. Check that the image exists.",
		"The task can't pull the image. Check your network configuration.",
		"CannotPullContainerError: The task can't find the image manifest",
		"The container can't start: exec format error",
	}
	// And every corpus text that has an apostrophe.
	for _, c := range loadCases(t) {
		for _, s := range []string{c.StoppedReason} {
			if strings.Contains(s, "'") {
				texts = append(texts, s)
			}
		}
		for _, ct := range c.Containers {
			if strings.Contains(ct.Reason, "'") {
				texts = append(texts, ct.Reason)
			}
		}
	}
	decided := 0
	for _, text := range texts {
		straight := Task(&event.TaskDetail{LastStatus: "STOPPED", StoppedReason: text})
		curly := Task(&event.TaskDetail{LastStatus: "STOPPED", StoppedReason: strings.ReplaceAll(text, "'", "\u2019")})
		if curly.Cause != straight.Cause || curly.Sub != straight.Sub || curly.Rule != straight.Rule {
			t.Errorf("%q: %s/%s by %s, with ’: %s/%s by %s", text, straight.Cause, straight.Sub, straight.Rule, curly.Cause, curly.Sub, curly.Rule)
		}
		if straight.Cause != Unknown {
			decided++
		}
	}
	if decided < 3 {
		t.Fatalf("only %d texts with an apostrophe decide anything: the test proves nothing", decided)
	}
	// The plain-English pull failure is image-pull, whichever apostrophe.
	for _, s := range []string{"The task can't pull the image.", "The task can\u2019t pull the image."} {
		if d := Task(&event.TaskDetail{StoppedReason: s}); d.Cause != ImagePull {
			t.Errorf("%q: %s", s, d.Cause)
		}
	}
}

// When the text says only that an essential container exited, its exit code refines it.
func TestExitCodes(t *testing.T) {
	const exited = "Essential container in task exited"
	for _, tc := range []struct {
		name     string
		stopCode string
		exit     *int
		cause    Cause
		conf     Confidence
		rule     string
	}{
		{"137 is a suspected OOM kill", "EssentialContainerExited", code(137), OOMKilled, Suspected, "essential-exit+exit-137"},
		{"137 after a scheduler stop is its SIGKILL", "ServiceSchedulerInitiated", code(137), Expected, Suspected, "essential-exit+exit-137"},
		{"143 after a scheduler stop is the stop", "ServiceSchedulerInitiated", code(143), Expected, Suspected, "essential-exit+exit-143"},
		{"a user stop's reason is their own words", "UserInitiated", code(143), Expected, Confirmed, "stop-code:UserInitiated"},
		{"143 alone is the application's exit", "EssentialContainerExited", code(143), EssentialExit, Confirmed, "essential-exit"},
		{"126 cannot execute", "EssentialContainerExited", code(126), StartFailure, Suspected, "essential-exit+exit-126"},
		{"127 command not found", "EssentialContainerExited", code(127), StartFailure, Suspected, "essential-exit+exit-127"},
		{"128 is the application's", "EssentialContainerExited", code(128), EssentialExit, Confirmed, "essential-exit"},
		{"125 is the application's", "EssentialContainerExited", code(125), EssentialExit, Confirmed, "essential-exit"},
		{"136 is the application's", "EssentialContainerExited", code(136), EssentialExit, Confirmed, "essential-exit"},
		{"138 is the application's", "EssentialContainerExited", code(138), EssentialExit, Confirmed, "essential-exit"},
		{"139 a segfault", "EssentialContainerExited", code(139), EssentialExit, Confirmed, "essential-exit+exit-139"},
		{"1", "EssentialContainerExited", code(1), EssentialExit, Confirmed, "essential-exit"},
		{"no exit code", "EssentialContainerExited", nil, EssentialExit, Confirmed, "essential-exit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Task(&event.TaskDetail{StopCode: tc.stopCode, StoppedReason: exited, Containers: []event.Container{{Name: "app", ExitCode: tc.exit}}})
			if d.Cause != tc.cause || d.Confidence != tc.conf || d.Rule != tc.rule || d.Container != "app" {
				t.Fatalf("%s/%s by %s on %q; want %s/%s by %s", d.Cause, d.Confidence, d.Rule, d.Container, tc.cause, tc.conf, tc.rule)
			}
			if tc.stopCode != "UserInitiated" && (d.Primary() != exited || d.Evidence[0].Field != "stoppedReason") {
				t.Fatalf("evidence %+v", d.Evidence)
			}
		})
	}
	// No text at all: the stop code, then the exit code alone.
	for _, tc := range []struct {
		name     string
		stopCode string
		exit     *int
		cause    Cause
		conf     Confidence
		rule     string
	}{
		{"stop code EssentialContainerExited with 137", "EssentialContainerExited", code(137), OOMKilled, Suspected, "stop-code:EssentialContainerExited+exit-137"},
		{"stop code TaskFailedToStart", "TaskFailedToStart", nil, StartFailure, Suspected, "stop-code:TaskFailedToStart"},
		{"stop code SpotInterruption", "SpotInterruption", code(143), SpotInterruption, Confirmed, "stop-code:SpotInterruption"},
		{"stop code TerminationNotice", "TerminationNotice", nil, SpotInterruption, Suspected, "stop-code:TerminationNotice"},
		{"stop code UserInitiated", "UserInitiated", code(0), Expected, Confirmed, "stop-code:UserInitiated"},
		{"scheduler stop without a reason", "ServiceSchedulerInitiated", nil, Expected, Suspected, "stop-code:ServiceSchedulerInitiated"},
		{"exit 2 alone", "", code(2), EssentialExit, Suspected, "exit-code"},
		{"exit 137 alone", "", code(137), OOMKilled, Suspected, "exit-code+exit-137"},
		{"exit 0 alone", "", code(0), Unknown, Suspected, "none"},
		{"nothing", "", nil, Unknown, Suspected, "none"},
		{"an unknown stop code", "SomethingNew", code(0), Unknown, Suspected, "none"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Task(&event.TaskDetail{StopCode: tc.stopCode, Containers: []event.Container{{Name: "app", ExitCode: tc.exit}}})
			if d.Cause != tc.cause || d.Confidence != tc.conf || d.Rule != tc.rule {
				t.Fatalf("%s/%s by %s; want %s/%s by %s", d.Cause, d.Confidence, d.Rule, tc.cause, tc.conf, tc.rule)
			}
		})
	}
}

// Among several containers, the essential one that failed decides; a sidecar that exited 0, or one
// ECS killed after the essential one died (137, 143), does not.
func TestDecidingContainer(t *testing.T) {
	const exited = "Essential container in task exited"
	for _, tc := range []struct {
		name       string
		containers []event.Container
		container  string
		cause      Cause
	}{
		{"its own exit beats SIGTERM and SIGKILL", []event.Container{{Name: "proxy", ExitCode: code(143)}, {Name: "agent", ExitCode: code(137)}, {Name: "app", ExitCode: code(2)}}, "app", EssentialExit},
		{"SIGKILL beats SIGTERM", []event.Container{{Name: "proxy", ExitCode: code(143)}, {Name: "app", ExitCode: code(137)}}, "app", OOMKilled},
		{"one that never ran, saying nothing, does not decide", []event.Container{{Name: "init", ExitCode: nil}, {Name: "app", ExitCode: code(137)}}, "app", OOMKilled},
		{"a failure beats a clean exit", []event.Container{{Name: "sidecar", ExitCode: code(0)}, {Name: "app", ExitCode: code(1)}}, "app", EssentialExit},
		{"SIGTERM beats a clean exit", []event.Container{{Name: "sidecar", ExitCode: code(0)}, {Name: "app", ExitCode: code(143)}}, "app", EssentialExit},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Task(&event.TaskDetail{StopCode: "EssentialContainerExited", StoppedReason: exited, Containers: tc.containers})
			if d.Container != tc.container || d.Cause != tc.cause {
				t.Fatalf("%s on %q, want %s on %q", d.Cause, d.Container, tc.cause, tc.container)
			}
		})
	}
	// A sidecar that exited 0 with an odd reason does not decide over the failed essential one.
	d := Task(&event.TaskDetail{StopCode: "EssentialContainerExited", StoppedReason: exited, Containers: []event.Container{
		{Name: "envoy", ExitCode: code(0), Reason: "CannotPullContainerError: pull access denied"},
		{Name: "app", ExitCode: code(1)},
	}})
	if d.Cause != EssentialExit || d.Container != "app" {
		t.Fatalf("a clean sidecar's reason decided: %s on %q", d.Cause, d.Container)
	}
	// With no container failing, the clean one's reason is all there is.
	d = Task(&event.TaskDetail{StoppedReason: exited, Containers: []event.Container{
		{Name: "envoy", ExitCode: code(0), Reason: "CannotPullContainerError: pull access denied"},
	}})
	if d.Cause != ImagePull || d.Container != "envoy" {
		t.Fatalf("the only reason was not read: %s on %q", d.Cause, d.Container)
	}
	// A container reason beats the task's generic reason, and the evidence names both.
	d = Task(&event.TaskDetail{StopCode: "EssentialContainerExited", StoppedReason: exited, Containers: []event.Container{
		{Name: "app", ExitCode: code(137), Reason: "OutOfMemoryError: Container killed due to memory usage"},
	}})
	if d.Cause != OOMKilled || d.Confidence != Confirmed || d.Container != "app" || d.ExitCode == nil || *d.ExitCode != 137 {
		t.Fatalf("%+v", d)
	}
	fields := map[string]string{}
	for _, e := range d.Evidence {
		fields[e.Field] = e.Value
	}
	if d.Evidence[0].Field != "containers[app].reason" || fields["containers[app].exitCode"] != "137" || fields["stoppedReason"] != exited || fields["stopCode"] != "EssentialContainerExited" {
		t.Fatalf("evidence %+v", d.Evidence)
	}
	// Many containers with reasons (more than the classifier keeps on its stack) are all read.
	var many []event.Container
	for i := range 6 {
		many = append(many, event.Container{Name: "c" + string(rune('0'+i)), ExitCode: code(0), Reason: "Task stopped"})
	}
	many[5] = event.Container{Name: "app", ExitCode: code(1), Reason: "CannotStartContainerError: exec: \"/app\": no such file"}
	if d := Task(&event.TaskDetail{StoppedReason: exited, Containers: many}); d.Cause != StartFailure || d.Container != "app" {
		t.Fatalf("six containers: %s on %q", d.Cause, d.Container)
	}
}

// The reason of a user's StopTask call is their own words: only the expected rule reads it.
func TestUserStopReasonNotClassified(t *testing.T) {
	d := Task(&event.TaskDetail{StopCode: "UserInitiated", StoppedReason: "OutOfMemoryError seen in staging, restarting"})
	if d.Cause != Expected {
		t.Fatalf("a user's words decided: %s", d.Cause)
	}
}

// Spot: the stop code names the reclaim more precisely than a host text.
func TestSpotStopCodeOverHostText(t *testing.T) {
	d := Task(&event.TaskDetail{StopCode: "SpotInterruption", StoppedReason: "Host EC2 (instance i-0123456789abcdef0) terminated."})
	if d.Cause != SpotInterruption || d.Rule != "stop-code:SpotInterruption" || d.Evidence[0].Field != "stopCode" {
		t.Fatalf("%+v", d)
	}
	// and more precisely than a text that only says a container exited
	d = Task(&event.TaskDetail{StopCode: "SpotInterruption", StoppedReason: "Essential container in task exited",
		Containers: []event.Container{{Name: "app", ExitCode: code(143)}}})
	if d.Cause != SpotInterruption || d.Rule != "stop-code:SpotInterruption" || d.Container != "app" {
		t.Fatalf("%+v", d)
	}
	d = Task(&event.TaskDetail{StopCode: "TerminationNotice", StoppedReason: "Host EC2 (instance i-0123456789abcdef0) terminated."})
	if d.Cause != HostLost {
		t.Fatalf("TerminationNotice with a host text: %s", d.Cause)
	}
}

// Every cause has words for people, and the SOP-002 causes name their checklist line.
func TestCauseTexts(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range []Cause{OOMKilled, EssentialExit, ResourceInit, ImagePull, HealthCheck, StartFailure, SpotInterruption, HostLost,
		Expected, Unknown, StartImpaired, PlacementFailure, DeploymentFailed, Alarm, Degraded} {
		title := c.Title()
		if title == "" || seen[title] {
			t.Errorf("%s: title %q empty or shared", c, title)
		}
		seen[title] = true
	}
	for c, want := range map[Cause]string{OOMKilled: "OOMKilled", EssentialExit: "Essential container exited", ResourceInit: "ResourceInitializationError",
		ImagePull: "CannotPullContainerError", HealthCheck: "", Unknown: ""} {
		if got := c.SOPItem(); got != want {
			t.Errorf("%s: SOP item %q, want %q", c, got, want)
		}
	}
	if (Diagnosis{}).Primary() != "" {
		t.Error("Primary of no evidence")
	}
}
