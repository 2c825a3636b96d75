package tail

import "testing"

func TestHeadBytesMatch(t *testing.T) {
	for _, c := range []struct{ a, b string }{{"", ""}, {"", "x"}, {"x", ""}, {"abc", "ab"}, {"ab", "abc"}, {"abc", "abd"}, {"abd", "ab"}, {"ab", "ax"}} {
		if got, want := headBytesMatch([]byte(c.a), c.b), headsMatch(c.a, c.b); got != want {
			t.Errorf("headBytesMatch(%q, %q) = %v, headsMatch says %v", c.a, c.b, got, want)
		}
	}
}
