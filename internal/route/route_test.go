package route_test

import (
	"strings"
	"testing"

	"github.com/ecs-medic/ecs-medic/internal/route"
)

const example = `
routes:
  - name: payments
    match: { account: "222233334444", cluster: "payments-*" }
    slack_channel: C0PAYMENTS
    pagerduty_routing_key_arn: arn:aws:secretsmanager:us-east-1:111122223333:secret:pd-payments
  - name: search
    match: { tags: { team: search } }
    slack_channel: C0SEARCH
    page_p3: true
  - match: { cause: "image-pull" }
    slack_channel: C0PLATFORM
default: { slack_channel: C0ONCALL, pagerduty_routing_key: ONCALLKEY }
`

func TestChooseFirstMatchWins(t *testing.T) {
	f, err := route.Parse("routes.yaml", []byte(example))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		s    route.Subject
		want string
	}{
		{route.Subject{Account: "222233334444", Cluster: "payments-prod", Service: "api", Cause: "oom-killed"}, "payments"},
		{route.Subject{Account: "999999999999", Cluster: "payments-prod", Service: "api", Cause: "oom-killed"}, "default"},
		{route.Subject{Account: "222233334444", Cluster: "payments-prod", Cause: "image-pull", Tags: map[string]string{"team": "search"}}, "payments"},
		{route.Subject{Cluster: "prod", Service: "indexer", Tags: map[string]string{"team": "search"}}, "search"},
		{route.Subject{Cluster: "prod", Service: "indexer"}, "default"}, // tags unknown: a tag route cannot match
		{route.Subject{Cluster: "prod", Service: "web", Cause: "image-pull"}, "route-3"},
	} {
		if got := f.Choose(c.s); got != c.want {
			t.Errorf("%+v: %s, want %s", c.s, got, c.want)
		}
	}
	var none *route.File
	if none.Choose(route.Subject{Cluster: "x"}) != route.DefaultName {
		t.Fatal("no routes file")
	}
}

func TestReceiversFallBack(t *testing.T) {
	f, err := route.Parse("routes.yaml", []byte(example))
	if err != nil {
		t.Fatal(err)
	}
	fallback := route.Receivers{SlackChannel: "#incidents", PagerDutyRoutingKey: "GLOBALKEY"}
	p := f.Receivers("payments", fallback)
	if p.SlackChannel != "C0PAYMENTS" || p.PagerDutyRoutingKeyARN == "" || p.PagerDutyRoutingKey != "" || p.PageP3 != nil {
		t.Fatalf("payments %+v", p)
	}
	s := f.Receivers("search", fallback)
	if s.SlackChannel != "C0SEARCH" || s.PagerDutyRoutingKey != "ONCALLKEY" || s.PageP3 == nil || !*s.PageP3 {
		t.Fatalf("search (no key of its own: the default's) %+v", s)
	}
	if d := f.Receivers("gone-since", fallback); d.SlackChannel != "C0ONCALL" {
		t.Fatalf("an unknown route gets the default's: %+v", d)
	}
	var none *route.File
	if d := none.Receivers(route.DefaultName, fallback); d != fallback {
		t.Fatalf("%+v", d)
	}
}

func TestParseIsStrictAndSaysEveryProblem(t *testing.T) {
	for name, c := range map[string]struct{ in, want string }{
		"unknown key":     {"routes:\n  - match: { cluster: x }\n    slack_chanel: C1\n", "line 3: unknown key slack_chanel"},
		"unknown match":   {"routes:\n  - match: { team: x }\n    slack_channel: C1\n", "unknown key team"},
		"bad glob":        {"routes:\n  - match: { cluster: \"[x\" }\n    slack_channel: C1\n", `match.cluster "[x" is not a valid glob`},
		"unknown cause":   {"routes:\n  - match: { cause: oom }\n    slack_channel: C1\n", `match.cause "oom" is not a cause`},
		"two keys":        {"routes:\n  - match: { cluster: x }\n    pagerduty_routing_key: A\n    pagerduty_routing_key_ssm: /pd\n", "give one of"},
		"not an ARN":      {"routes:\n  - match: { cluster: x }\n    pagerduty_routing_key_arn: pd-key\n", "is not an ARN"},
		"nowhere":         {"routes:\n  - match: { cluster: x }\n", "sends nowhere"},
		"shadowed":        {"routes:\n  - match: {}\n    slack_channel: C1\n  - match: { cluster: x }\n    slack_channel: C2\n", "never used"},
		"duplicate name":  {"routes:\n  - name: a\n    match: { cluster: x }\n    slack_channel: C1\n  - name: a\n    match: { cluster: y }\n    slack_channel: C2\n", `a second route named "a"`},
		"reserved name":   {"routes:\n  - name: default\n    match: { cluster: x }\n    slack_channel: C1\n", "default route's"},
		"not YAML routes": {"routes: 5\n", "cannot unmarshal"},
	} {
		_, err := route.Parse("teams.yaml", []byte(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
			continue
		}
		for _, line := range strings.Split(err.Error(), "\n") {
			if !strings.HasPrefix(line, "teams.yaml") {
				t.Errorf("%s: a line that does not name the file: %q", name, line)
			}
		}
	}
	// Several problems: all reported.
	_, err := route.Parse("teams.yaml", []byte("routes:\n  - match: { cause: oom }\n  - match: { cluster: \"[\" }\n    slack_channel: C1\n"))
	if err == nil || strings.Count(err.Error(), "\n") < 2 {
		t.Fatalf("%v", err)
	}
}
