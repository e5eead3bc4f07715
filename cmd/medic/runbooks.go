package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ecs-medic/ecs-medic/internal/app"
	"github.com/ecs-medic/ecs-medic/internal/classify"
)

// runbooksCmd validates runbooks: `medic runbooks check [DIR]`. One line per problem; non-zero
// on any.
func runbooksCmd(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if wantsHelp(args) {
		printHelp(stdout, nil, "medic runbooks check [DIR]", "Validates runbooks (DIR, else MEDIC_RUNBOOKS, else the ones built into the binary): one line per\nproblem, naming the file; exit 1 on any.")
		return 0
	}
	if len(args) == 0 || args[0] != "check" || len(args) > 2 {
		fmt.Fprintln(stderr, "usage: medic runbooks check [DIR]")
		return 2
	}
	dir := getenv("MEDIC_RUNBOOKS")
	if len(args) == 2 {
		dir = args[1]
	}
	where := dir
	if where == "" {
		where = "built-in runbooks"
	}
	set, err := app.LoadRunbooks(dir)
	if err != nil {
		var joined interface{ Unwrap() []error }
		problems := []error{err}
		if errors.As(err, &joined) {
			problems = joined.Unwrap()
		}
		for _, p := range problems {
			for _, line := range strings.Split(strings.TrimPrefix(p.Error(), "runbooks: "), "\n") {
				fmt.Fprintln(stdout, "✗", line)
			}
		}
		return 1
	}
	for _, rb := range set.Runbooks {
		match := string(rb.Match.Cause)
		if rb.Match.Alarm != "" {
			match = "alarm " + rb.Match.Alarm
		}
		fmt.Fprintf(stdout, "✓ %-20s %-28s %s / %s\n", rb.File, match, rb.Fix.Action, rb.Fix.Mode)
	}
	if n := len(set.Classifier.OperatorRules()); n > 0 {
		fmt.Fprintf(stdout, "✓ %-20s %d classification rules, tried before the built-in ones\n", classify.RulesFile, n)
	}
	fmt.Fprintf(stdout, "%d runbooks OK (%s)\n", len(set.Runbooks), where)
	return 0
}
