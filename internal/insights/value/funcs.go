package value

import (
	"fmt"
	"math"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Func is a scalar function. It gets its evaluated arguments, already
// checked for count by Lookup, and returns null for arguments it cannot
// use rather than failing the query, as Insights does for a missing field.
type Func func(args []Value) (Value, error)

// funcSpec is one scalar function's name as AWS spells it, its arity
// (max < 0: variadic) and implementation.
type funcSpec struct {
	name     string
	min, max int
	fn       Func
}

// lookupSpec finds a function by its name, case-insensitively (the query
// language is; `fromMillis` and `frommillis` are the same function).
// A switch rather than a package-level map keeps the package free of
// mutable globals.
func lookupSpec(name string) (funcSpec, bool) {
	switch strings.ToLower(name) {
	// General functions.
	case "ispresent":
		return funcSpec{"ispresent", 1, 1, fnIsPresent}, true
	case "coalesce":
		return funcSpec{"coalesce", 1, -1, fnCoalesce}, true
	// String functions.
	case "concat":
		return funcSpec{"concat", 1, -1, fnConcat}, true
	case "strlen":
		return funcSpec{"strlen", 1, 1, fnStrlen}, true
	case "toupper":
		return funcSpec{"toupper", 1, 1, stringFn(strings.ToUpper)}, true
	case "tolower":
		return funcSpec{"tolower", 1, 1, stringFn(strings.ToLower)}, true
	case "trim":
		return funcSpec{"trim", 1, 2, trimFn(strings.TrimFunc, strings.Trim)}, true
	case "ltrim":
		return funcSpec{"ltrim", 1, 2, trimFn(strings.TrimLeftFunc, strings.TrimLeft)}, true
	case "rtrim":
		return funcSpec{"rtrim", 1, 2, trimFn(strings.TrimRightFunc, strings.TrimRight)}, true
	case "substr":
		return funcSpec{"substr", 2, 3, fnSubstr}, true
	case "replace":
		return funcSpec{"replace", 3, 3, fnReplace}, true
	case "strcontains":
		return funcSpec{"strcontains", 2, 2, fnStrContains}, true
	case "isempty":
		return funcSpec{"isempty", 1, 1, fnIsEmpty}, true
	case "isblank":
		return funcSpec{"isblank", 1, 1, fnIsBlank}, true
	// Numeric functions.
	case "abs":
		return funcSpec{"abs", 1, 1, mathFn(math.Abs)}, true
	case "ceil":
		return funcSpec{"ceil", 1, 1, mathFn(math.Ceil)}, true
	case "floor":
		return funcSpec{"floor", 1, 1, mathFn(math.Floor)}, true
	case "log":
		return funcSpec{"log", 1, 1, mathFn(math.Log)}, true
	case "sqrt":
		return funcSpec{"sqrt", 1, 1, mathFn(math.Sqrt)}, true
	case "greatest":
		return funcSpec{"greatest", 1, -1, extremeFn(1)}, true
	case "least":
		return funcSpec{"least", 1, -1, extremeFn(-1)}, true
	// Datetime functions.
	case "bin":
		return funcSpec{"bin", 2, 2, dateFn(Period.Floor)}, true
	case "datefloor":
		return funcSpec{"datefloor", 2, 2, dateFn(Period.Floor)}, true
	case "dateceil":
		return funcSpec{"dateceil", 2, 2, dateFn(Period.Ceil)}, true
	case "frommillis":
		return funcSpec{"fromMillis", 1, 1, fnFromMillis}, true
	case "tomillis":
		return funcSpec{"toMillis", 1, 1, fnToMillis}, true
	// IP address string functions.
	case "isvalidip":
		return funcSpec{"isValidIp", 1, 1, ipFn(ipAny)}, true
	case "isvalidipv4":
		return funcSpec{"isValidIpV4", 1, 1, ipFn(ipV4)}, true
	case "isvalidipv6":
		return funcSpec{"isValidIpV6", 1, 1, ipFn(ipV6)}, true
	case "isipinsubnet":
		return funcSpec{"isIpInSubnet", 2, 2, subnetFn(ipAny)}, true
	case "isipv4insubnet":
		return funcSpec{"isIpv4InSubnet", 2, 2, subnetFn(ipV4)}, true
	case "isipv6insubnet":
		return funcSpec{"isIpv6InSubnet", 2, 2, subnetFn(ipV6)}, true
	}
	return funcSpec{}, false
}

// Lookup returns the scalar function name called with nargs arguments.
// The error names the function and is meant for the user
// (MalformedQueryException): "unknown function 'fo'", "strlen takes 1
// argument, got 2".
//
// bin is the scalar form bin(timestamp, period): the executor rewrites the
// query's bin(5m) to bin(@timestamp, 5m). Aggregates are not scalar
// functions; Lookup reports them so, and NewAgg builds them.
func Lookup(name string, nargs int) (Func, error) {
	s, ok := lookupSpec(name)
	if !ok {
		if IsAggregate(name) {
			return nil, fmt.Errorf("%s is an aggregate function: use it in stats", name)
		}
		return nil, fmt.Errorf("unknown function '%s'", name)
	}
	if err := checkArity(s.name, s.min, s.max, nargs); err != nil {
		return nil, err
	}
	return s.fn, nil
}

func checkArity(name string, lo, hi, n int) error {
	if n >= lo && (hi < 0 || n <= hi) {
		return nil
	}
	switch {
	case hi < 0:
		return fmt.Errorf("%s takes at least %s, got %d", name, plural(lo), n)
	case lo == hi:
		return fmt.Errorf("%s takes %s, got %d", name, plural(lo), n)
	case hi == lo+1:
		return fmt.Errorf("%s takes %d or %d arguments, got %d", name, lo, hi, n)
	}
	return fmt.Errorf("%s takes %d to %d arguments, got %d", name, lo, hi, n)
}

func plural(n int) string {
	if n == 1 {
		return "1 argument"
	}
	return fmt.Sprintf("%d arguments", n)
}

func fnIsPresent(a []Value) (Value, error) { return Bool(!a[0].IsNull()), nil }

// fnCoalesce returns the first non-null argument (AWS: "the first non-null
// value from the list").
func fnCoalesce(a []Value) (Value, error) {
	for _, v := range a {
		if !v.IsNull() {
			return v, nil
		}
	}
	return Null(), nil
}

// fnConcat joins the arguments' printed forms; a missing field adds
// nothing, and only when every argument is missing is the result null.
func fnConcat(a []Value) (Value, error) {
	var b strings.Builder
	found := false
	for _, v := range a {
		if v.IsNull() {
			continue
		}
		found = true
		b.WriteString(v.String())
	}
	if !found {
		return Null(), nil
	}
	return Str(b.String()), nil
}

// text is a string argument: any non-null value in its printed form
// (strlen(404) is 3), or false for null.
func text(v Value) (string, bool) {
	if v.IsNull() {
		return "", false
	}
	if v.kind == KindString {
		return v.str, true
	}
	return v.String(), true
}

// fnStrlen counts Unicode code points, not bytes.
func fnStrlen(a []Value) (Value, error) {
	s, ok := text(a[0])
	if !ok {
		return Null(), nil
	}
	return Int(int64(utf8.RuneCountInString(s))), nil
}

func stringFn(f func(string) string) Func {
	return func(a []Value) (Value, error) {
		s, ok := text(a[0])
		if !ok {
			return Null(), nil
		}
		return Str(f(s)), nil
	}
}

// trimFn removes white space, or with a second argument every character
// of that set (AWS: trim(str, trimChars)), from one or both ends.
func trimFn(byFunc func(string, func(rune) bool) string, bySet func(string, string) string) Func {
	return func(a []Value) (Value, error) {
		s, ok := text(a[0])
		if !ok {
			return Null(), nil
		}
		if len(a) == 1 {
			return Str(byFunc(s, unicode.IsSpace)), nil
		}
		set, ok := text(a[1])
		if !ok {
			return Null(), nil
		}
		return Str(bySet(s, set)), nil
	}
}

// fnSubstr is substr(str, start [, length]) with a 0-based start counted
// in code points (AWS: substr("xyZfooxyZ", 3, 3) is "foo"). A negative
// start counts as 0; a start past the end, or a negative length, gives "".
func fnSubstr(a []Value) (Value, error) {
	s, ok := text(a[0])
	if !ok {
		return Null(), nil
	}
	start, ok := a[1].AsNumber()
	if !ok {
		return Null(), nil
	}
	runes := []rune(s)
	from := clampIndex(start, len(runes))
	to := len(runes)
	if len(a) == 3 {
		n, ok := a[2].AsNumber()
		if !ok {
			return Null(), nil
		}
		if n < 0 {
			n = 0
		}
		to = clampIndex(float64(from)+math.Floor(n), len(runes))
	}
	return Str(string(runes[from:to])), nil
}

func clampIndex(f float64, n int) int {
	f = math.Floor(f)
	switch {
	case f < 0:
		return 0
	case f > float64(n):
		return n
	}
	return int(f)
}

// fnReplace replaces every occurrence (AWS: "replaces all instances"). An
// empty search string matches nothing, rather than inserting between
// every character as strings.ReplaceAll would.
func fnReplace(a []Value) (Value, error) {
	s, ok := text(a[0])
	if !ok {
		return Null(), nil
	}
	old, ok1 := text(a[1])
	repl, ok2 := text(a[2])
	if !ok1 || !ok2 {
		return Null(), nil
	}
	if old == "" {
		return Str(s), nil
	}
	return Str(strings.ReplaceAll(s, old, repl)), nil
}

// fnStrContains returns the number 1 or 0 (AWS documents a number, which
// is what makes stats sum(strcontains(…)) work). A missing field contains
// nothing.
func fnStrContains(a []Value) (Value, error) {
	sub, ok := text(a[1])
	if !ok {
		return Null(), nil
	}
	s, ok := text(a[0])
	if !ok {
		return Int(0), nil
	}
	return boolInt(strings.Contains(s, sub)), nil
}

// fnIsEmpty is 1 when the field is missing or the empty string (AWS
// documents a number result).
func fnIsEmpty(a []Value) (Value, error) {
	s, ok := text(a[0])
	return boolInt(!ok || s == ""), nil
}

// fnIsBlank is 1 when the field is missing, empty or only white space.
func fnIsBlank(a []Value) (Value, error) {
	s, ok := text(a[0])
	return boolInt(!ok || strings.TrimFunc(s, unicode.IsSpace) == ""), nil
}

func boolInt(b bool) Value {
	if b {
		return Int(1)
	}
	return Int(0)
}

func mathFn(f func(float64) float64) Func {
	return func(a []Value) (Value, error) {
		x, ok := a[0].AsNumber()
		if !ok {
			return Null(), nil
		}
		return Num(f(x)), nil
	}
}

// extremeFn is greatest (sign 1) and least (sign -1) over the arguments
// that are numbers; the others are skipped, and null results only when
// none is a number.
func extremeFn(sign int) Func {
	return func(a []Value) (Value, error) {
		best, found := 0.0, false
		for _, v := range a {
			x, ok := v.AsNumber()
			if !ok {
				continue
			}
			if !found || (sign > 0 && x > best) || (sign < 0 && x < best) {
				best, found = x, true
			}
		}
		if !found {
			return Null(), nil
		}
		return Num(best), nil
	}
}

// dateFn is bin/datefloor/dateceil(timestamp, period): the timestamp may
// be a Time, epoch milliseconds or a date string; the period a duration
// literal, a string such as "1h", or milliseconds. The result is a Time.
func dateFn(round func(Period, int64) int64) Func {
	return func(a []Value) (Value, error) {
		ms, ok := a[0].AsTime()
		if !ok {
			return Null(), nil
		}
		p, ok := periodOf(a[1])
		if !ok {
			return Null(), nil
		}
		return Time(round(p, ms)), nil
	}
}

// fnFromMillis interprets a number as epoch milliseconds.
func fnFromMillis(a []Value) (Value, error) {
	if a[0].kind == KindTime {
		return a[0], nil
	}
	x, ok := a[0].AsNumber()
	if !ok || math.Abs(x) > 1<<62 {
		return Null(), nil
	}
	return Time(int64(math.Floor(x))), nil
}

// fnToMillis turns a timestamp into its epoch milliseconds.
func fnToMillis(a []Value) (Value, error) {
	ms, ok := a[0].AsTime()
	if !ok {
		return Null(), nil
	}
	return Int(ms), nil
}
