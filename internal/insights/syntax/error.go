package syntax

import (
	"fmt"
	"unicode/utf8"
)

// Error is a syntax error at Pos. Line and Col (both 1-based, Col counted
// in characters) are derived from Pos for people; Pos is for
// queryCompileError.location.
type Error struct {
	Pos  Pos
	Line int
	Col  int
	Msg  string
}

func (e *Error) Error() string {
	return fmt.Sprintf("line %d:%d: %s", e.Line, e.Col, e.Msg)
}

// NewError returns an error at pos of query. The compiler uses it too, so
// that every error about a query looks the same.
func NewError(query string, pos Pos, msg string) *Error {
	p := int(pos)
	if p < 0 {
		p = 0
	}
	if p > len(query) {
		p = len(query)
	}
	line, lineStart := 1, 0
	for i := 0; i < p; i++ {
		if query[i] == '\n' {
			line++
			lineStart = i + 1
		}
	}
	return &Error{Pos: Pos(p), Line: line, Col: utf8.RuneCountInString(query[lineStart:p]) + 1, Msg: msg}
}
