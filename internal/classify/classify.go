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
	// Rule is the id of the rule that decided, for tests and for "why" answers: a built-in rule
	// ("image-pull"), "operator:<id>" for a rule of the operator's classify.yaml,
	// "stop-code:<code>", "exit-code", or "none"; "+exit-137" and the like when an exit code refined
	// it.
	Rule string `json:"rule"`
}

// Primary is the decisive evidence text, or "".
func (d Diagnosis) Primary() string {
	if len(d.Evidence) == 0 {
		return ""
	}
	return d.Evidence[0].Value
}

// Classifier diagnoses stopped tasks with the operator's rules, if any, before the built-in ones.
// The zero value and nil use the built-in rules only. Safe for concurrent use.
type Classifier struct {
	operator []OperatorRule
}

// New returns a classifier that tries the operator's rules (ParseRules), in order, before the
// built-in ones.
func New(operator []OperatorRule) *Classifier { return &Classifier{operator: operator} }

// OperatorRules returns the operator's rules the classifier applies.
func (c *Classifier) OperatorRules() []OperatorRule {
	if c == nil {
		return nil
	}
	return c.operator
}

// Task classifies a stopped task with the built-in rules.
func Task(t *event.TaskDetail) Diagnosis { return (*Classifier)(nil).Task(t) }

// Task classifies a stopped task.
func (c *Classifier) Task(t *event.TaskDetail) Diagnosis {
	d, _ := c.classify(t, nil)
	return d
}

// Finding is one rule that read one text: the decisive one, or one that matched lower in
// precedence.
type Finding struct {
	Rule  string `json:"rule"`
	Cause Cause  `json:"cause"`
	Sub   string `json:"sub,omitempty"`
	// Field and Text are the verbatim text the rule read; Phrase the words in it that decided.
	Field  string `json:"field"`
	Text   string `json:"text"`
	Phrase string `json:"phrase,omitempty"`
}

// Explanation is a diagnosis with the reasoning behind it.
type Explanation struct {
	Diagnosis Diagnosis `json:"diagnosis"`
	// Decided is the finding that decided ("" Rule when nothing did).
	Decided Finding `json:"decided"`
	// Also lists every other finding, highest precedence first: what nearly decided.
	Also []Finding `json:"also,omitempty"`
}

// Explain classifies a stopped task and says which rule and which text decided, and what else
// matched lower in precedence.
func (c *Classifier) Explain(t *event.TaskDetail) Explanation {
	var all []Finding
	d, decided := c.classify(t, &all)
	ex := Explanation{Diagnosis: d, Decided: decided}
	for _, f := range all {
		// The decisive finding, perhaps refined by an exit code ("essential-exit+exit-137").
		if f.Field == decided.Field && f.Text == decided.Text && (f.Rule == decided.Rule || strings.HasPrefix(decided.Rule, f.Rule+"+")) {
			continue
		}
		ex.Also = append(ex.Also, f)
	}
	return ex
}

// Text tiers: a container that failed (non-zero exit, or never ran) and the task's own reason
// are read first; a container that exited 0 is read only when they say nothing specific, so a
// sidecar's odd reason does not outrank the essential container's failure.
const (
	tierFailed = iota
	tierClean
	tierUser
)

