package scenario

import (
	"runtime"
	"runtime/metrics"
	"sync"
	"time"
)

// heapObjects is the live-and-not-yet-swept heap, the figure that grows if something keeps
// per-event state in memory.
const heapObjects = "/memory/classes/heap/objects:bytes"

// heapWatch samples the process's heap while a run goes on. The scenarios run medic's stack,
// the fakes and the load generator in one process, so the figures are an upper bound for medic.
type heapWatch struct {
	stop chan struct{}
	wg   sync.WaitGroup
	peak uint64
}

// heapNow reads the heap; with gc, after a collection, so it is what is really retained.
func heapNow(gc bool) uint64 {
	if gc {
		runtime.GC()
	}
	s := []metrics.Sample{{Name: heapObjects}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// heapAllocated is the total ever allocated on the heap: the difference over a run is what it
// allocated, the load generator's share included.
func heapAllocated() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

func watchHeap(every time.Duration) *heapWatch {
	h := &heapWatch{stop: make(chan struct{}), peak: heapNow(false)}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-h.stop:
				return
			case <-t.C:
				h.peak = max(h.peak, heapNow(false))
			}
		}
	}()
	return h
}

// Stop ends the sampling and returns the highest heap seen.
func (h *heapWatch) Stop() uint64 {
	close(h.stop)
	h.wg.Wait()
	return max(h.peak, heapNow(false))
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }
