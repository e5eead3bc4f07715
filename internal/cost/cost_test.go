package cost_test

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecs-medic/ecs-medic/internal/cost"
)

func near(a, b float64) bool { return math.Abs(a-b) < 0.005 }

func TestMonthly(t *testing.T) {
	tbl := cost.Default()
	for _, tc := range []struct {
		name string
		task cost.Task
		usd  float64
		why  string
	}{
		// (0.25 × 0.04048 + 0.5 × 0.004445) × 730
		{"fargate 256/512 in us-east-1", cost.Task{Region: "us-east-1", Capacity: cost.Fargate, CPU: 256, Memory: 512}, 9.0101, ""},
		{"launch type unknown is Fargate", cost.Task{Region: "us-east-1", CPU: 1024, Memory: 2048}, (0.04048 + 2*0.004445) * 730, ""},
		{"ARM is cheaper", cost.Task{Region: "us-east-1", Capacity: cost.Fargate, ARM: true, CPU: 1024, Memory: 2048}, (0.03238 + 2*0.00356) * 730, ""},
		{"spot", cost.Task{Region: "us-east-1", Capacity: cost.FargateSpot, CPU: 256, Memory: 512}, 9.0101 * 0.3, ""},
		{"EC2 has no direct cost", cost.Task{Region: "us-east-1", Capacity: cost.EC2, CPU: 256, Memory: 512}, 0, "EC2"},
		{"a region without a price", cost.Task{Region: "ap-south-2", Capacity: cost.Fargate, CPU: 256, Memory: 512}, 0, "ap-south-2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			usd, why := tbl.Monthly(tc.task)
			if !near(usd, tc.usd) || (tc.why == "") != (why == "") || !strings.Contains(why, tc.why) {
				t.Errorf("got %.4f %q, want %.4f %q", usd, why, tc.usd, tc.why)
			}
		})
	}
}

func TestChange(t *testing.T) {
	tbl := cost.Default()
	small := cost.Task{Region: "us-east-1", Capacity: cost.Fargate, CPU: 256, Memory: 512}
	big := small
	big.Memory = 1024
	// Four tasks from 512 to 1024 MiB: 4 × 0.5 GB × 0.004445 × 730.
	if e := tbl.Change(small, 4, big, 4); !e.Known || !near(e.USD, 6.4897) || e.String() != "+$6.49/month" {
		t.Errorf("raise memory: %+v %s", e, e)
	}
	if e := tbl.Change(small, 4, small, 6); !near(e.USD, 2*9.0101) {
		t.Errorf("scale out: %+v", e)
	}
	if e := tbl.Change(big, 4, small, 4); e.USD >= 0 || !strings.HasPrefix(e.String(), "-$") {
		t.Errorf("a cheaper change: %s", e)
	}
	ec2 := small
	ec2.Capacity = cost.EC2
	if e := tbl.Change(ec2, 4, ec2, 6); e.Known || !strings.Contains(e.String(), "EC2") {
		t.Errorf("EC2: %s", e)
	}
}

func TestLoadOperatorTable(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	own := write("prices.yaml", "source: negotiated\nfargate:\n  ap-south-2: { vcpu_hour: 0.03, gb_hour: 0.003 }\nspot_factor: 0.5\n")
	tbl, err := cost.Load(own)
	if err != nil {
		t.Fatal(err)
	}
	if usd, why := tbl.Monthly(cost.Task{Region: "ap-south-2", Capacity: cost.FargateSpot, CPU: 1024, Memory: 1024}); why != "" || !near(usd, (0.03+0.003)*730*0.5) {
		t.Errorf("own table: %.4f %q", usd, why)
	}
	for name, body := range map[string]string{
		"unknown key": "fargate:\n  us-east-1: { vcpu_hour: 0.04, gb_hour: 0.004 }\nspot_factor: 0.3\nsurcharge: 2\n",
		"no prices":   "spot_factor: 0.3\n",
		"negative":    "fargate:\n  us-east-1: { vcpu_hour: -1, gb_hour: 0.004 }\nspot_factor: 0.3\n",
		"bad spot":    "fargate:\n  us-east-1: { vcpu_hour: 0.04, gb_hour: 0.004 }\nspot_factor: 3\n",
		"not yaml":    "{{{",
	} {
		if _, err := cost.Load(write(strings.ReplaceAll(name, " ", "-")+".yaml", body)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := cost.Load(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Error("a missing file was accepted")
	}
	if _, err := cost.Load(dir); err == nil {
		t.Error("a folder was accepted")
	}
}