// classify is the whole decision. When all is not nil every finding is appended to it, in
// precedence order; the decisive finding is returned.
func (c *Classifier) classify(t *event.TaskDetail, all *[]Finding) (Diagnosis, Finding) {
	// Messages are parsed in place: each holds the phrases found in it, and stays on the stack
	// for the usual task of up to three reasons.
	n := 1
	for i := range t.Containers {
		if t.Containers[i].Reason != "" {
			n++
		}
	}
	var buf [4]msg
	msgs := buf[:0]
	if n > len(buf) {
		msgs = make([]msg, 0, n)
	}
	next := func(field string, container int, raw string) {
		msgs = msgs[:len(msgs)+1]
		msgs[len(msgs)-1].parse(field, container, raw)
	}
	var tiers [4]int8
	tier := tiers[:0]
	order := containerOrder(t.Containers)
	for _, i := range order {
		ct := &t.Containers[i]
		if ct.Reason == "" {
			continue
		}
		next("containers["+ct.Name+"].reason", i, ct.Reason)
		if ct.ExitCode != nil && *ct.ExitCode == 0 {
			tier = append(tier, tierClean)
		} else {
			tier = append(tier, tierFailed)
		}
	}
	if t.StoppedReason != "" {
		next("stoppedReason", -1, t.StoppedReason)
		tier = append(tier, tierFailed)
		if t.StopCode == "UserInitiated" {
			// The reason of a StopTask call is the caller's own words ("redeploy after the
			// health check fix"): only the operator's rules and the expected rule read it.
			tier[len(tier)-1] = tierUser
		}
	}

	// 1. The operator's rules, in file order.
	var decided Finding
	var d Diagnosis
	found := false
	for ri := range c.OperatorRules() {
		r := &c.operator[ri]
		if r.StopCode != "" && r.StopCode != t.StopCode {
			continue
		}
		for mi := range msgs {
			m := &msgs[mi]
			if !r.reads(m) {
				continue
			}
			loc := r.re.FindStringIndex(m.raw)
			if loc == nil {
				continue
			}
			f := Finding{Rule: "operator:" + r.ID, Cause: r.Cause, Sub: r.Sub, Field: m.field, Text: m.raw, Phrase: m.raw[loc[0]:loc[1]]}
			if !found {
				found, decided = true, f
				d = Diagnosis{Cause: r.Cause, Sub: r.Sub, Confidence: r.confidence(), Rule: f.Rule,
					Evidence: evidence(m.field, m.raw)}
				d = withContext(t, d, containerFor(t, m.container, order), m.field)
			}
			if all == nil {
				return d, decided
			}
			*all = append(*all, f)
		}
	}

	// 2. The built-in rules. Each text is read by the first rule that matches it; the text read
	// by the earliest rule decides, a failed container's text before the task's reason on a tie.
	best, bestRule := -1, len(rules)
	var bestSub, bestPhrase string
	// A container that exited 0 decides only when no container failed: a sidecar's odd reason
	// must not outrank the exit of the essential container that did.
	someFailed := false
	for i := range t.Containers {
		if c := &t.Containers[i]; c.ExitCode != nil && *c.ExitCode != 0 {
			someFailed = true
		}
	}
	for _, want := range [3]int{tierFailed, tierUser, tierClean} {
		mayDecide := best < 0 || rules[bestRule].generic()
		if want == tierClean && someFailed {
			mayDecide = false
		}
		if !mayDecide && all == nil {
			break
		}
		for mi := range msgs {
			if int(tier[mi]) != want {
				continue
			}
			m := &msgs[mi]
			for ri := range rules {
				if ri >= bestRule && all == nil {
					break
				}
				if tier[mi] == tierUser && rules[ri].cause != Expected {
					continue
				}
				sub, phrase, ok := rules[ri].read(m)
				if !ok {
					continue
				}
				if all != nil {
					*all = append(*all, Finding{Rule: rules[ri].id, Cause: rules[ri].cause, Sub: sub, Field: m.field, Text: m.raw, Phrase: phrase})
				}
				if ri < bestRule && mayDecide {
					best, bestRule, bestSub, bestPhrase = mi, ri, sub, phrase
				}
				if all == nil {
					break
				}
			}
		}
	}
	stop := stopCodeFinding(t.StopCode)
	if all != nil {
		sortFindings(*all)
		if stop.Rule != "" {
			*all = append(*all, stop)
		}
	}
	if found {
		return d, decided
	}

	if best >= 0 {
		r := &rules[bestRule]
		m := &msgs[best]
		decided = Finding{Rule: r.id, Cause: r.cause, Sub: bestSub, Field: m.field, Text: m.raw, Phrase: bestPhrase}
		d = Diagnosis{Cause: r.cause, Sub: bestSub, Confidence: r.confidence, Rule: r.id,
			Evidence: evidence(m.field, m.raw)}
		ci := containerFor(t, m.container, order)
		switch {
		case t.StopCode == "SpotInterruption" && (r.cause == HostLost || r.generic()):
			// The same reclaim, named more precisely by the stop code: "Host EC2 (instance i-…)
			// terminated." under SpotInterruption is Spot. (TerminationNotice is not: an instance
			// can be terminated for many reasons.)
			decided = stop
			d = Diagnosis{Cause: SpotInterruption, Confidence: Confirmed, Rule: stop.Rule,
				Evidence: evidence("stopCode", t.StopCode)}
			return withContext(t, d, ci, "stopCode"), decided
		case r.generic():
			return exitRefine(t, d, ci, decided)
		}
		return withContext(t, d, ci, m.field), decided
	}

	ci := containerFor(t, -1, order)
	if stop.Rule != "" && (t.StopCode != "ServiceSchedulerInitiated" || t.StoppedReason == "") {
		decided = stop
		d = Diagnosis{Cause: stop.Cause, Confidence: stopConfidence(t.StopCode), Rule: stop.Rule,
			Evidence: evidence("stopCode", t.StopCode)}
		if stop.Cause == EssentialExit {
			return exitRefine(t, d, ci, decided)
		}
		return withContext(t, d, ci, "stopCode"), decided
	}

	// No text and no stop code that decides: only exit codes are left.
	if ci >= 0 && t.Containers[ci].ExitCode != nil && *t.Containers[ci].ExitCode != 0 && t.StoppedReason == "" {
		d = Diagnosis{Cause: EssentialExit, Confidence: Suspected, Rule: "exit-code"}
		decided = Finding{Rule: "exit-code", Cause: EssentialExit, Field: "containers[" + t.Containers[ci].Name + "].exitCode",
			Text: strconv.Itoa(*t.Containers[ci].ExitCode)}
		return exitRefine(t, d, ci, decided)
	}

	d = Diagnosis{Cause: Unknown, Confidence: Suspected, Rule: "none"}
	if len(msgs) > 0 {
		// The unknown text itself is the evidence: it is what the operator must read, and what
		// grows the corpus.
		m := &msgs[0]
		d.Evidence = evidence(m.field, m.raw)
		return withContext(t, d, containerFor(t, m.container, order), m.field), decided
	}
	return withContext(t, d, ci, ""), decided
}

