// Package runbook reads runbooks: Markdown files, one per cause or alarm, whose YAML front
// matter is the automation and whose body is the human procedure (SPEC §4). Runbooks are data:
// an action is a name from a fixed registry, never a command, and front matter is parsed strictly
// so a typo is an error, not a silently ignored key.
package runbook

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/ecs-medic/ecs-medic/internal/classify"
	"github.com/ecs-medic/ecs-medic/internal/severity"
)

// Action names a remediation the code knows (the registry).
type Action string

// The actions of SPEC §4.
const (
	RaiseMemory        Action = "raise-memory"
	Rollback           Action = "rollback"
	ForceNewDeployment Action = "force-new-deployment"
	ScaleOut           Action = "scale-out"
	None               Action = "none"
)

// Mode says how a fix is applied.
type Mode string

// Modes: off (never), suggest (a human presses Run fix), auto.
const (
	Off     Mode = "off"
	Suggest Mode = "suggest"
	Auto    Mode = "auto"
)

// Rank orders modes, to cap one by another.
func (m Mode) Rank() int { return map[Mode]int{Off: 0, Suggest: 1, Auto: 2}[m] }

// Runbook is one parsed runbook.
type Runbook struct {
	ID            string         `yaml:"id"`
	Match         Match          `yaml:"match"`
	SeverityFloor severity.Level `yaml:"severity_floor"`
	Page          bool           `yaml:"page"`
	Fix           Fix            `yaml:"fix"`
	// Flap says when a service that keeps recovering and failing again counts as flapping.
	Flap Flap `yaml:"flap"`
	// Title is the body's first heading; Body the human steps; File where it came from.
	Title string `yaml:"-"`
	Body  string `yaml:"-"`
	File  string `yaml:"-"`
}

// Match selects the incidents a runbook is for.
type Match struct {
	Cause classify.Cause `yaml:"cause"`
	Sub   string         `yaml:"sub"`
	Alarm string         `yaml:"alarm"` // glob on the alarm name
}

// Fix is a runbook's automation.
type Fix struct {
	Action    Action         `yaml:"action"`
	Mode      Mode           `yaml:"mode"`
	Params    map[string]any `yaml:"params"`
	Cooldown  Duration       `yaml:"cooldown"`
	MaxPerDay int            `yaml:"max_per_day"`
	Verify    Duration       `yaml:"verify"`
}

// Flap tunes flap awareness: after Threshold relapses (the service back at its desired count,
// then failing again) an incident is flapping, and it resolves only after Window at the desired
// count instead of the usual quiet period, so one incident counts the cycles instead of a new page
// per cycle. Zero values take the incident defaults (3 relapses, 30 minutes).
type Flap struct {
	Threshold int      `yaml:"threshold"`
	Window    Duration `yaml:"window"`
}

// maxFlapWindow bounds how long a flapping incident may wait to resolve.
const maxFlapWindow = 24 * time.Hour

// Duration reads "15m", "1h".
type Duration struct{ time.Duration }

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil {
		return fmt.Errorf("line %d: %q is not a duration (use 15m, 1h)", n.Line, n.Value)
	}
	if v < 0 {
		return fmt.Errorf("line %d: %q is negative: use a duration such as 15m", n.Line, n.Value)
	}
	d.Duration = v
	return nil
}

// Bounds of the front matter's numbers: what a runbook may ask of automation.
const (
	// MaxFileSize bounds a runbook file: front matter and human steps fit in far less.
	MaxFileSize = 256 << 10
	// MaxTasks is ECS's quota of tasks per service: max_tasks cannot be above it.
	MaxTasks = 5000
	// MaxStep bounds one scale-out step.
	MaxStep = 100
	// MaxMemoryMiB is the largest Fargate task (16 vCPU, 120 GiB).
	MaxMemoryMiB = 122880
)

// params each action accepts, and whether it is required.
var actionParams = map[Action]map[string]bool{
	RaiseMemory:        {"factor": true, "max_memory_mib": true, "allow_cpu_raise": false},
	Rollback:           {},
	ForceNewDeployment: {},
	ScaleOut:           {"step": false, "max_tasks": true},
	None:               {},
}

