package value

import "math"

// Arithmetic for the executor's + - * / % ^ operators. AWS documents that
// they "accept numeric data types and return numeric results"; kinsight
// coerces operands with AsNumber (so a JSON "12" adds like 12) and
// propagates null: a missing or non-numeric operand gives null, and so do
// results that are not finite (x/0, 0^-1).

// Add is a + b. A timestamp plus a fixed duration stays a timestamp
// (@timestamp + 5m); otherwise both sides are coerced to numbers.
func Add(a, b Value) Value {
	if a.kind == KindTime && b.kind == KindDuration {
		return shiftTime(a, b, 1)
	}
	if a.kind == KindDuration && b.kind == KindTime {
		return shiftTime(b, a, 1)
	}
	return numeric(a, b, func(x, y float64) float64 { return x + y })
}

// Sub is a - b. A timestamp minus a fixed duration is a timestamp; two
// timestamps subtract to milliseconds.
func Sub(a, b Value) Value {
	if a.kind == KindTime && b.kind == KindDuration {
		return shiftTime(a, b, -1)
	}
	return numeric(a, b, func(x, y float64) float64 { return x - y })
}

// Mul is a * b.
func Mul(a, b Value) Value { return numeric(a, b, func(x, y float64) float64 { return x * y }) }

// Div is a / b in floating point (AWS: 5 / 2 = 2.5); division by zero is null.
func Div(a, b Value) Value { return numeric(a, b, func(x, y float64) float64 { return x / y }) }

// Mod is a % b with the sign of a, as in AWS's example 10 % 3 = 1; modulo
// zero is null.
func Mod(a, b Value) Value { return numeric(a, b, math.Mod) }

// Pow is a ^ b (AWS: 2 ^ 3 = 8).
func Pow(a, b Value) Value { return numeric(a, b, math.Pow) }

// Neg is unary minus.
func Neg(a Value) Value {
	x, ok := a.AsNumber()
	if !ok {
		return Null()
	}
	return Num(-x)
}

func numeric(a, b Value, op func(x, y float64) float64) Value {
	x, ok := a.AsNumber()
	if !ok {
		return Null()
	}
	y, ok := b.AsNumber()
	if !ok {
		return Null()
	}
	return Num(op(x, y))
}

func shiftTime(t, d Value, sign int64) Value {
	p, ok := periodOf(d)
	if !ok {
		return Null()
	}
	if months := monthsPer(p.Unit); months != 0 {
		return Time(timeAddMonths(t.Millis(), int(sign*months*p.N)))
	}
	return Time(t.Millis() + sign*unitMillis(p.Unit)*p.N)
}