// exitRefine reads the deciding container's exit code when the text only says that an essential
// container exited:
//   - 137 (SIGKILL) is a suspected OOM kill — unless the task was being stopped by the scheduler
//     or a user, when it is the SIGKILL that follows the stop timeout (expected);
//   - 143 (SIGTERM) under a scheduler or user stop is the stop itself (expected);
//   - 126/127 (not executable / command not found) is a start failure;
//   - 139 (SIGSEGV) and anything else is the application's own exit.
func exitRefine(t *event.TaskDetail, d Diagnosis, ci int, decided Finding) (Diagnosis, Finding) {
	used := ""
	if len(d.Evidence) > 0 {
		used = d.Evidence[0].Field
	}
	if ci < 0 || t.Containers[ci].ExitCode == nil {
		return withContext(t, d, ci, used), decided
	}
	code := *t.Containers[ci].ExitCode
	stoppedByScheduler := t.StopCode == "ServiceSchedulerInitiated" || t.StopCode == "UserInitiated"
	var to Cause
	conf := Suspected
	switch {
	case (code == 137 || code == 143) && stoppedByScheduler:
		to, conf = Expected, stopConfidence(t.StopCode)
	case code == 137:
		to = OOMKilled
	case code == 126 || code == 127:
		to = StartFailure
	case code == 139:
		to, conf = EssentialExit, d.Confidence
	default:
		return withContext(t, d, ci, used), decided
	}
	d.Cause, d.Confidence, d.Rule = to, conf, d.Rule+"+exit-"+exitText(code)
	decided.Rule, decided.Cause = d.Rule, to
	return withContext(t, d, ci, used), decided
}

// stopCodeFinding is what a stop code alone says.
// https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Task.html (stopCode)
func stopCodeFinding(code string) Finding {
	// Rule ids are constants: every task asks, and most never use the answer.
	var c Cause
	var rule string
	switch code {
	case "SpotInterruption":
		c, rule = SpotInterruption, "stop-code:SpotInterruption"
	case "TerminationNotice":
		c, rule = SpotInterruption, "stop-code:TerminationNotice"
	case "EssentialContainerExited":
		c, rule = EssentialExit, "stop-code:EssentialContainerExited"
	case "TaskFailedToStart":
		c, rule = StartFailure, "stop-code:TaskFailedToStart"
	case "UserInitiated":
		c, rule = Expected, "stop-code:UserInitiated"
	case "ServiceSchedulerInitiated":
		c, rule = Expected, "stop-code:ServiceSchedulerInitiated"
	default:
		return Finding{}
	}
	return Finding{Rule: rule, Cause: c, Field: "stopCode", Text: code}
}