// Bool reads a boolean parameter.
func (f Fix) Bool(name string) bool { v, _ := f.Params[name].(bool); return v }

// Float reads a numeric parameter.
func (f Fix) Float(name string) (float64, bool) {
	switch v := f.Params[name].(type) {
	case int:
		return float64(v), true
	case float64:
		return v, true
	}
	return 0, false
}

// Parse reads one runbook file.
func Parse(name string, data []byte) (*Runbook, error) {
	rest, ok := bytes.CutPrefix(data, []byte("---\n"))
	if !ok {
		return nil, fmt.Errorf("%s: must start with YAML front matter between --- lines", name)
	}
	front, body, ok := bytes.Cut(rest, []byte("\n---\n"))
	if !ok {
		return nil, fmt.Errorf("%s: front matter is not closed by a --- line", name)
	}
	rb := &Runbook{File: name, Body: strings.TrimSpace(string(body))}
	dec := yaml.NewDecoder(bytes.NewReader(front))
	dec.KnownFields(true)
	if err := dec.Decode(rb); err != nil {
		// yaml.v3 lists several problems on lines of their own: each names the file too.
		var errs []error
		for _, line := range strings.Split(err.Error(), "\n") {
			if line = strings.TrimSpace(line); line != "" && line != "yaml: unmarshal errors:" {
				errs = append(errs, fmt.Errorf("%s: %s", name, line))
			}
		}
		return nil, errors.Join(errs...)
	}
	for _, line := range strings.Split(rb.Body, "\n") {
		if t, ok := strings.CutPrefix(line, "# "); ok {
			rb.Title = t
			break
		}
	}
	rb.applyDefaults()
	if err := rb.validate(); err != nil {
		return nil, inFile(name, err)
	}
	return rb, nil
}

// inFile names the file on each of err's problems, so every line of a report says where.
func inFile(name string, err error) error {
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) {
		return fmt.Errorf("%s: %w", name, err)
	}
	var errs []error
	for _, e := range joined.Unwrap() {
		errs = append(errs, fmt.Errorf("%s: %w", name, e))
	}
	return errors.Join(errs...)
}

// applyDefaults fills what a runbook may leave out: severity floor P3, no fix action, mode off.
func (rb *Runbook) applyDefaults() {
	if rb.SeverityFloor == 0 {
		rb.SeverityFloor = severity.P3
	}
	if rb.Fix.Action == "" {
		rb.Fix.Action = None
	}
	if rb.Fix.Mode == "" {
		rb.Fix.Mode = Off
	}
}

