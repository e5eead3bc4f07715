// Package reconcile is the periodic pass that events alone cannot do (SPEC §2, §3): it re-reads
// the services with active incidents and resolves those that have stayed recovered for the quiet
// period, escalates incidents past their response deadline, and finds services that are down
// with no incident open because their events were lost. The reconciler Lambda runs it every
// minute; `medic serve` runs it on a ticker.
package reconcile

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"go.uber.org/zap"

	"github.com/ecs-medic/ecs-medic/internal/classify"
	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/notify"
	"github.com/ecs-medic/ecs-medic/internal/servicestate"
	"github.com/ecs-medic/ecs-medic/internal/severity"
)

// StateReader reads one service's state.
type StateReader interface {
	Get(ctx context.Context, ref servicestate.Ref) (*servicestate.Snapshot, error)
}

// Guards changes a scope's remediation guard (incident.Guards, the store).
type Guards interface {
	UpdateGuard(ctx context.Context, scope incident.Scope, fn func(g *incident.Guard) error) (incident.Guard, error)
}

// Lister is the part of *ecs.Client the lost-event sweep uses.
type Lister interface {
	ListClusters(ctx context.Context, in *ecs.ListClustersInput, optFns ...func(*ecs.Options)) (*ecs.ListClustersOutput, error)
	ListServices(ctx context.Context, in *ecs.ListServicesInput, optFns ...func(*ecs.Options)) (*ecs.ListServicesOutput, error)
	DescribeServices(ctx context.Context, in *ecs.DescribeServicesInput, optFns ...func(*ecs.Options)) (*ecs.DescribeServicesOutput, error)
}

// Reconciler runs reconciliation passes.
type Reconciler struct {
	Manager *incident.Manager
	// Guards keeps each scope's remediation guard: a service that recovered records the revision
	// it recovered on, a rollback target.
	Guards Guards
	States StateReader
	Sender notify.Sender
	// Lister enables the lost-event sweep; nil disables it.
	Lister Lister
	// Region names the scopes the sweep opens incidents in when a cluster ARN cannot be read
	// (ECS answers ARNs, which carry their own account and region).
	Region string
	// Quiet is how long a service must stay at running = desired before its incident resolves.
	Quiet time.Duration
	// Digest posts the weekly report when it is due; nil: no digest.
	Digest Digest
	Log    *zap.Logger
}

// Digest is the weekly report to Slack (digest.Digest), asked once a pass.
type Digest interface {
	Run(ctx context.Context, now time.Time) (sent bool, err error)
}

// Report counts what a pass did.
type Report struct {
	Checked    int `json:"checked"`
	Recovering int `json:"recovering"`
	Resolved   int `json:"resolved"`
	Escalated  int `json:"escalated"`
	Raised     int `json:"raised"` // incidents whose severity rose once their service's state could be read
	Found      int `json:"found"`  // incidents opened for services whose events were lost
	Resent     int `json:"resent"` // notifications delivered late, after failing earlier
	Errors     int `json:"errors"`
	Digests    int `json:"digests,omitempty"` // weekly digests posted
}

