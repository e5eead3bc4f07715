package classify

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// RulesFile is the operator's rule file, read from the runbook folder beside the runbooks.
const RulesFile = "classify.yaml"

// OperatorRule is a site-specific rule from the operator's classify.yaml: a regular expression on
// a reason text naming a cause, tried before every built-in rule. For example
//
//	rules:
//	  - id: vault-agent
//	    match: 'vault agent .* permission denied'
//	    cause: resource-init
//	    sub: secrets
//	    field: container        # optional: any (default), container, stoppedReason
//	    stop_code: TaskFailedToStart   # optional: only under this stop code
type OperatorRule struct {
	ID string `yaml:"id"`
	// Match is an RE2 regular expression (https://github.com/google/re2/wiki/Syntax), matched
	// case-insensitively anywhere in the verbatim text.
	Match string `yaml:"match"`
	Cause Cause  `yaml:"cause"`
	Sub   string `yaml:"sub"`
	// Field limits the texts read: "any" (default), "container" (containers' reasons) or
	// "stoppedReason".
	Field string `yaml:"field"`
	// StopCode limits the rule to tasks with this stop code.
	StopCode string `yaml:"stop_code"`
	// Confidence is "confirmed" (default) or "suspected".
	Confidence Confidence `yaml:"confidence"`

	re *regexp.Regexp
}

func (r *OperatorRule) reads(m *msg) bool {
	switch r.Field {
	case "container":
		return m.container >= 0
	case "stoppedReason":
		return m.container < 0
	}
	return true
}

func (r *OperatorRule) confidence() Confidence {
	if r.Confidence == "" {
		return Confirmed
	}
	return r.Confidence
}

// subCauses are the sub-causes each cause may have (the cause table of the docs).
var subCauses = map[Cause][]string{
	ResourceInit: {"secrets", "registry-auth", "network", "efs", "logging"},
	ImagePull:    {"not-found", "auth", "rate-limit", "network"},
	HealthCheck:  {"elb", "container"},
}

// Subs lists the sub-causes a cause may have (none for most causes).
func Subs(c Cause) []string { return subCauses[c] }

var stopCodes = []string{"TaskFailedToStart", "EssentialContainerExited", "UserInitiated",
	"ServiceSchedulerInitiated", "SpotInterruption", "TerminationNotice"}

// ParseRules reads an operator rule file strictly (unknown keys are errors) and checks every rule:
// its regular expression compiles, its cause is a stopped-task cause, its sub-cause belongs to
// that cause. Every problem is reported, each naming the file and the rule.
func ParseRules(name string, data []byte) ([]OperatorRule, error) {
	var file struct {
		Rules []OperatorRule `yaml:"rules"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&file); err != nil {
		if errors.Is(err, io.EOF) || strings.TrimSpace(string(data)) == "" {
			return nil, nil
		}
		var te *yaml.TypeError
		if errors.As(err, &te) {
			var errs []error
			for _, e := range te.Errors {
				errs = append(errs, fmt.Errorf("%s: %s", name, e))
			}
			return nil, errors.Join(errs...)
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var errs []error
	ids := map[string]bool{}
	for i := range file.Rules {
		r := &file.Rules[i]
		where := fmt.Sprintf("%s: rule %d", name, i+1)
		if r.ID != "" {
			where = fmt.Sprintf("%s: rule %q", name, r.ID)
		}
		bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(where+": "+format, args...)) }
		switch {
		case r.ID == "":
			bad("id is required")
		case ids[r.ID]:
			bad("id is used by another rule")
		}
		ids[r.ID] = true
		if r.Match == "" {
			bad("match (a regular expression) is required")
		} else if re, err := regexp.Compile("(?i)" + r.Match); err != nil {
			bad("match %q is not a valid regular expression: %v", r.Match, err)
		} else {
			r.re = re
		}
		if !stoppedCause(r.Cause) {
			bad("cause %q is not one of %s", r.Cause, causeList())
		} else if r.Sub != "" && !contains(subCauses[r.Cause], r.Sub) {
			if len(subCauses[r.Cause]) == 0 {
				bad("cause %s has no sub-causes, sub %q is not allowed", r.Cause, r.Sub)
			} else {
				bad("sub %q is not a sub-cause of %s (%s)", r.Sub, r.Cause, strings.Join(subCauses[r.Cause], ", "))
			}
		}
		switch r.Field {
		case "", "any", "container", "stoppedReason":
		default:
			bad("field %q is not any, container or stoppedReason", r.Field)
		}
		if r.StopCode != "" && !contains(stopCodes, r.StopCode) {
			bad("stop_code %q is not one of %s", r.StopCode, strings.Join(stopCodes, ", "))
		}
		switch r.Confidence {
		case "", Confirmed, Suspected:
		default:
			bad("confidence %q is not confirmed or suspected", r.Confidence)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return file.Rules, nil
}

func stoppedCause(c Cause) bool {
	for _, k := range Causes {
		if k == c && k != Unknown {
			return true
		}
	}
	return false
}

func causeList() string {
	var s []string
	for _, c := range Causes {
		if c != Unknown {
			s = append(s, string(c))
		}
	}
	return strings.Join(s, ", ")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
