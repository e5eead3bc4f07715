package fakes

import (
	"context"
	"testing"
	"time"
)

func TestFaultsOrderAndScope(t *testing.T) {
	var f Faults
	ctx := context.Background()
	f.FailNext(2, Fault{Status: 500, Op: "UpdateService"})
	f.Fail(Fault{Status: 429})
	steps := []struct {
		op     string
		failed bool
		status int
	}{
		{"DescribeServices", true, 429}, // the op-scoped fault skips it, the unscoped one takes it
		{"DescribeServices", false, 0},
		{"UpdateService", true, 500},
		{"UpdateService", true, 500},
		{"UpdateService", false, 0},
	}
	for i, s := range steps {
		got, failed := f.Take(ctx, s.op)
		if failed != s.failed || got.Status != s.status {
			t.Errorf("call %d (%s): %v %d, want %v %d", i, s.op, failed, got.Status, s.failed, s.status)
		}
	}
	f.SetDown(true)
	if got, failed := f.Take(ctx, "x"); !failed || got != Down {
		t.Errorf("down: %v %+v", failed, got)
	}
	f.FailNext(1<<30, Fault{Status: 400, Code: "ThrottlingException"})
	f.Clear()
	if _, failed := f.Take(ctx, "x"); failed {
		t.Error("a fault outlived Clear")
	}
	f.FailNext(5, Fault{Status: 500, Op: "a"})
	f.FailNext(0, Fault{Op: "a"})
	if _, failed := f.Take(ctx, "a"); failed {
		t.Error("FailNext(0) kept the op's faults")
	}
}

// A delayed call gives up waiting when its request ends; no real time passes here.
func TestFaultsDelayEndsWithContext(t *testing.T) {
	var f Faults
	f.SetDelay(time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, failed := f.Take(ctx, "x"); failed {
		t.Error("a delay is not a failure")
	}
}

func TestRecorder(t *testing.T) {
	var r Recorder[int]
	r.Record("a", 1)
	r.Record("b", 2)
	r.Record("a", 3)
	if got := r.Calls("a"); len(got) != 2 || got[0] != 1 || got[1] != 3 {
		t.Errorf("Calls(a) = %v", got)
	}
	if got := r.Calls(""); len(got) != 3 {
		t.Errorf("Calls() = %v", got)
	}
}