func (rb *Runbook) validate() error {
	var errs []error
	if rb.ID == "" {
		errs = append(errs, errors.New("id is required"))
	}
	switch {
	case rb.Match.Cause == "" && rb.Match.Alarm == "":
		errs = append(errs, errors.New("match needs a cause or an alarm"))
	case rb.Match.Cause != "" && rb.Match.Alarm != "":
		errs = append(errs, errors.New("match names a cause or an alarm, not both"))
	case rb.Match.Cause != "" && !knownCause(rb.Match.Cause):
		errs = append(errs, fmt.Errorf("match.cause %q is not a cause ecs-medic gives", rb.Match.Cause))
	}
	if rb.Match.Alarm != "" {
		if _, err := path.Match(rb.Match.Alarm, ""); err != nil {
			errs = append(errs, fmt.Errorf("match.alarm %q is not a valid glob", rb.Match.Alarm))
		}
	}
	if rb.Title == "" {
		errs = append(errs, errors.New("the body needs a '# ' title: the runbook is for people first"))
	}
	if t := rb.Flap.Threshold; t != 0 && (t < 2 || t > 100) {
		errs = append(errs, fmt.Errorf("flap.threshold %d: must be between 2 and 100 relapses", t))
	}
	if w := rb.Flap.Window.Duration; w != 0 && (w < 5*time.Minute || w > maxFlapWindow) {
		errs = append(errs, fmt.Errorf("flap.window %s: must be between 5m and 24h", w))
	}
	f := &rb.Fix
	params, ok := actionParams[f.Action]
	if !ok {
		errs = append(errs, fmt.Errorf("fix.action %q is not one of raise-memory, rollback, force-new-deployment, scale-out, none", f.Action))
	}
	if f.Mode.Rank() == 0 && f.Mode != Off {
		errs = append(errs, fmt.Errorf("fix.mode %q is not off, suggest or auto", f.Mode))
	}
	for k := range f.Params {
		if _, ok := params[k]; !ok {
			errs = append(errs, fmt.Errorf("fix.params.%s is not a parameter of %s", k, f.Action))
		}
	}
	for k, required := range params {
		if _, ok := f.Params[k]; required && !ok {
			errs = append(errs, fmt.Errorf("fix.params.%s is required by %s", k, f.Action))
		}
	}
	for name, kind := range paramKinds {
		v, ok := f.Params[name]
		if !ok {
			continue
		}
		switch kind {
		case "number":
			if _, isNum := f.Float(name); !isNum {
				errs = append(errs, fmt.Errorf("fix.params.%s must be a number, not %q", name, fmt.Sprint(v)))
			}
		case "whole":
			if x, isNum := f.Float(name); !isNum || x != float64(int64(x)) {
				errs = append(errs, fmt.Errorf("fix.params.%s must be a whole number, not %q", name, fmt.Sprint(v)))
			}
		case "bool":
			if _, isBool := v.(bool); !isBool {
				errs = append(errs, fmt.Errorf("fix.params.%s must be true or false, not %q", name, fmt.Sprint(v)))
			}
		}
	}
	if f.Action == RaiseMemory {
		if v, ok := f.Float("factor"); ok && !(v > 1 && v <= 4) { // NaN too
			errs = append(errs, errors.New("fix.params.factor must be above 1 and at most 4"))
		}
		if v, ok := f.Float("max_memory_mib"); ok && (v < 512 || v > MaxMemoryMiB) {
			errs = append(errs, fmt.Errorf("fix.params.max_memory_mib must be between 512 and %d (the largest Fargate task)", MaxMemoryMiB))
		}
	}
	if f.Action == ScaleOut {
		maxTasks, okMax := f.Float("max_tasks")
		if okMax && (maxTasks < 1 || maxTasks > MaxTasks) {
			errs = append(errs, fmt.Errorf("fix.params.max_tasks must be between 1 and %d (ECS's tasks per service)", MaxTasks))
		}
		if step, ok := f.Float("step"); ok && (step < 1 || step > MaxStep || (okMax && step > maxTasks)) {
			errs = append(errs, fmt.Errorf("fix.params.step must be between 1 and %d, and not above max_tasks", MaxStep))
		}
	}
	if f.Action != None {
		if f.Cooldown.Duration == 0 {
			f.Cooldown.Duration = 15 * time.Minute
		}
		if f.MaxPerDay == 0 {
			f.MaxPerDay = 3
		}
		if f.Verify.Duration == 0 {
			f.Verify.Duration = 10 * time.Minute
		}
		if f.MaxPerDay < 0 || f.MaxPerDay > 24 {
			errs = append(errs, errors.New("fix.max_per_day must be between 1 and 24"))
		}
		if f.Cooldown.Duration < time.Minute || f.Cooldown.Duration > 24*time.Hour {
			errs = append(errs, errors.New("fix.cooldown must be between 1m and 24h"))
		}
		if f.Verify.Duration < time.Minute || f.Verify.Duration > 2*time.Hour {
			errs = append(errs, errors.New("fix.verify must be between 1m and 2h"))
		}
	}
	if rb.Match.Alarm != "" && matchesEveryAlarm(rb.Match.Alarm) && f.Mode == Auto && f.Action != None {
		errs = append(errs, fmt.Errorf("match.alarm %q matches every alarm, so fix.mode auto would let any alarm (anyone who can set one) trigger %s on any service: name the alarms (e.g. checkout-*) or use mode suggest", rb.Match.Alarm, f.Action))
	}
	return errors.Join(errs...)
}

// paramKinds is the type each parameter must have.
var paramKinds = map[string]string{
	"factor": "number", "max_memory_mib": "whole", "allow_cpu_raise": "bool", "step": "whole", "max_tasks": "whole",
}

