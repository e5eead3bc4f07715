package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/ecs-medic/ecs-medic/internal/accounts"
	"github.com/ecs-medic/ecs-medic/internal/event"
	"github.com/ecs-medic/ecs-medic/internal/pipeline"
	"github.com/ecs-medic/ecs-medic/internal/route"
)

const routesUsage = `usage:
  medic routes check [FILE]                                validate a routes file (default: MEDIC_ROUTES)
  medic routes test [--routes FILE] [--tags k=v ...] [EVENT ...]   where each event's incident would go
`

// routesCmd is `medic routes check` and `medic routes test`.
func routesCmd(args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, routesUsage)
		return 2
	}
	switch args[0] {
	case "check":
		return routesCheck(args[1:], stdout, stderr, getenv)
	case "test":
		return routesTest(args[1:], stdin, stdout, stderr, getenv)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, routesUsage)
		return 0
	}
	fmt.Fprintf(stderr, "medic routes: unknown command %q\n%s", args[0], routesUsage)
	return 2
}

// routesCheck prints one line per problem (each naming the file) and exits non-zero on any; a
// valid file is summarised route by route.
func routesCheck(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) > 1 || (len(args) == 1 && strings.HasPrefix(args[0], "-")) {
		if len(args) == 1 && (args[0] == "-h" || args[0] == "--help") {
			fmt.Fprint(stdout, routesUsage)
			return 0
		}
		fmt.Fprint(stderr, routesUsage)
		return 2
	}
	file := getenv("MEDIC_ROUTES")
	if len(args) == 1 {
		file = args[0]
	}
	if file == "" {
		fmt.Fprintln(stderr, "medic routes check: no routes file: name one, or set MEDIC_ROUTES")
		return 2
	}
	f, err := route.Load(file)
	if err != nil {
		for _, p := range problems(err) {
			fmt.Fprintln(stdout, "✗", p)
		}
		return 1
	}
	fallback := fallbackReceivers(getenv)
	for _, name := range f.Names() {
		fmt.Fprintf(stdout, "✓ %-12s %s → %s\n", name, matchWords(f, name), receiverWords(f.Receivers(name, fallback)))
	}
	fmt.Fprintf(stdout, "%d routes OK (%s)\n", len(f.Routes), file)
	return 0
}

