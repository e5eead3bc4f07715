package smoke

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestEventRoundTrip(t *testing.T) {
	in := Test{ID: "smoke-20261128-101500-a1b2c3", By: "ana@laptop", At: time.Date(2026, 11, 28, 10, 15, 0, 0, time.UTC)}
	raw, err := Event(in)
	if err != nil {
		t.Fatal(err)
	}
	got, ok, err := Parse(raw)
	if !ok || err != nil || got != in {
		t.Fatalf("%+v %v %v", got, ok, err)
	}
	if !strings.Contains(got.Summary(), "TEST") || !strings.Contains(got.Summary(), in.ID) {
		t.Fatalf("summary %q", got.Summary())
	}
}

func TestParse(t *testing.T) {
	real, err := os.ReadFile("../../testdata/events/ecs-task-state-change-stopped-essential-container-exited.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		raw     string
		ok, bad bool
	}{
		{"a real ECS event", string(real), false, false},
		{"the source named in a field", `{"source":"aws.ecs","detail":{"note":"ecs-medic.smoke"}}`, false, false},
		{"a mention smuggled in the id", `{"id":"smoke-<!channel>","detail-type":"ecs-medic Smoke Test","source":"ecs-medic.smoke","detail":{}}`, true, true},
		{"a link in the runner", `{"id":"smoke-x","detail-type":"ecs-medic Smoke Test","source":"ecs-medic.smoke","detail":{"by":"<http://evil|me>"}}`, true, true},
		{"the wrong detail-type", `{"id":"smoke-x","detail-type":"ECS Task State Change","source":"ecs-medic.smoke","detail":{}}`, true, true},
		{"broken JSON", `{"source":"ecs-medic.smoke",`, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, ok, err := Parse([]byte(tc.raw))
			if ok != tc.ok || (err != nil) != tc.bad {
				t.Fatalf("ok %v err %v", ok, err)
			}
		})
	}
	if _, err := Event(Test{ID: "not-a-smoke-id"}); err == nil {
		t.Fatal("Event accepted a bad id")
	}
}
