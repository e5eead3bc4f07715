package chatops

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"go.uber.org/zap"

	"github.com/ecs-medic/ecs-medic/internal/accounts"
	"github.com/ecs-medic/ecs-medic/internal/event"
	"github.com/ecs-medic/ecs-medic/internal/incident"
)

// targetIncidents bounds the incidents of one service a name is looked up in: its account and
// region are those of any of them, and one service has few.
const targetIncidents = 100

// target is a service a command names, with the account and region it lives in.
type target struct {
	Account, Region, Cluster, Service string
	// Incident is the newest active incident on it, when there is one.
	Incident *incident.Incident
}

// resolve reads `<account>/<cluster>/<service>` or `<cluster>/<service>`. Without an account, the
// accounts are those of the incidents ecs-medic holds for that cluster/service (active ones only
// when active is set): one is used, several are listed back, none means the home account. The
// problem, when not "", is the answer to give instead.
func (h *Handler) resolve(ctx context.Context, name string, active bool) (target, string) {
	parts := strings.Split(name, "/")
	var t target
	switch {
	case len(parts) == 3 && accounts.IsAccountID(parts[0]) && parts[1] != "" && parts[2] != "":
		t.Account, t.Cluster, t.Service = parts[0], parts[1], parts[2]
	case len(parts) == 2 && parts[0] != "" && parts[1] != "":
		t.Cluster, t.Service = parts[0], parts[1]
	default:
		return t, fmt.Sprintf("`%s` is not `<cluster>/<service>` or `<account>/<cluster>/<service>` (a 12-digit account id).", echo(name))
	}
	f := incident.Filter{Active: true, Account: t.Account, Cluster: t.Cluster, Service: t.Service, Limit: targetIncidents}
	incs, err := h.Manager.List(ctx, f)
	if err != nil {
		h.Log.Error("slack: list incidents", zap.Error(err))
		return t, "Could not read the incidents just now: ecs-medic's store did not answer. Try again in a minute."
	}
	if !active {
		f.Active = false
		recent, err := h.Manager.List(ctx, f)
		if err == nil {
			incs = append(incs, recent...)
		}
	}
	var found []string
	where := map[string]*incident.Incident{}
	for _, inc := range incs {
		s := inc.Scope
		key := s.Account + "/" + s.Region
		if _, ok := where[key]; !ok {
			where[key] = inc
			found = append(found, key)
		}
	}
	switch {
	case len(found) == 1:
		inc := where[found[0]]
		t.Account, t.Region = inc.Scope.Account, inc.Scope.Region
		if inc.State.Active() {
			t.Incident = inc
		}
	case len(found) > 1:
		var names []string
		for _, k := range found {
			account, region, _ := strings.Cut(k, "/")
			names = append(names, fmt.Sprintf("`%s/%s/%s` (%s)", esc(account), esc(t.Cluster), esc(t.Service), esc(region)))
		}
		return t, fmt.Sprintf("`%s` is in more than one account: %s. Name the account: `<account>/%s/%s`.",
			echo(name), strings.Join(names, ", "), esc(t.Cluster), esc(t.Service))
	}
	return t, ""
}

// ecs returns the ECS client for an account and region: the account's own, or the one client of
// a single-account setup.
func (h *Handler) ecs(ctx context.Context, account, region string) (ECS, error) {
	if h.Clients != nil {
		cs, err := h.Clients.For(ctx, account, region)
		if err != nil {
			return nil, err
		}
		return cs.ECS, nil
	}
	if h.ECS == nil {
		return nil, errors.New("ECS cannot be reached from here (no AWS region or credentials)")
	}
	return h.ECS, nil
}

// closest suggests the service name nearest to a mistyped one.
func closest(ctx context.Context, api ECS, cluster, name string) string {
	var names []string
	p := ecs.NewListServicesPaginator(api, &ecs.ListServicesInput{Cluster: aws.String(cluster)})
	for p.HasMorePages() && len(names) < 1000 {
		page, err := p.NextPage(ctx)
		if err != nil {
			return ""
		}
		for _, arn := range page.ServiceArns {
			names = append(names, event.ResourceName(arn))
		}
	}
	best, bestD := "", len(name)/2+2
	for _, n := range names {
		if d := distance(strings.ToLower(n), strings.ToLower(name)); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

// distance is the Levenshtein edit distance.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
