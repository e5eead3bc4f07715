// Package notifytest holds what the receivers' tests share: one fixed incident per cause, and
// golden-file comparison with an -update flag.
package notifytest

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ecs-medic/ecs-medic/internal/classify"
	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/servicestate"
	"github.com/ecs-medic/ecs-medic/internal/severity"
)

var update = flag.Bool("update", false, "rewrite golden files")

// Golden compares got with testdata/golden/<name>, or rewrites it with -update.
func Golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run the test with -update to create it)", err)
	}
	if string(want) != string(got) {
		t.Errorf("%s differs from the golden file (run with -update if the change is intended)\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

var t0 = time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)

// Incident returns a realistic incident of the given cause, the same every time.
func Incident(cause classify.Cause) *incident.Incident {
	exit := func(c int) *int { return &c }
	inc := &incident.Incident{
		ID:          "inc-d23r12s3kqjbj",
		Scope:       incident.Scope{Account: "111122223333", Region: "us-east-1", Cluster: "prod", Service: "checkout"},
		Cause:       cause,
		Confidence:  classify.Confirmed,
		Severity:    severity.P1,
		State:       incident.Open,
		OpenedAt:    t0,
		UpdatedAt:   t0.Add(4 * time.Minute),
		SLADeadline: t0.Add(15 * time.Minute),
		Occurrences: incident.Occurrences{Count: 7, FirstSeen: t0, LastSeen: t0.Add(4 * time.Minute),
			Tasks: []string{"0f1e2d3c4b5a69788796a5b4c3d2e1f0"}},
		Facts: incident.Facts{TaskArn: "arn:aws:ecs:us-east-1:111122223333:task/prod/0f1e2d3c4b5a69788796a5b4c3d2e1f0",
			TaskDefinition: "arn:aws:ecs:us-east-1:111122223333:task-definition/checkout:12", CPU: "256", Memory: "512",
			LogGroup: "/ecs/checkout", LogStream: "ecs/api/0f1e2d3c4b5a69788796a5b4c3d2e1f0"},
		ServiceState: &servicestate.Snapshot{Cluster: "prod", Service: "checkout", Status: "ACTIVE", Desired: 4, Running: 0, Pending: 2,
			TaskDefinition: "arn:aws:ecs:us-east-1:111122223333:task-definition/checkout:12",
			Deployments: []servicestate.Deployment{{ID: "ecs-svc/4893270921123456789", Status: "PRIMARY", RolloutState: "COMPLETED",
				TaskDefinition: "arn:aws:ecs:us-east-1:111122223333:task-definition/checkout:12", Desired: 4}}},
		LogLines: []string{
			"2026-11-27T02:59:58Z INFO loading price cache (1.9M entries)",
			"2026-11-27T02:59:59Z WARN heap at 498 MiB of 512 MiB",
		},
	}
	d := &classify.Diagnosis{Cause: cause, Confidence: classify.Confirmed, Container: "api", ExitCode: exit(137)}
	switch cause {
	case classify.OOMKilled:
		inc.Occurrences.Evidence = []string{"OutOfMemoryError: Container killed due to memory usage"}
	case classify.EssentialExit:
		d.ExitCode = exit(1)
		inc.Occurrences.Evidence = []string{"Essential container in task exited"}
	case classify.ResourceInit:
		inc.Sub = "secrets"
		d.Container, d.ExitCode = "", nil
		inc.Occurrences.Evidence = []string{"ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secret from asm: service call has been retried 1 time(s): AccessDeniedException"}
	case classify.ImagePull:
		inc.Sub = "not-found"
		d.ExitCode = nil
		inc.Occurrences.Evidence = []string{"CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref 111122223333.dkr.ecr.us-east-1.amazonaws.com/checkout:v13: not found"}
	case classify.HealthCheck:
		inc.Sub, inc.Severity = "elb", severity.P2
		inc.ServiceState.Running = 1
		d.ExitCode = exit(143)
		inc.Occurrences.Evidence = []string{"Task failed ELB health checks in (target-group arn:aws:elasticloadbalancing:us-east-1:111122223333:targetgroup/checkout/5ec2d1d6d9b8b1c1)"}
	case classify.StartFailure:
		d.ExitCode = nil
		inc.Occurrences.Evidence = []string{"CannotStartContainerError: Error response from daemon: OCI runtime create failed: exec format error"}
	case classify.SpotInterruption:
		inc.Severity = severity.P3
		inc.ServiceState.Running = 3
		inc.Occurrences.Evidence = []string{"SpotInterruption"}
	case classify.HostLost:
		inc.Severity = severity.P3
		inc.ServiceState.Running = 3
		inc.Occurrences.Evidence = []string{"Host EC2 (instance i-04b17daec78ef4a0b) terminated."}
	case classify.Unknown:
		inc.Confidence, inc.Severity = classify.Suspected, severity.P3
		inc.ServiceState.Running = 3
		inc.Occurrences.Evidence = []string{"Task stopped due to a reason ecs-medic has not seen"}
	case classify.Alarm:
		inc.Scope = incident.Scope{Account: "111122223333", Region: "us-east-1", Alarm: "checkout-5xx"}
		inc.Severity, inc.ServiceState, inc.Facts, inc.LogLines, d = severity.P3, nil, incident.Facts{Reason: "Threshold Crossed: 1 datapoint [52.0] was greater than the threshold (50.0)."}, nil, nil
	}
	inc.Diagnosis = d
	inc.Title = inc.Scope.Service + ": " + cause.Title()
	inc.Runbook = string(cause)
	if cause == classify.Alarm {
		inc.Runbook = "cpu-high"
	}
	return inc
}

// Causes are the causes that get a golden file.
var Causes = []classify.Cause{classify.OOMKilled, classify.EssentialExit, classify.ResourceInit, classify.ImagePull,
	classify.HealthCheck, classify.StartFailure, classify.SpotInterruption, classify.HostLost, classify.Unknown, classify.Alarm}
