package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// stoppedTask is a task state change whose app container could not pull its image, with a
// sidecar that exited 0 and the task's generic reason.
const stoppedTask = `{"version":"0","id":"e1","detail-type":"ECS Task State Change","source":"aws.ecs","account":"111122223333",` +
	`"time":"2026-11-27T03:00:00Z","region":"us-east-1","resources":[],"detail":{` +
	`"clusterArn":"arn:aws:ecs:us-east-1:111122223333:cluster/prod","taskArn":"arn:aws:ecs:us-east-1:111122223333:task/prod/abc",` +
	`"group":"service:api","lastStatus":"STOPPED","stopCode":"TaskFailedToStart","stoppedReason":"Essential container in task exited",` +
	`"containers":[{"name":"app","reason":"CannotPullContainerError: pull image manifest has been retried 1 time(s): failed to resolve ref 123.dkr.ecr.us-east-1.amazonaws.com/app:latest: 403 Forbidden"},` +
	`{"name":"envoy","exitCode":0}]}}`

func TestClassifyExplain(t *testing.T) {
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"classify", "--explain"}, strings.NewReader(stoppedTask), &out, &errb, noEnv)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{
		"event e1 (ECS Task State Change) prod/api task abc",
		"cause     image-pull / auth (confirmed), container app",
		"incident  true",
		`decided   by rule image-pull reading "cannotpullcontainererror … forbidden" in containers[app].reason:`,
		"also matched, lower in precedence:",
		"essential-exit", "stoppedReason",
		"stop-code:TaskFailedToStart", "start-failure",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("explanation lacks %q:\n%s", want, out.String())
		}
	}
}

// Operator rules in MEDIC_RUNBOOKS/classify.yaml decide before the built-in ones, in classify
// and in the explanation; a broken rule file is an error, not silence.
func TestClassifyOperatorRules(t *testing.T) {
	dir := t.TempDir()
	rules := "rules:\n  - id: acme-registry\n    match: 'app:latest: 403'\n    cause: start-failure\n"
	if err := os.WriteFile(filepath.Join(dir, "classify.yaml"), []byte(rules), 0o644); err != nil {
		t.Fatal(err)
	}
	env := func(k string) string {
		if k == "MEDIC_RUNBOOKS" {
			return dir
		}
		return ""
	}
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"classify"}, strings.NewReader(stoppedTask), &out, &errb, env); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var line classifyLine
	if err := json.Unmarshal(out.Bytes(), &line); err != nil || line.Cause != "start-failure" || !line.Incident {
		t.Fatalf("%v: %s", err, out.String())
	}
	out.Reset()
	run(context.Background(), []string{"classify", "--explain"}, strings.NewReader(stoppedTask), &out, &errb, env)
	if !strings.Contains(out.String(), "decided   by rule operator:acme-registry") || !strings.Contains(out.String(), "image-pull / auth") {
		t.Errorf("explanation:\n%s", out.String())
	}

	if err := os.WriteFile(filepath.Join(dir, "classify.yaml"), []byte("rules:\n  - {id: x, match: '(', cause: oom}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	errb.Reset()
	if code := run(context.Background(), []string{"classify"}, strings.NewReader(stoppedTask), &out, &errb, env); code != 1 ||
		!strings.Contains(errb.String(), `classify.yaml: rule "x"`) {
		t.Fatalf("broken rule file: exit %d, %s", code, errb.String())
	}
}

func TestRunbooksCheckClassifyRules(t *testing.T) {
	dir := t.TempDir()
	src, _ := filepath.Glob("../../runbooks/*.md")
	for _, f := range src {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		_ = os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o644)
	}
	good := "rules:\n  - {id: vault, match: 'vault agent', cause: resource-init, sub: secrets}\n"
	_ = os.WriteFile(filepath.Join(dir, "classify.yaml"), []byte(good), 0o644)
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"runbooks", "check", dir}, nil, &out, &errb, noEnv); code != 0 ||
		!strings.Contains(out.String(), "classify.yaml") || !strings.Contains(out.String(), "1 classification rules") {
		t.Fatalf("good rules: %d\n%s%s", code, out.String(), errb.String())
	}
	bad := "rules:\n  - {id: vault, match: 'vault (agent', cause: resource-init, sub: secret}\n  - {id: mem, match: x, cause: oom}\n"
	_ = os.WriteFile(filepath.Join(dir, "classify.yaml"), []byte(bad), 0o644)
	out.Reset()
	code := run(context.Background(), []string{"runbooks", "check", dir}, nil, &out, &errb, noEnv)
	for _, want := range []string{
		`✗ classify.yaml: rule "vault": match "vault (agent" is not a valid regular expression`,
		`✗ classify.yaml: rule "vault": sub "secret" is not a sub-cause of resource-init`,
		`✗ classify.yaml: rule "mem": cause "oom" is not one of`,
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
}
