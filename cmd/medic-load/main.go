// Command medic-load runs an event storm through the `medic serve` stack on loopback and prints
// what it cost (docs/benchmarks.md). `make bench` runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/ecs-medic/ecs-medic/internal/testing/dynalite"
	"github.com/ecs-medic/ecs-medic/internal/testing/scenario"
)

func main() { os.Exit(run()) }

func run() int {
	s := scenario.Load{}
	flag.IntVar(&s.Events, "events", 10000, "STOPPED task events")
	flag.IntVar(&s.Services, "services", 20, "services the events spread across")
	flag.Float64Var(&s.Redelivered, "redelivered", 0.05, "fraction of events delivered twice")
	flag.IntVar(&s.Clients, "clients", 16, "concurrent senders")
	flag.Uint64Var(&s.Seed, "seed", 1, "shuffle seed")
	scenarios := flag.Bool("scenarios", false, "run the storm and fault scenarios in full instead")
	side := flag.Bool("side-by-side", false, "send the crash-loop storm to ecs-medic and Alertmanager in turn and print the ratio")
	write := flag.String("write", "", "with -scenarios: write the figures into this Markdown file between its scenario markers")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the storm to this file")
	memProfile := flag.String("memprofile", "", "write an allocation profile of the storm to this file")
	mutexProfile := flag.String("mutexprofile", "", "write a mutex contention profile of the storm to this file")
	blockProfile := flag.String("blockprofile", "", "write a profile of where goroutines waited (channels, locks, I/O) to this file")
	postChild := flag.Bool("post-child", false, "be the load generator of -side-by-side: read the storm from standard input, send it, answer on standard output")
	flag.Parse()
	if *postChild {
		if err := scenario.RunPostChild(context.Background(), os.Stdin, os.Stdout); err != nil {
			fmt.Fprintf(os.Stderr, "medic-load: %v\n", err)
			return 1
		}
		return 0
	}
	if *blockProfile != "" {
		runtime.SetBlockProfileRate(int(time.Millisecond / 10))
		defer func() {
			if f, err := os.Create(*blockProfile); err == nil {
				_ = pprof.Lookup("block").WriteTo(f, 0)
				_ = f.Close()
			}
		}()
	}
	if *mutexProfile != "" {
		runtime.SetMutexProfileFraction(5)
		defer func() {
			if f, err := os.Create(*mutexProfile); err == nil {
				_ = pprof.Lookup("mutex").WriteTo(f, 0)
				_ = f.Close()
			}
		}()
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "medic-load: %v\n", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	if *memProfile != "" {
		runtime.MemProfileRate = 4096
		defer func() {
			if f, err := os.Create(*memProfile); err == nil {
				_ = pprof.Lookup("allocs").WriteTo(f, 0)
				_ = f.Close()
			}
		}()
	}
	if *scenarios {
		return runScenarios(*write)
	}
	if *side {
		sc := scenario.Full
		sc.Events, sc.Services, sc.Clients = s.Events, s.Services, s.Clients
		r, err := scenario.SideBySide(context.Background(), sc, sideRounds, loadGenerator())
		if err != nil {
			fmt.Fprintf(os.Stderr, "medic-load: %v\n", err)
			return 1
		}
		for _, f := range r.Figures {
			fmt.Printf("%s: %s\n", f[0], f[1])
		}
		if !r.Passed() {
			fmt.Fprintln(os.Stderr, "medic-load:", strings.Join(r.Problems, "; "))
			return 1
		}
		return 0
	}
	return storm(s)
}

func storm(s scenario.Load) int {
	r, err := scenario.RunLoad(context.Background(), s)
	if err != nil {
		fmt.Fprintf(os.Stderr, "medic-load: %v\n", err)
		return 1
	}
	fmt.Print(r.Markdown())
	if r.Incidents != s.Services || r.Occurrences != s.Events {
		fmt.Fprintf(os.Stderr, "medic-load: %d incidents and %d occurrences, want %d and %d\n", r.Incidents, r.Occurrences, s.Services, s.Events)
		return 1
	}
	return 0
}

// loadGenerator is the side-by-side's load generator: this program again, as a process of its
// own (-post-child), so that each server's CPU is measured apart from the client's; in this
// process when the program cannot find itself.
func loadGenerator() scenario.Poster {
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "medic-load: the load generator runs in this process:", err)
		return scenario.InProcess
	}
	return scenario.ChildPoster(exe, "-post-child")
}

