package route_test

import (
	"strings"
	"testing"

	"github.com/ecs-medic/ecs-medic/internal/route"
)

func TestCandidates(t *testing.T) {
	f, err := route.Parse("routes.yaml", []byte(`
routes:
  - name: pay
    match: {service: "pay*"}
    slack_channel: C1
  - name: oom
    match: {cluster: prod, cause: oom-killed}
    slack_channel: C2
  - name: tagged
    match: {tags: {team: search}}
    slack_channel: C3
  - name: prod
    match: {cluster: prod}
    slack_channel: C4
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		s    route.Subject
		want string
	}{
		{route.Subject{Cluster: "prod", Service: "payments"}, "pay"},
		{route.Subject{Cluster: "prod", Service: "web"}, "oom[cause oom-killed] tagged[tag team=search] prod"},
		{route.Subject{Cluster: "prod", Service: "web", Tags: map[string]string{"team": "web"}}, "oom[cause oom-killed] prod"},
		{route.Subject{Cluster: "dev", Service: "web"}, "tagged[tag team=search] default"},
		{route.Subject{Service: "web"}, "oom[cluster prod, cause oom-killed] tagged[tag team=search] prod[cluster prod] default"},
	} {
		var got []string
		for _, c := range f.Candidates(tc.s) {
			if c.When != "" {
				c.Name += "[" + c.When + "]"
			}
			got = append(got, c.Name)
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("%+v: %v, want %s", tc.s, got, tc.want)
		}
	}
	var none *route.File
	if c := none.Candidates(route.Subject{Service: "x"}); len(c) != 1 || c[0].Name != route.DefaultName {
		t.Errorf("no routes: %v", c)
	}
}