// stopConfidence: a stop code that names its cause is confirmed; TaskFailedToStart says only that
// something failed, ServiceSchedulerInitiated only that the scheduler stopped the task, and
// TerminationNotice that the host got a termination notice, which is a Spot reclaim only most of
// the time.
func stopConfidence(code string) Confidence {
	switch code {
	case "TaskFailedToStart", "ServiceSchedulerInitiated", "TerminationNotice":
		return Suspected
	}
	return Confirmed
}

// containerOrder ranks containers by how likely each is the essential one that failed: one with
// an exit code other than 0, 137 and 143 (its own exit), then one that never ran (nil exit code),
// then 137 (killed: the OOM killer, or ECS after the stop timeout), then 143 (SIGTERM: ECS stopping
// the others once the essential one died), then 0.
func containerOrder(cs []event.Container) []int {
	order := make([]int, 0, len(cs))
	for rank := 0; rank < 5; rank++ {
		for i := range cs {
			if exitRank(cs[i].ExitCode) == rank {
				order = append(order, i)
			}
		}
	}
	return order
}

func exitRank(code *int) int {
	switch {
	case code == nil:
		return 1
	case *code == 0:
		return 4
	case *code == 143:
		return 3
	case *code == 137:
		return 2
	}
	return 0
}

// containerFor is the container a text concerns: its own, or for the task's reason the first
// container in failure order with a reason or a non-zero exit, or the only container.
func containerFor(t *event.TaskDetail, own int, order []int) int {
	if own >= 0 {
		return own
	}
	for _, i := range order {
		c := &t.Containers[i]
		if c.Reason != "" && (c.ExitCode == nil || *c.ExitCode != 0) {
			return i
		}
	}
	for _, i := range order {
		if c := &t.Containers[i]; c.ExitCode != nil && *c.ExitCode != 0 {
			return i
		}
	}
	if len(t.Containers) == 1 {
		return 0
	}
	return -1
}

// withContext names the deciding container and adds the remaining verbatim fields as evidence.
func withContext(t *event.TaskDetail, d Diagnosis, ci int, used string) Diagnosis {
	if ci >= 0 {
		c := t.Containers[ci]
		d.Container = c.Name
		d.ExitCode = c.ExitCode
		if c.ExitCode != nil {
			d.Evidence = append(d.Evidence, Evidence{Field: "containers[" + c.Name + "].exitCode", Value: exitText(*c.ExitCode)})
		}
		if c.Reason != "" && !isContainerField(used, c.Name, "].reason") {
			d.Evidence = append(d.Evidence, Evidence{Field: "containers[" + c.Name + "].reason", Value: c.Reason})
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

// evidence starts a diagnosis's evidence with its decisive item, with room for the context
// withContext adds (a container's exit code and reason, the task's reason and stop code).
func evidence(field, value string) []Evidence {
	ev := make([]Evidence, 1, 4)
	ev[0] = Evidence{Field: field, Value: value}
	return ev
}

// isContainerField reports whether field is "containers[" + name + suffix, without building it.
func isContainerField(field, name, suffix string) bool {
	const prefix = "containers["
	return len(field) == len(prefix)+len(name)+len(suffix) && strings.HasPrefix(field, prefix) &&
		field[len(prefix):len(prefix)+len(name)] == name && strings.HasSuffix(field, suffix)
}

// exitText is strconv.Itoa without an allocation for the exit codes that say something.
func exitText(code int) string {
	switch code {
	case 137:
		return "137"
	case 143:
		return "143"
	case 139:
		return "139"
	case 126:
		return "126"
	case 127:
		return "127"
	case 255:
		return "255"
	}
	return strconv.Itoa(code) // 0–99 are not allocated either
}

// sortFindings orders findings by precedence: operator rules first (in file order, already so),
// then built-in rules by their place in the table; stable, so text order breaks ties.
func sortFindings(fs []Finding) {
	rank := func(f Finding) int {
		for i := range rules {
			if rules[i].id == f.Rule {
				return i + 1
			}
		}
		return 0 // operator
	}
	// insertion sort: a handful of findings
	for i := 1; i < len(fs); i++ {
		for j := i; j > 0 && rank(fs[j]) < rank(fs[j-1]); j-- {
			fs[j], fs[j-1] = fs[j-1], fs[j]
		}
	}
}
