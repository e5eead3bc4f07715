package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/ecs-medic/ecs-medic/internal/boltstore"
	"github.com/ecs-medic/ecs-medic/internal/dynamostore"
	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/report"
)

// reader is the part of a store the review commands read.
type reader interface {
	Get(ctx context.Context, id string) (*incident.Incident, error)
	List(ctx context.Context, f incident.Filter) ([]*incident.Incident, error)
}

// maxReportIncidents bounds one report: a week of a busy organization is a few hundred incidents.
const maxReportIncidents = 10000

func reportCmd(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string, now time.Time) int {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := fs.String("db", "", "embedded store file (default MEDIC_DB, else ./medic.db; with MEDIC_TABLE set and no --db, DynamoDB)")
	sinceFlag := fs.String("since", "7d", "the period: incidents opened this long ago or later (e.g. 24h, 7d, 2w)")
	asJSON := fs.Bool("json", false, "machine-readable output")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: medic report [--db FILE] [--since DURATION] [--json]\n\n"+
			"What happened over a period, per service: incidents by cause and severity, mean time to\n"+
			"acknowledge and to resolve, SLA met and missed, fixes and their outcomes, recurring causes,\n"+
			"and the texts no rule could classify.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return flagExit(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "medic report: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	since, err := report.ParseSince(*sinceFlag)
	if err != nil {
		fmt.Fprintf(stderr, "medic report: --since: %v\n", err)
		return 2
	}
	st, closeStore, err := openReader(ctx, *db, getenv)
	if err != nil {
		fmt.Fprintf(stderr, "medic report: %v\n", err)
		return 1
	}
	defer closeStore()
	from := now.Add(-since)
	incs, err := st.List(ctx, incident.Filter{Since: from, Limit: maxReportIncidents})
	if err != nil {
		fmt.Fprintf(stderr, "medic report: %v\n", err)
		return 1
	}
	p := report.Build(incs, from, now, now)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(p)
	} else {
		err = report.WriteText(stdout, p)
	}
	if err != nil {
		fmt.Fprintf(stderr, "medic report: %v\n", err)
		return 1
	}
	if len(incs) == maxReportIncidents {
		fmt.Fprintf(stderr, "medic report: the period holds more than %d incidents; only the newest %d are counted: use a shorter --since\n", maxReportIncidents, maxReportIncidents)
	}
	return 0
}

func postmortemCmd(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string, now time.Time) int {
	fs := flag.NewFlagSet("postmortem", flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := fs.String("db", "", "embedded store file (default MEDIC_DB, else ./medic.db; with MEDIC_TABLE set and no --db, DynamoDB)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: medic postmortem [--db FILE] INCIDENT-ID\n\n"+
			"A Markdown postmortem draft of one incident: summary, impact, timeline, evidence and log\n"+
			"lines, deployments in the window, fixes taken and skipped, SLA outcome, and the questions\n"+
			"the review should answer.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return flagExit(err)
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	st, closeStore, err := openReader(ctx, *db, getenv)
	if err != nil {
		fmt.Fprintf(stderr, "medic postmortem: %v\n", err)
		return 1
	}
	defer closeStore()
	inc, err := st.Get(ctx, fs.Arg(0))
	if errors.Is(err, incident.ErrNotFound) {
		fmt.Fprintf(stderr, "medic postmortem: no incident %q in the store (medic report lists the recent ones)\n", fs.Arg(0))
		return 1
	}
	if err != nil {
		fmt.Fprintf(stderr, "medic postmortem: %v\n", err)
		return 1
	}
	if err := report.WritePostmortem(stdout, inc, now); err != nil {
		fmt.Fprintf(stderr, "medic postmortem: %v\n", err)
		return 1
	}
	return 0
}

// flagExit is the exit code after a flag parse error: 0 for -h/--help (the usage was printed), 2
// for a wrong flag.
func flagExit(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 2
}

// openReader opens the store the review commands read: the file named by --db (or MEDIC_DB, else
// ./medic.db) read-only, or DynamoDB when MEDIC_TABLE is set and no --db was given.
func openReader(ctx context.Context, db string, getenv func(string) string) (reader, func(), error) {
	// Only the store's variables: a report must not fail on, say, a PagerDuty key it never uses.
	if table := getenv("MEDIC_TABLE"); db == "" && table != "" {
		awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("load AWS configuration: %w", err)
		}
		return dynamostore.New(dynamodb.NewFromConfig(awsCfg), table), func() {}, nil
	}
	if db == "" {
		db = cmp.Or(getenv("MEDIC_DB"), "medic.db")
	}
	st, err := boltstore.OpenReadOnly(db)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, nil, fmt.Errorf("no store at %s: run medic serve (or medic replay --db %s) first, or name one with --db", db, db)
	case errors.Is(err, boltstore.ErrLocked):
		return nil, nil, fmt.Errorf("%w; stop it first, or ask it in Slack (/medic report, /medic postmortem)", err)
	case err != nil:
		return nil, nil, err
	}
	return st, func() { _ = st.Close() }, nil
}
