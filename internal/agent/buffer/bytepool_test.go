package buffer

import "testing"

// TestBytePool: Get always has room for n and wastes at most a quarter
// on a new slice, three quarters on a recycled one (from the next two
// classes up); a slice given back comes out only for requests it can hold.
func TestBytePool(t *testing.T) {
	var p BytePool
	for n := 0; n <= 5<<20; n += 1 + n/7 {
		b := p.Get(n)
		if len(b) != 0 || cap(b) < n {
			t.Fatalf("Get(%d): len %d cap %d", n, len(b), cap(b))
		}
		if n > 4096 && n <= 4<<20 && cap(b) > n+n*3/4 {
			t.Fatalf("Get(%d): cap %d wastes more than three quarters", n, cap(b))
		}
		p.Put(append(b, 'x'))
	}
	var fresh BytePool
	for n := 4097; n <= 4<<20; n += 1 + n/7 {
		if b := fresh.Get(n); cap(b) > n+n/4 {
			t.Fatalf("Get(%d) of an empty pool: cap %d wastes more than a quarter", n, cap(b))
		}
	}
	// A slice of the class above or the one above that serves a request
	// its own class has none for; three classes up does not.
	for _, tt := range []struct {
		put, get int
		hit      bool
	}{{80 << 10, 64 << 10, true}, {96 << 10, 64 << 10, true}, {112 << 10, 64 << 10, false}} {
		// sync.Pool may drop what is put (a collection, or at random
		// under -race): one reuse in ten tries counts.
		hit := false
		for range 10 {
			var q BytePool
			q.Put(make([]byte, 0, tt.put))
			hit = hit || cap(q.Get(tt.get)) == tt.put
		}
		if hit != tt.hit {
			t.Errorf("Put(cap %d), Get(%d): reused %v, want %v", tt.put, tt.get, hit, tt.hit)
		}
	}
	for c := 4096; c < 5<<20; c += 1 + c/5 {
		p.Put(make([]byte, 1, c))
		for _, n := range []int{c - 1, c, c + 1, c + c/4} {
			if b := p.Get(n); cap(b) < n {
				t.Fatalf("after Put(cap %d): Get(%d) has cap %d", c, n, cap(b))
			}
		}
	}
	// Classes are consistent: a fresh slice of a class goes back to it.
	for n := 4097; n < 4<<20; n = n*9/8 + 1 {
		i, size, ok := classFor(n)
		j, ok2 := classOf(size)
		if !ok || !ok2 || i != j {
			t.Fatalf("classFor(%d) = %d, %d, %v; classOf(%d) = %d, %v", n, i, size, ok, size, j, ok2)
		}
	}
}
