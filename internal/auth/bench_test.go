package auth

import (
	"bytes"
	"strconv"
	"testing"
)

// BenchmarkVerify measures Verify on header-signed POSTs. For large bodies
// the SHA-256 of the body dominates, so MB/s is the number to read; the
// small case shows the fixed cost (parsing, canonical request, two HMACs
// with a cached signing key).
func BenchmarkVerify(b *testing.B) {
	for _, size := range []int{1 << 10, 1 << 20} {
		b.Run(strconv.Itoa(size)+"B", func(b *testing.B) {
			body := bytes.Repeat([]byte(`{"timestamp":1741964966000,"message":"x"},`), size/42+1)[:size]
			r, got := sign(b, signSpec{method: "POST", url: "http://localhost:8470/", body: body, headers: [][2]string{
				{"Content-Type", "application/x-amz-json-1.1"}, {"X-Amz-Target", "Logs_20140328.PutLogEvents"}}})
			v := newTestVerifier(signTime)
			if _, err := v.Verify(r, got); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := v.Verify(r, got); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
