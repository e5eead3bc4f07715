package classify

import (
	"os"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/ecs-medic/ecs-medic/internal/event"
)

type caseFile []struct {
	ID            string `yaml:"id"`
	Source        string `yaml:"source"`
	StoppedReason string `yaml:"stoppedReason"`
	StopCode      string `yaml:"stopCode"`
	Truncate      int    `yaml:"truncate"`
	Containers    []struct {
		Name     string `yaml:"name"`
		Reason   string `yaml:"reason"`
		ExitCode *int   `yaml:"exitCode"`
	} `yaml:"containers"`
	Want struct {
		Cause      Cause      `yaml:"cause"`
		Sub        *string    `yaml:"sub"`
		Confidence Confidence `yaml:"confidence"`
		Container  string     `yaml:"container"`
		Rule       string     `yaml:"rule"`
	} `yaml:"want"`
}

func loadCases(t testing.TB) caseFile {
	t.Helper()
	raw, err := os.ReadFile("../../testdata/classify/cases.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cases caseFile
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(true)
	if err := dec.Decode(&cases); err != nil {
		t.Fatalf("cases.yaml: %v", err)
	}
	return cases
}

func TestRealMessages(t *testing.T) {
	cases := loadCases(t)
	if len(cases) < 60 {
		t.Fatalf("only %d real messages; the corpus must keep at least 60", len(cases))
	}
	seen := map[string]bool{}
	for _, c := range cases {
		if seen[c.ID] {
			t.Errorf("duplicate case id %s", c.ID)
		}
		seen[c.ID] = true
		if c.Source == "" {
			t.Errorf("%s: no source", c.ID)
		}
		t.Run(c.ID, func(t *testing.T) {
			td := &event.TaskDetail{LastStatus: "STOPPED", StoppedReason: cut(c.StoppedReason, c.Truncate), StopCode: c.StopCode}
			for _, ct := range c.Containers {
				td.Containers = append(td.Containers, event.Container{Name: ct.Name, Reason: cut(ct.Reason, c.Truncate), ExitCode: ct.ExitCode})
			}
			got := Task(td)
			if got.Cause != c.Want.Cause {
				t.Fatalf("cause %s, want %s (rule %s, evidence %q)", got.Cause, c.Want.Cause, got.Rule, got.Primary())
			}
			if c.Want.Sub != nil && got.Sub != *c.Want.Sub {
				t.Errorf("sub %q, want %q", got.Sub, *c.Want.Sub)
			}
			if got.Confidence != c.Want.Confidence {
				t.Errorf("confidence %s, want %s", got.Confidence, c.Want.Confidence)
			}
			if c.Want.Container != "" && got.Container != c.Want.Container {
				t.Errorf("container %q, want %q", got.Container, c.Want.Container)
			}
			if c.Want.Rule != "" && got.Rule != c.Want.Rule {
				t.Errorf("rule %q, want %q", got.Rule, c.Want.Rule)
			}
			if got.Cause != Unknown && len(got.Evidence) == 0 {
				t.Errorf("no evidence")
			}
			for _, e := range got.Evidence {
				if e.Value == "" {
					t.Errorf("empty evidence for %s", e.Field)
				}
			}
		})
	}
}

// cut truncates like ECS: at n bytes.
func cut(s string, n int) string {
	if n > 0 && len(s) > n {
		return s[:n]
	}
	return s
}

func TestEveryRuleHasCases(t *testing.T) {
	cases := loadCases(t)
	byRule := map[string]int{}
	causes := map[Cause]int{}
	for _, c := range cases {
		td := &event.TaskDetail{StoppedReason: cut(c.StoppedReason, c.Truncate), StopCode: c.StopCode}
		for _, ct := range c.Containers {
			td.Containers = append(td.Containers, event.Container{Name: ct.Name, Reason: cut(ct.Reason, c.Truncate), ExitCode: ct.ExitCode})
		}
		d := Task(td)
		byRule[strings.SplitN(d.Rule, "+", 2)[0]]++
		causes[d.Cause]++
	}
	for _, r := range rules {
		if byRule[r.id] == 0 {
			t.Errorf("rule %s has no test case in cases.yaml", r.id)
		}
	}
	for _, c := range Causes {
		if causes[c] == 0 {
			t.Errorf("cause %s has no test case in cases.yaml", c)
		}
	}
}

func TestSampleEvents(t *testing.T) {
	for file, want := range map[string]Cause{
		"ecs-task-state-change-stopped-elb-health-check.json":           HealthCheck,
		"ecs-task-state-change-stopped-essential-container-exited.json": EssentialExit,
	} {
		raw, err := os.ReadFile("../../testdata/events/" + file)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := event.Decode(raw)
		if err != nil {
			t.Fatal(err)
		}
		if got := Task(ev.Task); got.Cause != want {
			t.Errorf("%s: %s, want %s", file, got.Cause, want)
		}
	}
}

func TestExpectedOpensNoIncident(t *testing.T) {
	if Expected.OpensIncident() {
		t.Fatal("expected stops must never open an incident")
	}
	for _, c := range Causes {
		if c != Expected && !c.OpensIncident() {
			t.Errorf("%s should open an incident", c)
		}
	}
}
