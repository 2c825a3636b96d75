package main

import (
	"math"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// decodeWriteRequest is a minimal remote-write 1.0 decoder for the test:
// labels and (value, timestamp) of every series.
func decodeWriteRequest(t *testing.T, b []byte) (labels [][][2]string, vals []float64, ts []int64) {
	t.Helper()
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 || num != 1 || typ != protowire.BytesType {
			t.Fatalf("bad WriteRequest tag %d/%d", num, typ)
		}
		b = b[n:]
		series, n := protowire.ConsumeBytes(b)
		b = b[n:]
		var ls [][2]string
		for len(series) > 0 {
			num, _, n := protowire.ConsumeTag(series)
			series = series[n:]
			msg, n := protowire.ConsumeBytes(series)
			if n < 0 {
				t.Fatal("bad TimeSeries field")
			}
			series = series[n:]
			switch num {
			case 1:
				var l [2]string
				for len(msg) > 0 {
					f, _, n := protowire.ConsumeTag(msg)
					msg = msg[n:]
					s, n := protowire.ConsumeString(msg)
					msg = msg[n:]
					l[f-1] = s
				}
				ls = append(ls, l)
			case 2:
				for len(msg) > 0 {
					f, _, n := protowire.ConsumeTag(msg)
					msg = msg[n:]
					if f == 1 {
						v, n := protowire.ConsumeFixed64(msg)
						msg = msg[n:]
						vals = append(vals, math.Float64frombits(v))
					} else {
						v, n := protowire.ConsumeVarint(msg)
						msg = msg[n:]
						ts = append(ts, int64(v))
					}
				}
			}
		}
		labels = append(labels, ls)
	}
	return labels, vals, ts
}

func TestRWTemplate(t *testing.T) {
	var series [][][2]string
	for i := 0; i < 5; i++ {
		series = append(series, ingestLabels(i*7919))
	}
	tmpl := newRWTemplate(series)
	for round := int64(0); round < 3; round++ {
		for i := range series {
			if err := tmpl.set(i, 1_795_000_000_000+round*15_000+int64(i), float64(i)+float64(round)/4); err != nil {
				t.Fatal(err)
			}
		}
		ls, vals, ts := decodeWriteRequest(t, tmpl.raw)
		if len(ls) != len(series) || len(vals) != len(series) || len(ts) != len(series) {
			t.Fatalf("decoded %d series, %d values, %d timestamps; want %d", len(ls), len(vals), len(ts), len(series))
		}
		for i := range series {
			if len(ls[i]) != len(series[i]) || ls[i][0] != series[i][0] || ls[i][4] != [2]string{"__name__", "container_metric"} {
				t.Errorf("series %d labels %v, want %v", i, ls[i], series[i])
			}
			if vals[i] != float64(i)+float64(round)/4 || ts[i] != 1_795_000_000_000+round*15_000+int64(i) {
				t.Errorf("round %d series %d: %v@%d", round, i, vals[i], ts[i])
			}
		}
	}
	if err := tmpl.set(0, 1_000, 1); err == nil {
		t.Error("a timestamp that is not a 6-byte varint was accepted")
	}
}

func TestIngestLabelsSorted(t *testing.T) {
	for _, ls := range [][][2]string{ingestLabels(123456), queryLabels(99999)} {
		for i := 1; i < len(ls); i++ {
			if ls[i-1][0] >= ls[i][0] {
				t.Errorf("labels not sorted by name: %v", ls)
			}
		}
	}
}
