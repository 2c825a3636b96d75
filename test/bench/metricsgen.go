package main

import (
	"encoding/binary"
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// rwTemplate is a remote-write 1.0 WriteRequest for a fixed set of series
// with one sample each, encoded once; every round patches the samples'
// values and timestamps in place and snappy-compresses the result, so the
// load generator spends its CPU on compression only, not on re-encoding a
// million label sets ten times. It works because every sample has the same
// size: the value is a fixed64, and a millisecond timestamp between 2^35
// (1971) and 2^42 (2109) is always a 6-byte varint.
type rwTemplate struct {
	raw    []byte
	valOff []int // offset of each series' 8 value bytes
	tsOff  []int // offset of each series' 6 timestamp bytes
}

const tsVarintLen = 6

// newRWTemplate encodes series (label pairs, any order; the protocol wants
// them sorted by name, so they are given sorted) with placeholder samples.
func newRWTemplate(series [][][2]string) *rwTemplate {
	t := &rwTemplate{valOff: make([]int, len(series)), tsOff: make([]int, len(series))}
	var ts, lb []byte
	for i, labels := range series {
		ts = ts[:0]
		for _, l := range labels {
			lb = lb[:0]
			lb = protowire.AppendTag(lb, 1, protowire.BytesType)
			lb = protowire.AppendString(lb, l[0])
			lb = protowire.AppendTag(lb, 2, protowire.BytesType)
			lb = protowire.AppendString(lb, l[1])
			ts = protowire.AppendTag(ts, 1, protowire.BytesType)
			ts = protowire.AppendBytes(ts, lb)
		}
		// Sample{1: double, 2: int64}: 1+8+1+6 bytes.
		ts = protowire.AppendTag(ts, 2, protowire.BytesType)
		ts = protowire.AppendVarint(ts, 16)
		valAt := len(ts) + 1
		ts = protowire.AppendTag(ts, 1, protowire.Fixed64Type)
		ts = protowire.AppendFixed64(ts, 0)
		ts = protowire.AppendTag(ts, 2, protowire.VarintType)
		tsAt := len(ts)
		ts = append(ts, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01) // 2^35, a 6-byte placeholder
		t.raw = protowire.AppendTag(t.raw, 1, protowire.BytesType)
		t.raw = protowire.AppendVarint(t.raw, uint64(len(ts)))
		base := len(t.raw)
		t.raw = append(t.raw, ts...)
		t.valOff[i] = base + valAt
		t.tsOff[i] = base + tsAt
	}
	return t
}

// set patches series i's sample.
func (t *rwTemplate) set(i int, ms int64, v float64) error {
	if protowire.SizeVarint(uint64(ms)) != tsVarintLen {
		return fmt.Errorf("timestamp %d does not encode in %d bytes", ms, tsVarintLen)
	}
	binary.LittleEndian.PutUint64(t.raw[t.valOff[i]:], math.Float64bits(v))
	protowire.AppendVarint(t.raw[t.tsOff[i]:t.tsOff[i]], uint64(ms))
	return nil
}

// mix is a cheap deterministic hash for generated values.
func mix(a, b uint64) uint64 {
	x := a*0x9E3779B97F4A7C15 ^ (b + 0x632BE59BD9B4E019)
	x ^= x >> 31
	x *= 0xBF58476D1CE4E5B9
	x ^= x >> 29
	return x
}

// ingestLabels are the label sets of the ingestion load: Container
// Insights–shaped names, 100 namespaces, 1,000 nodes, one pod per 10
// series, ten containers per pod.
func ingestLabels(i int) [][2]string {
	return [][2]string{
		{"ClusterName", "bench"},
		{"Namespace", fmt.Sprintf("ns-%02d", i%100)},
		{"NodeName", fmt.Sprintf("ip-10-0-%d-%d.ec2.internal", i/1000/256%256, i/1000%256)},
		{"PodName", fmt.Sprintf("app-%d-7d9f8c6b5-%05d", i%100, i/10)},
		{"__name__", "container_metric"},
		{"container", fmt.Sprintf("c%d", i%10)},
		{"instance", fmt.Sprintf("10.%d.%d.%d:9100", i/65536%256, i/256%256, i%256)},
		{"job", "bench"},
	}
}

// queryLabels are the label sets of the 24-hour query data: the counter x
// in 20 namespaces.
func queryLabels(i int) [][2]string {
	return [][2]string{
		{"Namespace", fmt.Sprintf("ns-%02d", i%20)},
		{"PodName", fmt.Sprintf("pod-%06d", i)},
		{"__name__", "x"},
		{"instance", fmt.Sprintf("10.1.%d.%d:8080", i/256%256, i%256)},
		{"job", "bench"},
	}
}
