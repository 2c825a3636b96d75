package value

import (
	"strconv"
	"testing"
)

func BenchmarkCompare(b *testing.B) {
	cases := []struct {
		name string
		a, c Value
	}{
		{"numbers", Int(12), Num(13.5)},
		{"numeric_string", Str("12"), Int(13)},
		{"strings", Str("kube-system/coredns-abc"), Str("kube-system/coredns-abd")},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Compare(tc.a, tc.c)
			}
		})
	}
}

func benchAgg(b *testing.B, name string, nargs int) {
	vals := make([]Value, 1024)
	for i := range vals {
		vals[i] = Int(int64(i * 7 % 1000))
	}
	a, err := NewAgg(name, nil, nargs)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(vals)) * 8)
	for b.Loop() {
		for _, v := range vals {
			a.Add(v)
		}
	}
	_ = a.Result()
}

func BenchmarkCount(b *testing.B) { benchAgg(b, "count", 0) }
func BenchmarkSum(b *testing.B)   { benchAgg(b, "sum", 1) }
func BenchmarkAvg(b *testing.B)   { benchAgg(b, "avg", 1) }

func BenchmarkSumNumericStrings(b *testing.B) {
	vals := make([]Value, 1024)
	for i := range vals {
		vals[i] = Str(strconv.Itoa(i))
	}
	a, _ := NewAgg("sum", nil, 1)
	b.ReportAllocs()
	for b.Loop() {
		for _, v := range vals {
			a.Add(v)
		}
	}
}

func BenchmarkFromJSONNumber(b *testing.B) {
	raw := []byte("123456")
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		FromJSON(raw)
	}
}
