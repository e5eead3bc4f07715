package classify

import (
	"strconv"
	"strings"

	"github.com/ecs-medic/ecs-medic/internal/event"
)

// Evidence is one verbatim field of the event that supports a diagnosis.
type Evidence struct {
	// Field names where the value came from: "stoppedReason", "stopCode",
	// "containers[api].reason", "containers[api].exitCode".
	Field string `json:"field"`
	Value string `json:"value"`
}

// Diagnosis is the classification of one stopped task.
type Diagnosis struct {
	Cause      Cause      `json:"cause"`
	Sub        string     `json:"sub,omitempty"`
	Confidence Confidence `json:"confidence"`
	// Container is the container the diagnosis concerns, "" when the task as a whole failed.
	Container string `json:"container,omitempty"`
	ExitCode  *int   `json:"exit_code,omitempty"`
	// Evidence lists the verbatim text that decided, the decisive item first.
	Evidence []Evidence `json:"evidence"`
	// Rule is the id of the rule that decided, for tests and for "why" answers.
	Rule string `json:"rule"`
}

// Primary is the decisive evidence text, or "".
func (d Diagnosis) Primary() string {
	if len(d.Evidence) == 0 {
		return ""
	}
	return d.Evidence[0].Value
}

// text is one verbatim reason and where it came from.
type text struct {
	field     string
	container int // index into containers, -1 for the task's stoppedReason
	raw       string
	norm      string
}

// Task classifies a stopped task. It looks at the containers' reasons first, since a container
// reason beats the task's generic stoppedReason (SPEC §1), then the stoppedReason, then the stop
// code, then exit codes.
func Task(t *event.TaskDetail) Diagnosis {
	texts := make([]text, 0, len(t.Containers)+1)
	for i, c := range t.Containers {
		if c.Reason != "" {
			texts = append(texts, text{field: "containers[" + c.Name + "].reason", container: i, raw: c.Reason, norm: normalize(c.Reason)})
		}
	}
	if t.StoppedReason != "" {
		texts = append(texts, text{field: "stoppedReason", container: -1, raw: t.StoppedReason, norm: normalize(t.StoppedReason)})
	}

	// A Spot reclaim is named by the stop code; its text ("Host EC2 (instance i-…) terminated.")
	// would otherwise read as a lost host.
	if t.StopCode == "SpotInterruption" || t.StopCode == "TerminationNotice" {
		d := Diagnosis{Cause: SpotInterruption, Confidence: Confirmed, Rule: "stop-code:" + t.StopCode,
			Evidence: []Evidence{{Field: "stopCode", Value: t.StopCode}}}
		return withContext(t, d, decidingContainer(t.Containers), "stopCode")
	}

	for ri := range rules {
		r := &rules[ri]
		for _, tx := range texts {
			if !containsAny(tx.norm, r.any) {
				continue
			}
			d := Diagnosis{Cause: r.cause, Confidence: r.confidence, Rule: r.id, Sub: pickSub(r.subs, tx.norm)}
			d.Evidence = append(d.Evidence, Evidence{Field: tx.field, Value: tx.raw})
			ci := tx.container
			if ci < 0 {
				ci = decidingContainer(t.Containers)
			}
			if r.cause == EssentialExit {
				return essentialExit(t, d, ci)
			}
			return withContext(t, d, ci, tx.field)
		}
	}

	if sc, ok := stopCodeRules[t.StopCode]; ok && (t.StopCode != "ServiceSchedulerInitiated" || t.StoppedReason == "") {
		d := Diagnosis{Cause: sc.cause, Confidence: sc.confidence, Rule: "stop-code:" + t.StopCode,
			Evidence: []Evidence{{Field: "stopCode", Value: t.StopCode}}}
		ci := decidingContainer(t.Containers)
		if sc.cause == EssentialExit {
			return essentialExit(t, d, ci)
		}
		return withContext(t, d, ci, "stopCode")
	}

	// No text and no known stop code: only exit codes are left.
	if ci := decidingContainer(t.Containers); ci >= 0 && t.Containers[ci].ExitCode != nil && *t.Containers[ci].ExitCode != 0 {
		d := Diagnosis{Cause: EssentialExit, Confidence: Suspected, Rule: "exit-code"}
		return essentialExit(t, d, ci)
	}

	d := Diagnosis{Cause: Unknown, Confidence: Suspected, Rule: "none"}
	return withContext(t, d, decidingContainer(t.Containers), "")
}

// essentialExit refines an essential-container exit: exit 137 (SIGKILL) without a memory reason
// is a suspected OOM kill (SPEC §1), anything else is the application's own exit.
func essentialExit(t *event.TaskDetail, d Diagnosis, ci int) Diagnosis {
	if ci >= 0 {
		if code := t.Containers[ci].ExitCode; code != nil && *code == 137 {
			d.Cause, d.Confidence, d.Rule = OOMKilled, Suspected, d.Rule+"+exit-137"
		}
	}
	used := ""
	if len(d.Evidence) > 0 {
		used = d.Evidence[0].Field
	}
	return withContext(t, d, ci, used)
}

// withContext names the deciding container and adds the remaining verbatim fields as evidence.
func withContext(t *event.TaskDetail, d Diagnosis, ci int, used string) Diagnosis {
	if ci >= 0 {
		c := t.Containers[ci]
		d.Container = c.Name
		d.ExitCode = c.ExitCode
		if c.ExitCode != nil {
			d.Evidence = append(d.Evidence, Evidence{Field: "containers[" + c.Name + "].exitCode", Value: strconv.Itoa(*c.ExitCode)})
		}
		if f := "containers[" + c.Name + "].reason"; c.Reason != "" && f != used {
			d.Evidence = append(d.Evidence, Evidence{Field: f, Value: c.Reason})
		}
	}
	if t.StoppedReason != "" && used != "stoppedReason" {
		d.Evidence = append(d.Evidence, Evidence{Field: "stoppedReason", Value: t.StoppedReason})
	}
	if t.StopCode != "" && used != "stopCode" {
		d.Evidence = append(d.Evidence, Evidence{Field: "stopCode", Value: t.StopCode})
	}
	return d
}

// decidingContainer picks the container a task-level reason most likely concerns: one with a
// reason, else one that exited non-zero, else the only container. -1 when none stands out.
func decidingContainer(cs []event.Container) int {
	for i, c := range cs {
		if c.Reason != "" {
			return i
		}
	}
	for i, c := range cs {
		if c.ExitCode != nil && *c.ExitCode != 0 {
			return i
		}
	}
	if len(cs) == 1 {
		return 0
	}
	return -1
}

func pickSub(subs []subRule, norm string) string {
	for _, s := range subs {
		if containsAny(norm, s.any) {
			return s.sub
		}
	}
	return ""
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// normalize lower-cases and folds the typographic apostrophe AWS's newer messages use
// ("The task can’t pull the image").
func normalize(s string) string {
	return strings.ReplaceAll(strings.ToLower(s), "\u2019", "'")
}
