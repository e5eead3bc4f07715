// Command medic is ecs-medic's local daemon and tools: classify events, replay them through the
// whole pipeline, or serve every handler over HTTP on an embedded store.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `medic — ecs-medic, an incident responder for Amazon ECS

Usage:
  medic classify [--explain] [FILE ...]  diagnose events, one JSON line each (no network, no state);
                                     --explain: which rule and text decided, what else matched
  medic replay [--json] [FILE ...]   run events through the whole pipeline, print the incidents
  medic serve [--addr A] [--db F]    the local daemon: POST /events, GET /incidents, /healthz, /metrics
  medic runbooks check [DIR]         validate runbooks (default: the ones built in, or MEDIC_RUNBOOKS)
  medic routes check [FILE]          validate a routes file (default: MEDIC_ROUTES)
  medic routes test [--tags k=v] EVENT   say where each event's incident would go
  medic smoke [--function F]         after a deploy: a marked test event through the deployed functions
  medic --version                    the version

Every command takes --help.

Input is a JSON event, a JSON array of events or JSON lines; stdin when no FILE is given.
Configuration comes from the environment (MEDIC_*, AWS_*); see README.md.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// run is main without the process: testable, and the only place that decides the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "classify":
		return classifyCmd(args[1:], stdin, stdout, stderr, getenv)
	case "replay":
		return replayCmd(ctx, args[1:], stdin, stdout, stderr, getenv)
	case "serve":
		return serveCmd(ctx, args[1:], stdout, stderr, getenv)
	case "runbooks":
		return runbooksCmd(args[1:], stdout, stderr, getenv)
	case "routes":
		return routesCmd(args[1:], stdin, stdout, stderr, getenv)
	case "smoke":
		return smokeCmd(ctx, args[1:], stdout, stderr, getenv)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, versionString())
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "medic: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}

// readInputs returns the contents of the named files, or of stdin when there are none.
func readInputs(files []string, stdin io.Reader) ([][]byte, error) {
	if len(files) == 0 {
		b, err := io.ReadAll(stdin)
		if err != nil {
			return nil, fmt.Errorf("read stdin: %w", err)
		}
		return [][]byte{b}, nil
	}
	out := make([][]byte, 0, len(files))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}
