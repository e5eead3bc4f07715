// Package route sends each incident to its team (SPEC §8): a routes file (MEDIC_ROUTES, YAML,
// strict) whose routes match an incident's account, region, cluster, service, cause and its
// service's ECS tags with globs; the first matching route wins, and a route without a Slack
// channel or PagerDuty key takes the default's, then MEDIC_SLACK_CHANNEL /
// MEDIC_PAGERDUTY_ROUTING_KEY. Matching is pure; Sender delivers an incident's notifications to
// its route's receivers only, so one team's failing receiver never holds up another team's page.
package route

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"

	"github.com/ecs-medic/ecs-medic/internal/classify"
)

// DefaultName is the name of the default route (and of the route of an incident no route matched).
const DefaultName = "default"

// File is a parsed routes file.
type File struct {
	Routes  []Route   `yaml:"routes"`
	Default Receivers `yaml:"default"`
	// Path is where the file was read from, for messages.
	Path string `yaml:"-"`
}

// Route is one route: what it matches and where it sends.
type Route struct {
	// Name names the route on incidents; default "route-N" (N from 1, in file order). Give names:
	// an open incident keeps its route by name when routes are added or reordered.
	Name      string `yaml:"name"`
	Match     Match  `yaml:"match"`
	Receivers `yaml:",inline"`
}

// Receivers are where a route sends. Empty fields fall back to the default route's, then to
// MEDIC_SLACK_CHANNEL / MEDIC_PAGERDUTY_ROUTING_KEY.
type Receivers struct {
	SlackChannel string `yaml:"slack_channel"`
	// The PagerDuty Events API v2 routing key, given directly or as a Secrets Manager ARN or an
	// SSM parameter name, read at start.
	PagerDutyRoutingKey    string `yaml:"pagerduty_routing_key"`
	PagerDutyRoutingKeyARN string `yaml:"pagerduty_routing_key_arn"`
	PagerDutyRoutingKeySSM string `yaml:"pagerduty_routing_key_ssm"`
	// PageP3 pages P3 incidents too (low urgency); by default P3 goes to Slack only.
	PageP3 *bool `yaml:"page_p3"`
}

// HasKey reports whether a PagerDuty key is given in any form.
func (r Receivers) HasKey() bool {
	return r.PagerDutyRoutingKey != "" || r.PagerDutyRoutingKeyARN != "" || r.PagerDutyRoutingKeySSM != ""
}

// KeySource says where the key comes from without revealing it.
func (r Receivers) KeySource() string {
	switch {
	case r.PagerDutyRoutingKeyARN != "":
		return "secret " + r.PagerDutyRoutingKeyARN
	case r.PagerDutyRoutingKeySSM != "":
		return "SSM parameter " + r.PagerDutyRoutingKeySSM
	case r.PagerDutyRoutingKey != "":
		return "pagerduty_routing_key (inline)"
	}
	return ""
}

// Match holds globs (path.Match syntax: *, ?, [...]); an empty field matches anything. Tags match
// the service's ECS tags: every key must be present with a value matching its glob.
type Match struct {
	Account string            `yaml:"account"`
	Region  string            `yaml:"region"`
	Cluster string            `yaml:"cluster"`
	Service string            `yaml:"service"`
	Cause   string            `yaml:"cause"`
	Tags    map[string]string `yaml:"tags"`
}

func (m Match) empty() bool {
	return m.Account == "" && m.Region == "" && m.Cluster == "" && m.Service == "" && m.Cause == "" && len(m.Tags) == 0
}

// Subject is what a route is chosen from: an incident's scope, cause and its service's tags.
type Subject struct {
	Account, Region, Cluster, Service, Cause string
	// Tags are the service's ECS tags; nil when they are not known (the state could not be read,
	// or offline): a route that matches on tags then does not match.
	Tags map[string]string
}

// Load reads and checks a routes file. Every problem is reported, each naming the file.
func Load(file string) (*File, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("routes: %w", err)
	}
	return Parse(file, raw)
}

// Parse reads a routes file's contents strictly: unknown keys are errors.
func Parse(name string, raw []byte) (*File, error) {
	f := &File{Path: name}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(f); err != nil && !errors.Is(err, io.EOF) {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return nil, fmt.Errorf("%s: %s", name, strings.TrimPrefix(err.Error(), "yaml: "))
		}
		errs := make([]error, 0, len(te.Errors))
		for _, e := range te.Errors {
			// "line 3: field slack_chanel not found in type route.Route" → "line 3: unknown key slack_chanel"
			if m := unknownRE().FindStringSubmatch(e); m != nil {
				e = m[1] + "unknown key " + m[2]
			}
			errs = append(errs, fmt.Errorf("%s: %s", name, e))
		}
		return nil, errors.Join(errs...)
	}
	if errs := f.check(); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	for i := range f.Routes {
		if f.Routes[i].Name == "" {
			f.Routes[i].Name = "route-" + strconv.Itoa(i+1)
		}
	}
	return f, nil
}