// matchesEveryAlarm reports whether an alarm glob has no literal character: "*", "?*", "[a-z]*".
func matchesEveryAlarm(glob string) bool {
	for _, probe := range []string{"a", "Z", "0", "-", "checkout-cpu-high", "TargetTracking-x", " "} {
		if ok, _ := path.Match(glob, probe); !ok {
			return false
		}
	}
	return true
}

func knownCause(c classify.Cause) bool {
	for _, k := range classify.Causes {
		if k == c && k != classify.Expected {
			return true
		}
	}
	switch c {
	case classify.StartImpaired, classify.PlacementFailure, classify.DeploymentFailed, classify.Degraded:
		return true
	}
	return false
}

// ErrEmpty: the folder holds no runbook, so every fix and paging choice would silently be off.
var ErrEmpty = errors.New("no runbook (*.md file with front matter) in the folder: every fix and paging choice would be off")

// Set is the runbooks in force.
type Set struct {
	Runbooks []*Runbook
	// Classifier applies the operator's classification rules (classify.yaml beside the
	// runbooks) before the built-in ones; nil when there are none.
	Classifier *classify.Classifier
}

// Load reads every *.md runbook of a file system (the embedded ones, or MEDIC_RUNBOOKS). It
// reports every problem, not the first.
func Load(fsys fs.FS) (*Set, error) {
	names, err := fs.Glob(fsys, "*.md")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	set := &Set{}
	var errs []error
	ids := map[string]string{}
	for _, n := range names {
		if strings.EqualFold(n, "README.md") {
			continue
		}
		data, err := readBounded(fsys, n)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", n, err))
			continue
		}
		rb, err := Parse(n, data)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if prev, dup := ids[rb.ID]; dup {
			errs = append(errs, fmt.Errorf("%s: id %q is also used by %s", n, rb.ID, prev))
			continue
		}
		ids[rb.ID] = n
		set.Runbooks = append(set.Runbooks, rb)
	}
	if data, err := readBounded(fsys, classify.RulesFile); err == nil {
		rules, err := classify.ParseRules(classify.RulesFile, data)
		if err != nil {
			errs = append(errs, err)
		} else if len(rules) > 0 {
			set.Classifier = classify.New(rules)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, fmt.Errorf("%s: %w", classify.RulesFile, err))
	}
	if len(errs) == 0 && len(set.Runbooks) == 0 {
		// Only when nothing else is wrong: the set (its classifier) is still usable by callers
		// that need no runbook, such as `medic classify`.
		errs = append(errs, ErrEmpty)
	}
	return set, errors.Join(errs...)
}

// readBounded reads a runbook only if it is a regular file of at most MaxFileSize: a symlink to
// /dev/zero or a FIFO must not hang or exhaust the process.
func readBounded(fsys fs.FS, name string) ([]byte, error) {
	st, err := fs.Stat(fsys, name)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("not a regular file (%s): runbooks must be plain files", st.Mode().Type())
	}
	if st.Size() > MaxFileSize {
		return nil, fmt.Errorf("%d bytes, the limit is %d", st.Size(), MaxFileSize)
	}
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("more than %d bytes", MaxFileSize)
	}
	return data, nil
}

// For returns the runbook for an incident's cause, sub-cause or alarm: the most specific match
// (a sub-cause beats the cause alone), or nil.
func (s *Set) For(cause classify.Cause, sub, alarm string) *Runbook {
	if s == nil {
		return nil
	}
	var best *Runbook
	for _, rb := range s.Runbooks {
		switch {
		case rb.Match.Alarm != "":
			if ok, _ := path.Match(rb.Match.Alarm, alarm); ok && alarm != "" && best == nil {
				best = rb
			}
		case rb.Match.Cause == cause && rb.Match.Sub == sub && sub != "":
			return rb
		case rb.Match.Cause == cause && rb.Match.Sub == "" && best == nil:
			best = rb
		}
	}
	return best
}

// ByID returns the runbook with that id, or nil.
func (s *Set) ByID(id string) *Runbook {
	if s == nil || id == "" {
		return nil
	}
	for _, rb := range s.Runbooks {
		if rb.ID == id {
			return rb
		}
	}
	return nil
}