// routesTest says where each event's incident would go. Offline, the service's tags are unknown
// unless given with --tags: a route matching on tags is then not considered, and it says so.
func routesTest(args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("medic routes test", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("routes", getenv("MEDIC_ROUTES"), "routes file")
	tags := map[string]string{}
	fs.Func("tags", "a tag of the service, `key=value` (repeat for more)", func(s string) error {
		k, v, ok := strings.Cut(s, "=")
		if !ok || k == "" {
			return fmt.Errorf("%q: want key=value", s)
		}
		tags[k] = v
		return nil
	})
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	var f *route.File
	if *file != "" {
		var err error
		if f, err = route.Load(*file); err != nil {
			for _, p := range problems(err) {
				fmt.Fprintln(stderr, "✗", p)
			}
			return 1
		}
	} else {
		fmt.Fprintln(stdout, "no routes file (MEDIC_ROUTES or --routes): every incident goes to the default receivers")
	}
	inputs, err := readInputs(fs.Args(), stdin)
	if err != nil {
		fmt.Fprintln(stderr, "medic routes test:", err)
		return 1
	}
	cl, err := operatorClassifier(getenv) // the cause decides the route: classify as the pipeline does
	if err != nil {
		fmt.Fprintln(stderr, "medic routes test:", err)
		return 1
	}
	fallback := fallbackReceivers(getenv)
	code := 0
	for _, in := range inputs {
		raws, err := event.Split(in)
		if err != nil {
			fmt.Fprintln(stderr, "medic routes test:", err)
			code = 1
			continue
		}
		for _, raw := range raws {
			ev, err := event.Decode(raw)
			if err != nil {
				fmt.Fprintln(stdout, "✗", err)
				code = 1
				continue
			}
			if allowed := accounts.Allowed(strings.FieldsFunc(getenv("MEDIC_ACCOUNTS"), func(r rune) bool { return r == ',' || r == ' ' })); !allowed.Permits(ev.Account) {
				fmt.Fprintf(stdout, "event %s: refused: account %s is not in MEDIC_ACCOUNTS\n", ev.ID, ev.Account)
				continue
			}
			in := pipeline.InterpretWith(ev, cl)
			if !in.Opens {
				why := in.Why
				if why == "" {
					why = "it only adds to an incident already open, which keeps the route it opened with"
				}
				fmt.Fprintf(stdout, "event %s: opens no incident (%s)\n", ev.ID, why)
				continue
			}
			sc := in.Signal.Scope
			s := route.Subject{Account: sc.Account, Region: sc.Region, Cluster: sc.Cluster, Service: sc.Service, Cause: string(in.Signal.Cause)}
			what := sc.Account + "/" + sc.Region + "/" + sc.Cluster + "/" + sc.Service
			if sc.Alarm != "" {
				s.Service, what = "", sc.Account+"/"+sc.Region+"/alarm "+sc.Alarm
			}
			if len(tags) > 0 {
				s.Tags = tags
			}
			name := f.Choose(s)
			fmt.Fprintf(stdout, "event %s: %s, cause %s\n", ev.ID, what, s.Cause)
			fmt.Fprintf(stdout, "  route:     %s\n", name)
			rec := f.Receivers(name, fallback)
			fmt.Fprintf(stdout, "  slack:     %s\n", orNone(rec.SlackChannel))
			fmt.Fprintf(stdout, "  pagerduty: %s\n", pagerWords(rec))
			if s.Tags == nil && usesTags(f) && sc.IsService() {
				fmt.Fprintln(stdout, "  note:      the service's ECS tags are not known offline, so routes matching on tags were not considered; give them with --tags key=value")
			}
		}
	}
	return code
}

func problems(err error) []string {
	var joined interface{ Unwrap() []error }
	if errors.As(err, &joined) {
		var out []string
		for _, e := range joined.Unwrap() {
			out = append(out, problems(e)...)
		}
		return out
	}
	return strings.Split(err.Error(), "\n")
}

// fallbackReceivers are MEDIC_SLACK_CHANNEL and MEDIC_PAGERDUTY_ROUTING_KEY, named by where they
// come from: the key itself is never printed.
func fallbackReceivers(getenv func(string) string) route.Receivers {
	r := route.Receivers{SlackChannel: getenv("MEDIC_SLACK_CHANNEL")}
	switch {
	case getenv("MEDIC_PAGERDUTY_ROUTING_KEY") != "":
		r.PagerDutyRoutingKey = "MEDIC_PAGERDUTY_ROUTING_KEY"
	case getenv("MEDIC_PAGERDUTY_ROUTING_KEY_ARN") != "":
		r.PagerDutyRoutingKeyARN = getenv("MEDIC_PAGERDUTY_ROUTING_KEY_ARN")
	case getenv("MEDIC_PAGERDUTY_ROUTING_KEY_SSM") != "":
		r.PagerDutyRoutingKeySSM = getenv("MEDIC_PAGERDUTY_ROUTING_KEY_SSM")
	}
	return r
}

func pagerWords(r route.Receivers) string {
	src := r.KeySource()
	switch {
	case r.PagerDutyRoutingKey == "MEDIC_PAGERDUTY_ROUTING_KEY":
		src = "MEDIC_PAGERDUTY_ROUTING_KEY"
	case src == "":
		return "none (not paged)"
	}
	if r.PageP3 != nil && *r.PageP3 {
		return src + ", P3 paged too (low urgency)"
	}
	return src + ", P1 and P2 (P3 only where the runbook says page: true)"
}

func receiverWords(r route.Receivers) string {
	return "slack " + orNone(r.SlackChannel) + ", pagerduty " + pagerWords(r)
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func matchWords(f *route.File, name string) string {
	for _, r := range f.Routes {
		if r.Name != name {
			continue
		}
		var parts []string
		for _, p := range [][2]string{{"account", r.Match.Account}, {"region", r.Match.Region}, {"cluster", r.Match.Cluster},
			{"service", r.Match.Service}, {"cause", r.Match.Cause}} {
			if p[1] != "" {
				parts = append(parts, p[0]+"="+p[1])
			}
		}
		keys := make([]string, 0, len(r.Match.Tags))
		for k := range r.Match.Tags {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			parts = append(parts, "tag "+k+"="+r.Match.Tags[k])
		}
		if len(parts) == 0 {
			return "(everything)"
		}
		return strings.Join(parts, " ")
	}
	return "(anything no route matched)"
}

func usesTags(f *route.File) bool {
	if f == nil {
		return false
	}
	for _, r := range f.Routes {
		if len(r.Match.Tags) > 0 {
			return true
		}
	}
	return false
}
