// Package cost says what a fix costs: the monthly change of raising a task's memory or adding
// tasks, from the task size, the number of tasks and where they run (Fargate on demand, Fargate
// Spot, or EC2, whose instances are paid whatever the tasks use). Prices come from a table built
// into the binary that the operator can replace with their own (MEDIC_PRICES), since prices differ
// by region, change over time, and many organizations pay negotiated rates.
package cost

import (
	_ "embed"
	"fmt"
	"math"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// HoursPerMonth is the month AWS prices by (365 × 24 / 12).
const HoursPerMonth = 730

// Price is Fargate's price of a vCPU and of a GB of memory for one hour, in USD.
type Price struct {
	VCPUHour float64 `yaml:"vcpu_hour"`
	GBHour   float64 `yaml:"gb_hour"`
}

// Table is the prices in force.
type Table struct {
	// Source says where the prices come from, shown with every estimate.
	Source string `yaml:"source"`
	// Fargate is the on-demand Linux/x86 price per region; FargateARM the Linux/ARM (Graviton)
	// price where it differs.
	Fargate    map[string]Price `yaml:"fargate"`
	FargateARM map[string]Price `yaml:"fargate_arm"`
	// SpotFactor is the share of the on-demand price Fargate Spot costs (Spot prices move; this is
	// an estimate, e.g. 0.3 for 70% off).
	SpotFactor float64 `yaml:"spot_factor"`
}

//go:embed prices.yaml
var builtin []byte

// Default is the built-in table.
func Default() *Table {
	t, err := parse(builtin)
	if err != nil {
		panic(fmt.Sprintf("built-in price table: %v", err)) // a broken embedded file is a build error
	}
	return t
}

// Load reads the operator's price table (YAML like the built-in prices.yaml), or returns the
// built-in one when path is "".
func Load(path string) (*Table, error) {
	if path == "" {
		return Default(), nil
	}
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("price table: %w", err)
	}
	if !info.Mode().IsRegular() || info.Size() > 1<<20 {
		return nil, fmt.Errorf("price table %s: not a regular file of at most 1 MiB", path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("price table: %w", err)
	}
	t, err := parse(b)
	if err != nil {
		return nil, fmt.Errorf("price table %s: %w", path, err)
	}
	return t, nil
}

func parse(b []byte) (*Table, error) {
	var t Table
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&t); err != nil {
		return nil, err
	}
	if len(t.Fargate) == 0 {
		return nil, fmt.Errorf("no fargate prices")
	}
	for _, m := range []map[string]Price{t.Fargate, t.FargateARM} {
		for region, p := range m {
			if p.VCPUHour <= 0 || p.GBHour <= 0 || p.VCPUHour > 10 || p.GBHour > 1 {
				return nil, fmt.Errorf("%s: prices must be positive USD per hour (vcpu_hour, gb_hour)", region)
			}
		}
	}
	if t.SpotFactor <= 0 || t.SpotFactor > 1 {
		return nil, fmt.Errorf("spot_factor %v: must be above 0 and at most 1", t.SpotFactor)
	}
	return &t, nil
}

// Capacity says where a service's tasks run.
type Capacity string

// Where tasks run.
const (
	Fargate     Capacity = "FARGATE"
	FargateSpot Capacity = "FARGATE_SPOT"
	EC2         Capacity = "EC2"
)

// Task is one task's size and where it runs.
type Task struct {
	Region   string
	Capacity Capacity
	ARM      bool
	// CPU in units (1024 = 1 vCPU), Memory in MiB.
	CPU, Memory int
}

// Estimate is a monthly cost change.
type Estimate struct {
	// USD is the change per month; Known is false when it cannot be priced (EC2, or a region the
	// table lacks), and Why says so.
	USD   float64
	Known bool
	Why   string
}

// String renders the estimate for a plan or a message: "+$14.60/month", or why there is none.
func (e Estimate) String() string {
	if !e.Known {
		return e.Why
	}
	sign := "+"
	if e.USD < 0 {
		sign = "-"
	}
	return fmt.Sprintf("%s$%.2f/month", sign, math.Abs(e.USD))
}

// Monthly is what one task costs per month, or why that is not known.
func (t *Table) Monthly(task Task) (float64, string) {
	switch task.Capacity {
	case EC2:
		return 0, "no direct cost on EC2 (instances are paid whatever the tasks use; check the cluster has room)"
	case Fargate, FargateSpot, "":
	default:
		return 0, fmt.Sprintf("no price for capacity %s", task.Capacity)
	}
	prices := t.Fargate
	if task.ARM && t.FargateARM != nil {
		prices = t.FargateARM
	}
	p, ok := prices[task.Region]
	if !ok {
		return 0, fmt.Sprintf("no Fargate price for %s in the price table (MEDIC_PRICES)", task.Region)
	}
	usd := (float64(task.CPU)/1024*p.VCPUHour + float64(task.Memory)/1024*p.GBHour) * HoursPerMonth
	if task.Capacity == FargateSpot {
		usd *= t.SpotFactor
	}
	return usd, ""
}

// Change is the monthly cost change of going from tasks of size from to tasks of size to.
func (t *Table) Change(from Task, fromCount int, to Task, toCount int) Estimate {
	a, why := t.Monthly(from)
	if why != "" {
		return Estimate{Why: why}
	}
	b, why := t.Monthly(to)
	if why != "" {
		return Estimate{Why: why}
	}
	return Estimate{USD: b*float64(toCount) - a*float64(fromCount), Known: true}
}
