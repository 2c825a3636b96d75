package value

import "strings"

// Like is `field like "text"`: AWS matches the literal anywhere in the
// value, case-sensitively, with no wildcard characters (a glob needs the
// regex form `like /…/`). A missing field matches nothing; other kinds are
// matched in their printed form, so `status like "40"` finds 404.
func Like(v Value, substr string) bool {
	s, ok := text(v)
	if !ok {
		return false
	}
	return strings.Contains(s, substr)
}

// In is `field in [a, b, …]`: true when v equals one of the list by Equal,
// so "200" in [200, 404] holds. A missing field is in no list.
func In(v Value, list []Value) bool {
	if v.IsNull() {
		return false
	}
	for _, x := range list {
		if Equal(v, x) {
			return true
		}
	}
	return false
}