// Run does one pass. It goes on past individual failures (counted and logged) and returns an
// error only when it could not list the active incidents at all.
func (r *Reconciler) Run(ctx context.Context) (Report, error) {
	var rep Report
	var active []*incident.Incident
	err := incident.Each(ctx, r.Manager, incident.Filter{Active: true, Limit: activePage}, func(inc *incident.Incident) bool {
		active = append(active, inc)
		return true
	})
	if err != nil {
		return rep, fmt.Errorf("list active incidents: %w", err)
	}
	scopes := map[string]bool{}
	for _, inc := range active {
		scopes[inc.Scope.Key()] = true
		rep.Checked++
		log := r.Log.With(zap.String("incident", inc.ID), zap.String("cluster", inc.Scope.Cluster), zap.String("service", inc.Scope.Service))
		// An alarm's incident resolves when its alarm returns to OK, not when the service is at its
		// desired count (a CPU alarm fires on a service that runs every task).
		if inc.Scope.IsService() && inc.Cause != classify.Alarm {
			snap, err := r.States.Get(ctx, servicestate.Ref{Account: inc.Scope.Account, Region: inc.Scope.Region, Cluster: inc.Scope.Cluster, Service: inc.Scope.Service})
			if err == nil && inc.ServiceState == nil && inc.StateError != "" {
				// The state could not be read when the incident opened (no role, throttling): it
				// was P3 for now; now that it is known the severity may rise, and pages.
				if res, raised, err := r.Manager.StateKnown(ctx, inc.ID, snap); err == nil && raised {
					rep.Raised++
					log.Warn("service state readable again: severity raised", zap.String("severity", res.Severity.String()))
					r.notify(ctx, log, notify.Raised, res)
				}
			}
			switch {
			case errors.Is(err, servicestate.ErrNotFound):
				// The service is gone: nothing left to recover.
				if res, changed, err := r.Manager.Resolve(ctx, inc.ID, "ecs-medic", "the service no longer exists"); err == nil && changed {
					rep.Resolved++
					r.notify(ctx, log, notify.Resolved, res)
				}
				continue
			case err != nil:
				rep.Errors++
				log.Warn("read service state", zap.Error(err))
			default:
				res, resolved, err := r.Manager.Observe(ctx, inc.ID, snap, r.Quiet)
				switch {
				case err != nil:
					rep.Errors++
					log.Warn("record service state", zap.Error(err))
				case resolved:
					rep.Resolved++
					log.Info("incident resolved: service recovered")
					r.notify(ctx, log, notify.Resolved, res)
					// The revision it recovered on ran stably: a rollback target.
					if snap.TaskDefinition != "" {
						_, _ = r.Guards.UpdateGuard(ctx, inc.Scope, func(g *incident.Guard) error {
							g.StableTaskDefinition = snap.TaskDefinition
							return nil
						})
					}
					continue
				case res.RecoveringSince != nil:
					rep.Recovering++
				}
			}
		}
		if inc.VerifyBy != nil {
			if res, changed, err := r.Manager.Ineffective(ctx, inc.ID); err == nil && changed {
				rep.Escalated++
				log.Warn("the fix was not effective: escalated")
				r.notify(ctx, log, notify.Escalated, res)
				continue
			}
		}
		res, escalated, err := r.Manager.Escalate(ctx, inc.ID)
		if err != nil {
			rep.Errors++
			log.Warn("escalate", zap.Error(err))
			continue
		}
		if escalated {
			rep.Escalated++
			log.Warn("incident escalated: response deadline passed")
			r.notify(ctx, log, notify.Escalated, res)
		}
	}
	if r.Lister != nil {
		r.sweep(ctx, scopes, &rep)
	}
	r.resend(ctx, &rep, nil)
	if r.Digest != nil {
		sent, err := r.Digest.Run(ctx, r.Manager.Now())
		if err != nil {
			rep.Errors++
			r.Log.Warn("weekly digest", zap.Error(err))
		}
		if sent {
			rep.Digests++
		}
	}
	return rep, nil
}

// Resend hands the pending notifications of the receivers named to them again, and nothing else:
// `medic serve` calls it at start for its background Slack queue, so what a killed process had
// queued but not delivered goes out (notify.Queue).
func (r *Reconciler) Resend(ctx context.Context, only ...string) Report {
	var rep Report
	r.resend(ctx, &rep, only)
	return rep
}

// resend delivers again what a receiver failed to take after every retry (PagerDuty down for a
// minute, Slack rate limiting): a page is never lost, only late. Recently resolved incidents are
// included, so a resolve that failed still reaches PagerDuty.
func (r *Reconciler) resend(ctx context.Context, rep *Report, only []string) {
	var incs []*incident.Incident
	err := incident.Each(ctx, r.Manager, incident.Filter{Active: true, Limit: activePage}, func(inc *incident.Incident) bool {
		incs = append(incs, inc)
		return true
	})
	if err == nil {
		// The newest resolved ones too.
		var recent []*incident.Incident
		recent, err = r.Manager.List(ctx, incident.Filter{State: incident.Resolved, Limit: resolvedResends})
		incs = append(incs, recent...)
	}
	if err != nil {
		rep.Errors++
		r.Log.Warn("list incidents for re-sends", zap.Error(err))
		return
	}
	seen := map[string]bool{} // one resolved between the two reads is in both
	for _, inc := range incs {
		if seen[inc.ID] {
			continue
		}
		seen[inc.ID] = true
		for name, n := range inc.Notices {
			if n.Pending == "" || (len(only) > 0 && !slices.Contains(only, name)) {
				continue
			}
			log := r.Log.With(zap.String("incident", inc.ID), zap.String("notifier", name))
			for _, res := range notify.Resend(ctx, r.Sender, r.Manager, log, notify.Kind(n.Pending), inc, name) {
				if res.Err == nil {
					rep.Resent++
				}
			}
		}
	}
}

