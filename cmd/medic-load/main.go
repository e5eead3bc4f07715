// Command medic-load runs an event storm through the `medic serve` stack on loopback and prints
// what it cost (docs/benchmarks.md). `make bench` runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/ecs-medic/ecs-medic/internal/loadtest"
)

func main() {
	s := loadtest.Storm{}
	flag.IntVar(&s.Events, "events", 10000, "STOPPED task events")
	flag.IntVar(&s.Services, "services", 20, "services the events spread across")
	flag.Float64Var(&s.Redelivered, "redelivered", 0.05, "fraction of events delivered twice")
	flag.IntVar(&s.Clients, "clients", 16, "concurrent senders")
	flag.Uint64Var(&s.Seed, "seed", 1, "shuffle seed")
	flag.Parse()
	r, err := loadtest.Run(context.Background(), s)
	if err != nil {
		fmt.Fprintf(os.Stderr, "medic-load: %v\n", err)
		os.Exit(1)
	}
	fmt.Print(r.Markdown())
	if r.Incidents != s.Services || r.Occurrences != s.Events {
		fmt.Fprintf(os.Stderr, "medic-load: %d incidents and %d occurrences, want %d and %d\n", r.Incidents, r.Occurrences, s.Services, s.Events)
		os.Exit(1)
	}
}
