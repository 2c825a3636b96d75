package pipeline

import (
	"testing"

	"github.com/kinsight/kinsight/internal/agent/output/cloudwatch"
)

// TestPayloadPool: get always returns room for n, and a buffer put back is
// only handed out for requests it can hold.
func TestPayloadPool(t *testing.T) {
	var pp payloadPool
	for _, n := range []int{0, 1, 4095, 4096, 4097, 100_000, 1 << 22, 1<<22 + 1, 5 << 20} {
		b := pp.get(n)
		if len(b) != 0 || cap(b) < n {
			t.Fatalf("get(%d): len %d cap %d", n, len(b), cap(b))
		}
		pp.put(append(b, 'x'))
		if b := pp.get(n); len(b) != 0 || cap(b) < n {
			t.Fatalf("get(%d) after put: len %d cap %d", n, len(b), cap(b))
		}
	}
	// A grown buffer whose capacity is not a power of two goes to the
	// class it covers, so it never comes back too small.
	pp.put(make([]byte, 10, 6000))
	for range 10 {
		if b := pp.get(6000); cap(b) < 6000 {
			t.Fatalf("get(6000): cap %d", cap(b))
		}
		if b := pp.get(8192); cap(b) < 8192 {
			t.Fatalf("get(8192): cap %d", cap(b))
		}
	}
	evs := pp.getEvents()
	evs = append(evs, cloudwatch.Event{Message: "kept alive?"})
	pp.putEvents(evs)
	if got := pp.getEvents(); len(got) != 0 || (cap(got) > 0 && got[:1][0].Message != "") {
		t.Fatalf("events from the pool: %d, first %+v", len(got), got[:min(1, cap(got))])
	}
}
