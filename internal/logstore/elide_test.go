package logstore

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/kinsight/kinsight/internal/logstore/elide"
)

// randomMessage is one of the shapes a block may mix: JSON with the
// kubernetes object at the start, middle or end, with white space, escapes,
// duplicate or escaped keys, a differing object, or no object; non-JSON
// lines and invalid UTF-8.
func randomMessage(rng *rand.Rand, i int, kube string, shape int) string {
	log := fmt.Sprintf("line %d %s", i, strings.Repeat("z", rng.Intn(40)))
	switch rng.Intn(4) {
	case 0:
		log += `\"quoted\" \\ \u00e9 \n`
	case 1:
		log += "\xff\xfe"
	}
	k := `"kubernetes":` + kube
	switch shape {
	case 0:
		return `{"log":"` + log + `","stream":"stdout",` + k + `}`
	case 1:
		return `{` + k + `,"log":"` + log + `"}`
	case 2:
		return `{"log":"` + log + `",` + k + `,"level":"info"}`
	case 3:
		return ` { "log" : "` + log + `" , "kubernetes" :` + kube + ` } `
	case 4:
		return `{"log":"` + log + `",` + k + `,` + k + `}` // duplicate key
	case 5:
		return `{"log":"` + log + `","kubernetes":{"pod_name":"other-pod-with-a-long-name","namespace_name":"default-namespace"}}`
	case 6:
		return `{"log":"` + log + `"}` // no object
	case 7:
		return "plain text " + log
	case 8:
		return `{"log":"` + log + `","kube\u0072netes":` + kube + `}` // escaped key
	case 9:
		return `{"log":"` + log + `","kubernetes.pod_name":"x",` + k + `}` // dotted collision
	case 10:
		return ""
	}
	return `{"log":"` + log + `","arr":[` + kube + `],` + k + `}`
}

// TestElidedBlocksRoundTrip: whatever a block mixes, version 3 blocks give
// every message back byte for byte, read whole or as stored and restored;
// blocks whose messages all hold the same object store it once, and
// every other field of a stored message reads as in the original.
func TestElidedBlocksRoundTrip(t *testing.T) {
	c := testCodec(t)
	rng := rand.New(rand.NewSource(7))
	kubes := []string{
		`{"pod_name":"api-1-7c9d","namespace_name":"payments","labels":{"app":"api","tier":"backend"}}`,
		`{ "pod_name" : "db-0", "namespace_name" : "storage", "annotations" : {"a":"\"}{\""}, "ports":[1,2] }`,
	}
	var blocks [][]headEvent
	for b := range 120 {
		kube := kubes[b%2]
		n := 1 + rng.Intn(20)
		pure := b%3 != 0 // most blocks hold one shape with the same object
		base := rng.Intn(4)
		blocks = append(blocks, blockEvents(n, func(i int) string {
			shape := base
			if !pure {
				shape = rng.Intn(12)
			}
			return randomMessage(rng, i, kube, shape)
		}))
	}
	p := writeTestPart(t, c, 3, blocks...)
	elided := 0
	for bi, want := range blocks {
		db, err := p.readBlock(bi, c, false)
		if err != nil {
			t.Fatal(err)
		}
		checkBlock(t, db, want, true)
		if db.members != nil {
			t.Fatal("full read kept members")
		}
		st, err := p.readBlockAs(bi, c, formStored)
		if err != nil {
			t.Fatal(err)
		}
		if len(st.members) > 0 {
			elided++
			if !reflect.DeepEqual(st.consts[len(st.consts)-1], Constant{Name: "kubernetes", JSON: st.members[0].Value}) {
				t.Fatalf("block %d: constants %v", bi, st.consts)
			}
		}
		for i, e := range want {
			got, err := elide.Restore(nil, st.msgs[i], st.members)
			if len(st.members) == 0 {
				got, err = []byte(st.msgs[i]), nil
			}
			if err != nil || string(got) != e.msg {
				t.Fatalf("block %d event %d: restored %q, %v; want %q", bi, i, got, err, e.msg)
			}
			if len(st.members) == 0 {
				continue
			}
			// The stored message flattens to the original minus the
			// member's paths.
			var o, s any
			if err := json.Unmarshal([]byte(e.msg), &o); err != nil {
				t.Fatalf("elided a block holding invalid JSON %q", e.msg)
			}
			if err := json.Unmarshal([]byte(st.msgs[i]), &s); err != nil {
				t.Fatalf("stored message %q: %v", st.msgs[i], err)
			}
			fo, fs := map[string]any{}, map[string]any{}
			flattenAny("", o, fo)
			flattenAny("", s, fs)
			for k := range fo {
				if strings.HasPrefix(k, "kubernetes.") {
					delete(fo, k)
				}
			}
			if !reflect.DeepEqual(fo, fs) {
				t.Fatalf("stored %q flattens to %v, original %v", st.msgs[i], fs, fo)
			}
		}
		cols, err := p.readBlock(bi, c, true)
		if err != nil {
			t.Fatal(err)
		}
		checkBlock(t, cols, want, false)
	}
	if elided == 0 || elided == len(blocks) {
		t.Errorf("%d of %d blocks elided: the test should see both", elided, len(blocks))
	}
	t.Logf("%d of %d blocks elided", elided, len(blocks))
}

