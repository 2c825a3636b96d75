package pipeline

import (
	"testing"

	"github.com/kinsight/kinsight/internal/agent/buffer"
)

// TestDispatchOrder: an item of a busy stream waits behind it and comes
// out in push order; other streams are not held up; a drained stream is
// idle again.
func TestDispatchOrder(t *testing.T) {
	d := &dispatch{busy: map[string][]sendItem{}}
	it := func(id uint64, key string) sendItem { return sendItem{Item: buffer.Item{ID: id}, key: key} }
	if d.queue(it(1, "a")) {
		t.Fatal("first item of stream a queued; want it handed to a worker")
	}
	if d.queue(it(2, "b")) {
		t.Fatal("stream b waits behind stream a")
	}
	for _, id := range []uint64{3, 4} {
		if !d.queue(it(id, "a")) {
			t.Fatalf("item %d of busy stream a not queued behind it", id)
		}
	}
	for _, want := range []uint64{3, 4} {
		got, ok := d.next("a")
		if !ok || got.ID != want {
			t.Fatalf("next(a) = %d, %v; want %d", got.ID, ok, want)
		}
	}
	if _, ok := d.next("a"); ok {
		t.Fatal("stream a has no more items")
	}
	if d.queue(it(5, "a")) {
		t.Fatal("stream a is idle again; its next item goes to a worker")
	}
	if _, ok := d.next("b"); ok {
		t.Fatal("stream b has nothing queued")
	}
	if len(d.busy) != 1 {
		t.Fatalf("busy streams = %v, want only a", d.busy)
	}
}