// sideRounds is how many times ecs-medic and Alertmanager take the storm in turn.
const sideRounds = 3

const (
	beginMark = "<!-- scenarios:begin (written by `make bench`) -->"
	endMark   = "<!-- scenarios:end -->"
)

// runScenarios runs every scenario in full, prints a table, and optionally writes it into a
// Markdown file between the markers.
func runScenarios(file string) int {
	full := scenario.Full
	if srv, err := dynalite.Start(); err == nil {
		defer srv.Stop()
		full.DynamoURL = srv.URL
	} else {
		fmt.Fprintln(os.Stderr, "medic-load: no dynalite, the DynamoDB storm is skipped:", err)
	}
	var b strings.Builder
	b.WriteString("| scenario | result | figures |\n|---|---|---|\n")
	failed := false
	for _, sc := range scenario.All {
		fmt.Fprintf(os.Stderr, "running %s…\n", sc.Name)
		r := sc.Run(context.Background(), full)
		status := "pass"
		if !r.Passed() {
			status, failed = "FAIL: "+strings.Join(r.Problems, "; "), true
		}
		var figs []string
		for _, f := range r.Figures {
			figs = append(figs, f[0]+": **"+f[1]+"**")
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", r.Name, status, strings.Join(figs, "<br>"))
	}
	fmt.Fprintln(os.Stderr, "running Prometheus Alertmanager with the same storm…")
	if am, err := scenario.Alertmanager(context.Background(), scenario.Full); err != nil {
		fmt.Fprintf(&b, "| Prometheus Alertmanager, same storm | not run: %v | |\n", err)
	} else {
		var figs []string
		for _, f := range am.Figures {
			figs = append(figs, f[0]+": **"+f[1]+"**")
		}
		status := "pass"
		if !am.Passed() {
			status = "counts differ: " + strings.Join(am.Problems, "; ")
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", am.Name, status, strings.Join(figs, "<br>"))
	}
	fmt.Fprintln(os.Stderr, "running ecs-medic and Alertmanager side by side…")
	if sb, err := scenario.SideBySide(context.Background(), scenario.Full, sideRounds, loadGenerator()); err != nil {
		fmt.Fprintf(&b, "| ingest side by side: ecs-medic ÷ Alertmanager | not run: %v | |\n", err)
	} else {
		var figs []string
		for _, f := range sb.Figures {
			figs = append(figs, f[0]+": **"+f[1]+"**")
		}
		status := "pass"
		if !sb.Passed() {
			status, failed = "FAIL: "+strings.Join(sb.Problems, "; "), true
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", sb.Name, status, strings.Join(figs, "<br>"))
	}
	fmt.Print(b.String())
	if file != "" {
		doc, err := os.ReadFile(file)
		if err != nil {
			fmt.Fprintln(os.Stderr, "medic-load:", err)
			return 1
		}
		before, rest, ok1 := strings.Cut(string(doc), beginMark)
		_, after, ok2 := strings.Cut(rest, endMark)
		if !ok1 || !ok2 {
			fmt.Fprintf(os.Stderr, "medic-load: %s has no %q … %q markers\n", file, beginMark, endMark)
			return 1
		}
		out := before + beginMark + "\n" + b.String() + endMark + after
		if err := os.WriteFile(file, []byte(out), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "medic-load:", err)
			return 1
		}
	}
	if failed {
		return 1
	}
	return 0
}