func TestElideMembers(t *testing.T) {
	long := `{"pod_name":"a-pod-name-long-enough","namespace_name":"payments-namespace"}`
	for _, tc := range []struct {
		name string
		msgs []string
		want []string
	}{
		{"same", []string{`{"log":"a","k":` + long + `}`, `{"k":` + long + `,"log":"b"}`}, []string{"k"}},
		{"short", []string{`{"log":"a","k":{"p":"x"}}`}, nil},
		{"differs", []string{`{"k":` + long + `}`, `{"k":` + strings.Replace(long, "a-pod", "b-pod", 1) + `}`}, nil},
		{"white space differs", []string{`{"k":` + long + `}`, `{"k":` + strings.Replace(long, ",", ", ", 1) + `}`}, nil},
		{"missing in one", []string{`{"k":` + long + `,"x":1}`, `{"x":1}`}, nil},
		{"twice in one", []string{`{"k":` + long + `}`, `{"k":` + long + `,"k":` + long + `}`}, nil},
		{"dotted collision in a later message", []string{`{"k":` + long + `,"x":1}`, `{"k":` + long + `,"x":1,"x":2}`}, nil},
		{"two members", []string{`{"k":` + long + `,"j":` + long + `}`}, []string{"k", "j"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			evs := blockEvents(len(tc.msgs), func(i int) string { return tc.msgs[i] })
			var got []string
			if blockConstants(evs) != nil {
				ms, _ := elideMembers(evs)
				for _, m := range ms {
					got = append(got, m.Key)
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("members %v, want %v", got, tc.want)
			}
		})
	}
}

// TestMergeVersions: a merge of version 2 and version 3 parts (blocks
// copied or re-encoded) gives version 3 blocks with every message as
// written, the version 2 ones elided too.
func TestMergeVersions(t *testing.T) {
	c := testCodec(t)
	kube := `{"pod_name":"api-1-7c9d","namespace_name":"payments","labels":{"app":"api"}}`
	b := blockEvents(30, func(i int) string { return fmt.Sprintf(`{"log":"line %d","kubernetes":%s}`, i, kube) })
	v2 := writeTestPart(t, c, 2, b, b[:5])
	v3 := writeTestPart(t, c, 3, b, b[:5])
	if v2.meta.Version != 2 || v3.meta.Version != 3 {
		t.Fatalf("versions %d %d", v2.meta.Version, v3.meta.Version)
	}
	// A version 2 part reads under this code, whole and columns only.
	db, err := v2.readBlockAs(0, c, formStored)
	if err != nil || db.members != nil {
		t.Fatalf("version 2 block: %v, members %v", err, db.members)
	}
	checkBlock(t, db, b, true)
	dir := t.TempDir()
	pw, err := newPartWriter(dir, 9, 0, c)
	if err != nil {
		t.Fatal(err)
	}
	for _, src := range []*part{v2, v3} {
		for i := range src.blocks {
			if err := pw.copyBlock(1, src, i); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := pw.finish(); err != nil {
		t.Fatal(err)
	}
	m, err := openPart(filepath.Join(dir, partFileName(9)))
	if err != nil {
		t.Fatal(err)
	}
	defer m.drop(false)
	if m.meta.Version != 3 {
		t.Fatalf("merged version %d", m.meta.Version)
	}
	for i, want := range [][]headEvent{b, b[:5], b, b[:5]} {
		db, err := m.readBlock(i, c, false)
		if err != nil {
			t.Fatal(err)
		}
		checkBlock(t, db, want, true)
		st, err := m.readBlockAs(i, c, formStored)
		if err != nil {
			t.Fatal(err)
		}
		if len(st.members) != 1 || st.members[0].Value != kube {
			t.Errorf("block %d: members %v", i, st.members)
		}
	}
}

// FuzzElidedBlock: any three messages survive a version 3 block byte for
// byte, read whole or as stored and restored.
func FuzzElidedBlock(f *testing.F) {
	c := testCodec(f)
	kube := `{"pod_name":"api-1-7c9d","namespace_name":"payments","labels":{"app":"api"}}`
	f.Add(`{"log":"a","kubernetes":`+kube+`}`, `{"kubernetes":`+kube+`,"log":"b"}`, ` {"log":"\u00e9\"","kubernetes" : `+kube+`} `)
	f.Add(`{"log":"a","kubernetes":`+kube+`}`, `{"log":"a","kubernetes":`+kube+`,"kubernetes":`+kube+`}`, "\xff")
	f.Add(`{"k":{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa":1}}`, `{"k":{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa":1},"x":[]}`, `{"k":{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa":1},"y":{}}`)
	f.Fuzz(func(t *testing.T, m1, m2, m3 string) {
		evs := blockEvents(3, func(i int) string { return []string{m1, m2, m3}[i] })
		var members []elide.Member
		var spans []elide.Span
		if blockConstants(evs) != nil {
			members, spans = elideMembers(evs)
		}
		raw, cols := encodeBlockV3(nil, evs, members, spans)
		comp := c.enc.EncodeAll(raw[:cols], nil)
		n := len(comp)
		comp = c.enc.EncodeAll(raw[cols:], comp)
		rawBytes := len(m1) + len(m2) + len(m3)
		full, err := decodeBlock(comp, c, formFull, n, rawBytes, 3)
		if err != nil {
			t.Fatalf("members %v: %v", members, err)
		}
		st, err := decodeBlock(comp, c, formStored, n, rawBytes, 3)
		if err != nil {
			t.Fatal(err)
		}
		for i, e := range evs {
			if full.msgs[i] != e.msg {
				t.Fatalf("event %d: %q, want %q", i, full.msgs[i], e.msg)
			}
			got := []byte(st.msgs[i])
			if len(st.members) > 0 {
				if got, err = elide.Restore(nil, st.msgs[i], st.members); err != nil {
					t.Fatal(err)
				}
			}
			if string(got) != e.msg {
				t.Fatalf("event %d stored: %q, want %q", i, got, e.msg)
			}
		}
	})
}

// TestStoreElidedReads: through a real store, every reader but ScanBlocks
// sees messages as written (FilterEvents finds a term only the elided
// object holds), ScanBlocks sees them as stored with the member among the
// constants, and the block cache's forms serve each other only where
// that gives the same messages, whichever read comes first.
func TestStoreElidedReads(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	s, err := Open(t.TempDir(), testOptions(c))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if _, err := s.CreateGroup("g", Group{}); err != nil {
		t.Fatal(err)
	}
	kube := `{"pod_name":"api-1-7c9d","namespace_name":"payments","labels":{"app":"needleapp"}}`
	var want []string
	var evs []InputEvent
	base := c.now().UnixMilli() - 3600_000
	for i := range 300 {
		m := fmt.Sprintf(`{"log":"line %d \"q\" %s","kubernetes":%s}`, i, strings.Repeat("w", i%50), kube)
		evs = append(evs, InputEvent{Timestamp: base + int64(i)*1000, Message: m})
		want = append(want, m)
	}
	if _, err := s.CreateStream("g", "s"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, "g", "s", evs); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	// A block cached whole serves a stored read too (its messages are
	// the same once restored), so only a cold scan sees members.
	scanStored := func(cold bool) {
		t.Helper()
		var got []string
		elided := 0
		if _, err := s.ScanBlocks(ctx, "g", ScanQuery{}, func(b *ScanBatch) error {
			var members []elide.Member
			for _, c := range b.Constants {
				if strings.HasPrefix(c.JSON, "{") {
					members = append(members, elide.Member{Key: c.Name, Value: c.JSON})
				}
			}
			if len(members) > 0 {
				elided++
			}

			for _, r := range b.Records {
				m := r.Message
				if len(members) > 0 {
					full, err := elide.Restore(nil, m, members)
					if err != nil {
						return err
					}
					m = string(full)
				}
				got = append(got, m)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		sort.Slice(got, func(i, j int) bool { return strings.Compare(got[i], got[j]) < 0 })
		w := slices.Clone(want)
		sort.Strings(w)
		if !slices.Equal(got, w) {
			t.Fatal("ScanBlocks: restored messages differ")
		}
		if cold && elided == 0 {
			t.Fatal("no block elided")
		}
	}
	readAll := func() {
		t.Helper()
		recs, err := s.Read(ctx, "g", "s", ReadQuery{})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range recs {
			got = append(got, r.Message)
		}
		if !slices.Equal(got, want) {
			t.Fatal("Read: messages differ")
		}
		res, err := s.FilterEvents(ctx, "g", FilterQuery{Filter: tokenFilter("needleapp")})
		if err != nil || len(res.Records) != len(want) {
			t.Fatalf("FilterEvents: %d records, %v", len(res.Records), err)
		}
		var full []string
		if _, err := s.Scan(ctx, "g", ScanQuery{}, func(rs []Record) error {
			for _, r := range rs {
				full = append(full, r.Message)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		sort.Strings(full)
		w := slices.Clone(want)
		sort.Strings(w)
		if !slices.Equal(full, w) {
			t.Fatal("Scan: messages differ")
		}
		_, r, err := s.Get(ctx, PtrOf(recs[17]))
		if err != nil || r.Message != want[17] {
			t.Fatalf("Get: %q, %v", r.Message, err)
		}
	}
	scanStored(true)
	readAll()
	scanStored(false)
	for _, ps := range s.partitions {
		for _, p := range ps {
			s.cache.forget(p)
		}
	}
	readAll()
	scanStored(false)
}

// BenchmarkEncodeBlock: what writing one 1 MiB block of Container
// Insights records costs (flushes and merges), constants and elision
// included; bytes are the messages' bytes.
func BenchmarkEncodeBlock(b *testing.B) {
	c := testCodec(b)
	kube := `{"pod_name":"checkout-api-7c9d8f6b5-x2x9k","namespace_name":"payments","pod_id":"0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",` +
		`"labels":{"app":"checkout-api","app.kubernetes.io/part-of":"payments","pod-template-hash":"7c9d8f6b5"},` +
		`"annotations":{"kubernetes.io/psp":"eks.privileged","prometheus.io/scrape":"true","prometheus.io/port":"9102"},` +
		`"host":"ip-10-0-1-23.us-west-2.compute.internal","container_name":"checkout-api",` +
		`"docker_id":"5e2f0c7d9a1b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5",` +
		`"container_hash":"123456789012.dkr.ecr.us-west-2.amazonaws.com/checkout-api@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",` +
		`"container_image":"123456789012.dkr.ecr.us-west-2.amazonaws.com/checkout-api:2024.11.3"}`
	var evs []headEvent
	size := 0
	for i := 0; size < 1<<20; i++ {
		m := fmt.Sprintf(`{"log":"2026-11-22 10:%02d:%02d INFO request %d served in %d ms \"GET /api/v1/orders\"","stream":"stdout","level":"info","time":"2026-11-22T10:00:00.%06dZ","kubernetes":%s}`,
			i/60%60, i%60, i, i%977, i, kube)
		evs = append(evs, headEvent{ts: int64(i), seq: uint64(i), ingest: int64(i), msg: m})
		size += len(m)
	}
	for _, v := range []int{2, 3} {
		b.Run(fmt.Sprintf("v%d", v), func(b *testing.B) {
			dir := b.TempDir()
			pw, err := newPartWriter(dir, 1, 0, c)
			if err != nil {
				b.Fatal(err)
			}
			defer pw.abort()
			pw.meta.Version = v
			b.SetBytes(int64(size))
			for b.Loop() {
				if err := pw.addBlock(1, 1, evs); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