// maxSweepServices bounds the sweep's DescribeServices work per pass.
const maxSweepServices = 500

const (
	// activePage is how many active incidents a pass reads at a time; it reads them all.
	activePage = 500
	// resolvedResends is how many of the newest resolved incidents a pass looks at for a pending
	// re-send: a resolve that failed still reaches PagerDuty while its incident is that recent.
	resolvedResends = 200
)

// sweep looks for services below their desired count, with nothing pending, and no incident.
func (r *Reconciler) sweep(ctx context.Context, scopes map[string]bool, rep *Report) {
	limit := maxSweepServices
	seen := 0
	clusters := ecs.NewListClustersPaginator(r.Lister, &ecs.ListClustersInput{})
	for clusters.HasMorePages() && seen < limit {
		page, err := clusters.NextPage(ctx)
		if err != nil {
			rep.Errors++
			r.Log.Warn("list clusters", zap.Error(err))
			return
		}
		for _, clusterArn := range page.ClusterArns {
			services := ecs.NewListServicesPaginator(r.Lister, &ecs.ListServicesInput{Cluster: aws.String(clusterArn), MaxResults: aws.Int32(10)})
			for services.HasMorePages() && seen < limit {
				sp, err := services.NextPage(ctx)
				if err != nil {
					rep.Errors++
					r.Log.Warn("list services", zap.String("cluster", clusterArn), zap.Error(err))
					break
				}
				if len(sp.ServiceArns) == 0 {
					continue
				}
				seen += len(sp.ServiceArns)
				out, err := r.Lister.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(clusterArn), Services: sp.ServiceArns,
					Include: []ecstypes.ServiceField{ecstypes.ServiceFieldTags}}) // routes match on tags
				if err != nil {
					rep.Errors++
					r.Log.Warn("describe services", zap.String("cluster", clusterArn), zap.Error(err))
					continue
				}
				for _, svc := range out.Services {
					r.check(ctx, clusterArn, svc, scopes, rep)
				}
			}
		}
	}
}

func (r *Reconciler) check(ctx context.Context, clusterArn string, svc ecstypes.Service, scopes map[string]bool, rep *Report) {
	name, desired, running, pending, status := svc.ServiceName, svc.DesiredCount, svc.RunningCount, svc.PendingCount, aws.ToString(svc.Status)
	if status != "ACTIVE" || running >= desired || pending > 0 {
		return
	}
	account, region, cluster := parseClusterArn(clusterArn, "", r.Region)
	scope := incident.Scope{Account: account, Region: region, Cluster: cluster, Service: aws.ToString(name)}
	if scopes[scope.Key()] {
		return
	}
	snap := &servicestate.Snapshot{Cluster: cluster, Service: scope.Service, Status: status, Desired: int(desired), Running: int(running)}
	for _, t := range svc.Tags {
		if snap.Tags == nil {
			snap.Tags = map[string]string{}
		}
		snap.Tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	msg := fmt.Sprintf("%s at %d/%d running with nothing pending and no incident open (its events were lost or never sent)", scope.Name(), running, desired)
	out, err := r.Manager.Apply(ctx, incident.Signal{
		Kind: incident.Failure, Time: time.Now(), Scope: scope, Cause: classify.Degraded, Confidence: classify.Suspected,
		Severity: severity.Assess(snap.Severity()), State: snap, Evidence: msg, Message: msg,
		Facts: incident.Facts{Reason: msg},
	})
	log := r.Log.With(zap.String("cluster", cluster), zap.String("service", scope.Service))
	if err != nil {
		rep.Errors++
		log.Warn("open incident for a degraded service", zap.Error(err))
		return
	}
	if out.Opened {
		rep.Found++
		log.Warn("degraded service with no incident: opened one", zap.String("incident", out.Incident.ID))
		r.notify(ctx, log, notify.Opened, out.Incident)
	}
}

// parseClusterArn reads "arn:aws:ecs:<region>:<account>:cluster/<name>".
func parseClusterArn(arn, account, region string) (string, string, string) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) == 6 {
		return parts[4], parts[3], strings.TrimPrefix(parts[5], "cluster/")
	}
	return account, region, arn
}

func (r *Reconciler) notify(ctx context.Context, log *zap.Logger, kind notify.Kind, inc *incident.Incident) {
	notify.Announce(ctx, r.Sender, r.Manager, log, kind, inc)
}
