// Package digest posts the weekly report to Slack on a schedule the operator sets (off by
// default). The reconciler, which runs every minute in AWS and in `medic serve`, asks it each
// pass; a claim in the store makes one digest per scheduled time however many reconcilers run.
package digest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/notify/slack"
	"github.com/ecs-medic/ecs-medic/internal/report"
)

// Schedule is a weekly time, in UTC.
type Schedule struct {
	Day          time.Weekday
	Hour, Minute int
}

// ParseSchedule reads "mon 09:00" (day name or its first three letters, then UTC hour:minute).
func ParseSchedule(s string) (Schedule, error) {
	fields := strings.Fields(strings.ToLower(s))
	if len(fields) != 2 {
		return Schedule{}, fmt.Errorf("digest schedule %q: want a day and a UTC time, e.g. \"mon 09:00\"", s)
	}
	day := -1
	for d := time.Sunday; d <= time.Saturday; d++ {
		name := strings.ToLower(d.String())
		if fields[0] == name || fields[0] == name[:3] {
			day = int(d)
		}
	}
	hh, mm, ok := strings.Cut(fields[1], ":")
	h, errH := strconv.Atoi(hh)
	m, errM := strconv.Atoi(mm)
	if day < 0 || !ok || errH != nil || errM != nil || h < 0 || h > 23 || m < 0 || m > 59 {
		return Schedule{}, fmt.Errorf("digest schedule %q: want a day and a UTC time, e.g. \"mon 09:00\"", s)
	}
	return Schedule{Day: time.Weekday(day), Hour: h, Minute: m}, nil
}

// last is the most recent scheduled time at or before now.
func (s Schedule) last(now time.Time) time.Time {
	now = now.UTC()
	t := time.Date(now.Year(), now.Month(), now.Day(), s.Hour, s.Minute, 0, 0, time.UTC)
	t = t.AddDate(0, 0, -((int(now.Weekday()) - int(s.Day) + 7) % 7))
	if t.After(now) {
		t = t.AddDate(0, 0, -7)
	}
	return t
}

// Store is what the digest needs of the incident store: the incidents of the period, and a
// claim that only one reconciler wins for each scheduled time.
type Store interface {
	List(ctx context.Context, f incident.Filter) ([]*incident.Incident, error)
	Update(ctx context.Context, scope incident.Scope, marks []string, fn func(active []*incident.Incident) ([]*incident.Incident, error)) error
}

// Poster posts text to a Slack channel (the Slack notifier).
type Poster interface {
	Post(ctx context.Context, channel, text string) error
}

// Digest posts the week's report.
type Digest struct {
	Schedule Schedule
	Channel  string
	Store    Store
	Poster   Poster
}

// Late bounds how long after its time a digest is still sent: a reconciler that was down for
// an hour catches up; one down for a day does not post last week's news.
const Late = time.Hour

// period is how far back a digest reports.
const period = 7 * 24 * time.Hour

// maxIncidents bounds one digest's read.
const maxIncidents = 5000

// scope is where digest claims are kept: no real service has an empty account.
var scope = incident.Scope{Account: "medic", Region: "digest", Cluster: "digest", Service: "weekly"}

// Run posts the digest when one is due and no other reconciler has posted it, and reports whether
// it did. A claim is taken before posting, so a digest is sent at most once: a post that fails
// is returned as an error (logged by the reconciler), not retried into a second copy.
func (d *Digest) Run(ctx context.Context, now time.Time) (bool, error) {
	due := d.Schedule.last(now)
	if now.Sub(due) > Late {
		return false, nil
	}
	mark := "digest#" + due.Format(time.RFC3339)
	err := d.Store.Update(ctx, scope, []string{mark}, func([]*incident.Incident) ([]*incident.Incident, error) { return nil, nil })
	if errors.Is(err, incident.ErrDuplicate) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("claim the digest of %s: %w", due.Format(time.RFC3339), err)
	}
	from := due.Add(-period)
	incs, err := d.Store.List(ctx, incident.Filter{Since: from, Limit: maxIncidents})
	if err != nil {
		return false, fmt.Errorf("list the digest's incidents: %w", err)
	}
	var b strings.Builder
	_ = report.WriteText(&b, report.Build(incs, from, due, now))
	text := ":bar_chart: *Weekly ecs-medic digest*\n" + slack.CodeBlock(b.String(), "`medic report --since 7d`") +
		"\n`/medic report` answers the same for any period; `/medic postmortem <incident>` drafts a review."
	if err := d.Poster.Post(ctx, d.Channel, text); err != nil {
		return false, fmt.Errorf("post the digest to %s: %w", d.Channel, err)
	}
	return true, nil
}