// Compiled at first use, not at package initialisation: every Lambda function links this package
// and would pay for it at each cold start, used or not.
var unknownRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(line \d+: )field (\S+) not found in type`) })

// check lists every problem of the file, one error each, naming the file and the route.
func (f *File) check() []error {
	var errs []error
	bad := func(where, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s: %s", f.Path, where, fmt.Sprintf(format, args...)))
	}
	names := map[string]bool{}
	catchAll := -1
	for i, r := range f.Routes {
		where := fmt.Sprintf("routes[%d]", i)
		if r.Name != "" {
			where += " (" + r.Name + ")"
			if r.Name == DefaultName {
				bad(where, "the name %q is the default route's", DefaultName)
			}
			if names[r.Name] {
				bad(where, "a second route named %q", r.Name)
			}
			names[r.Name] = true
		}
		if catchAll >= 0 {
			bad(where, "never used: routes[%d] has an empty match and catches everything before it", catchAll)
		}
		if r.Match.empty() && catchAll < 0 {
			catchAll = i
		}
		for field, glob := range map[string]string{"account": r.Match.Account, "region": r.Match.Region,
			"cluster": r.Match.Cluster, "service": r.Match.Service, "cause": r.Match.Cause} {
			if _, err := path.Match(glob, ""); err != nil {
				bad(where, "match.%s %q is not a valid glob", field, glob)
			}
		}
		if c := r.Match.Cause; c != "" && !strings.ContainsAny(c, "*?[") && !slices.Contains(classify.Causes, classify.Cause(c)) {
			bad(where, "match.cause %q is not a cause (%s)", c, causeList())
		}
		for k, v := range r.Match.Tags {
			if k == "" {
				bad(where, "match.tags has an empty key")
			}
			if _, err := path.Match(v, ""); err != nil {
				bad(where, "match.tags.%s %q is not a valid glob", k, v)
			}
		}
		errs = append(errs, checkReceivers(f.Path, where, r.Receivers)...)
		if !r.HasKey() && r.SlackChannel == "" && r.PageP3 == nil {
			bad(where, "sends nowhere of its own: give slack_channel, a pagerduty_routing_key or page_p3")
		}
	}
	errs = append(errs, checkReceivers(f.Path, "default", f.Default)...)
	return errs
}

func checkReceivers(file, where string, r Receivers) []error {
	var errs []error
	n := 0
	for _, v := range []string{r.PagerDutyRoutingKey, r.PagerDutyRoutingKeyARN, r.PagerDutyRoutingKeySSM} {
		if v != "" {
			n++
		}
	}
	if n > 1 {
		errs = append(errs, fmt.Errorf("%s: %s: give one of pagerduty_routing_key, pagerduty_routing_key_arn, pagerduty_routing_key_ssm", file, where))
	}
	if a := r.PagerDutyRoutingKeyARN; a != "" && !strings.HasPrefix(a, "arn:aws") {
		errs = append(errs, fmt.Errorf("%s: %s: pagerduty_routing_key_arn %q is not an ARN", file, where, a))
	}
	if c := r.SlackChannel; c != "" && strings.ContainsAny(c, " \t,") {
		errs = append(errs, fmt.Errorf("%s: %s: slack_channel %q is not one channel", file, where, c))
	}
	return errs
}

func causeList() string {
	var cs []string
	for _, c := range classify.Causes {
		cs = append(cs, string(c))
	}
	return strings.Join(cs, ", ")
}

// Choose returns the name of the first route matching s, or DefaultName. A nil File (no routes
// configured) always answers DefaultName.
func (f *File) Choose(s Subject) string {
	if f == nil {
		return DefaultName
	}
	for _, r := range f.Routes {
		if r.Match.matches(s) {
			return r.Name
		}
	}
	return DefaultName
}

func (m Match) matches(s Subject) bool {
	for _, p := range [][2]string{{m.Account, s.Account}, {m.Region, s.Region}, {m.Cluster, s.Cluster}, {m.Service, s.Service}, {m.Cause, s.Cause}} {
		if p[0] == "" {
			continue
		}
		if ok, _ := path.Match(p[0], p[1]); !ok {
			return false
		}
	}
	for k, glob := range m.Tags {
		v, ok := s.Tags[k]
		if !ok {
			return false
		}
		if ok, _ := path.Match(glob, v); !ok {
			return false
		}
	}
	return true
}

// Receivers returns where the route named name sends, with the default route's receivers filled
// in, then the fallbacks (MEDIC_SLACK_CHANNEL, MEDIC_PAGERDUTY_ROUTING_KEY) given. An unknown
// name (an incident opened under an older routes file) gets the default's.
func (f *File) Receivers(name string, fallback Receivers) Receivers {
	var out Receivers
	if f != nil {
		for _, r := range f.Routes {
			if r.Name == name {
				out = r.Receivers
			}
		}
		out = merge(out, f.Default)
	}
	return merge(out, fallback)
}

// merge fills r's empty fields from d.
func merge(r, d Receivers) Receivers {
	if r.SlackChannel == "" {
		r.SlackChannel = d.SlackChannel
	}
	if !r.HasKey() {
		r.PagerDutyRoutingKey, r.PagerDutyRoutingKeyARN, r.PagerDutyRoutingKeySSM = d.PagerDutyRoutingKey, d.PagerDutyRoutingKeyARN, d.PagerDutyRoutingKeySSM
	}
	if r.PageP3 == nil {
		r.PageP3 = d.PageP3
	}
	return r
}

// Names lists the route names, the default last.
func (f *File) Names() []string {
	var names []string
	if f != nil {
		for _, r := range f.Routes {
			names = append(names, r.Name)
		}
	}
	return append(names, DefaultName)
}
