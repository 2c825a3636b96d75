package logstore

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func testCodec(t testing.TB) *codec {
	t.Helper()
	c, err := newCodec(2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.close)
	return c
}

func blockEvents(n int, msg func(i int) string) []headEvent {
	evs := make([]headEvent, n)
	for i := range evs {
		evs[i] = headEvent{ts: 1000 + int64(i), seq: uint64(i) + 7, ingest: 2000 + int64(i), msg: msg(i)}
	}
	return evs
}

// writeTestPart writes one part of the given version holding blocks.
func writeTestPart(t *testing.T, c *codec, version int, blocks ...[]headEvent) *part {
	t.Helper()
	dir := t.TempDir()
	pw, err := newPartWriter(dir, 1, 0, c)
	if err != nil {
		t.Fatal(err)
	}
	pw.meta.Version = version
	for i, b := range blocks {
		if err := pw.addBlock(1, uint64(i+1), b); err != nil {
			t.Fatal(err)
		}
	}
	if err := pw.finish(); err != nil {
		t.Fatal(err)
	}
	p, err := openPart(filepath.Join(dir, partFileName(1)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.drop(false) })
	return p
}

func checkBlock(t *testing.T, db *decodedBlock, want []headEvent, withMsgs bool) {
	t.Helper()
	if db.len() != len(want) {
		t.Fatalf("%d events, want %d", db.len(), len(want))
	}
	for i, e := range want {
		if db.ts[i] != e.ts || db.seq[i] != e.seq || db.ingest[i] != e.ingest {
			t.Fatalf("event %d: columns differ", i)
		}
		if withMsgs && db.msgs[i] != e.msg {
			t.Fatalf("event %d: message %q, want %q", i, db.msgs[i], e.msg)
		}
	}
	if !withMsgs && db.msgs != nil {
		t.Fatal("columns-only read has messages")
	}
}

// TestPartVersions: version 2 blocks read whole or columns only; version 1
// parts stay readable, and a merge (copyBlock) turns their blocks into
// version 2 ones with constants.
func TestPartVersions(t *testing.T) {
	c := testCodec(t)
	b1 := blockEvents(50, func(i int) string {
		return fmt.Sprintf(`{"log":"line %d","kubernetes":{"pod_name":"p","ns":"a"},"i":%d}`, i, i)
	})
	b2 := blockEvents(3, func(i int) string { return strings.Repeat("x", i) }) // an empty message too
	// Messages much longer than the columns section.
	b3 := blockEvents(4, func(i int) string { return strings.Repeat("long ", 200*(i+1)) })
	v2 := writeTestPart(t, c, 2, b1, b2, b3)
	for i, want := range [][]headEvent{b1, b2, b3} {
		db, err := v2.readBlock(i, c, false)
		if err != nil {
			t.Fatal(err)
		}
		checkBlock(t, db, want, true)
		db, err = v2.readBlock(i, c, true)
		if err != nil {
			t.Fatal(err)
		}
		checkBlock(t, db, want, false)
	}
	wantConsts := []Constant{{"kubernetes.pod_name", `"p"`}, {"kubernetes.ns", `"a"`}}
	if got := v2.blocks[0].consts; !reflect.DeepEqual(got, wantConsts) {
		t.Errorf("constants %v, want %v", got, wantConsts)
	}
	if v2.blocks[1].consts != nil {
		t.Errorf("non-JSON block has constants %v", v2.blocks[1].consts)
	}

	v1 := writeTestPart(t, c, 1, b1, b2)
	if v1.meta.Version != 1 || v1.blocks[0].colsSize != 0 || v1.blocks[0].consts != nil {
		t.Fatalf("version 1 part: %+v", v1.blocks[0])
	}
	for i, want := range [][]headEvent{b1, b2} {
		db, err := v1.readBlock(i, c, true) // no columns frame: read whole
		if err != nil {
			t.Fatal(err)
		}
		checkBlock(t, db, want, true)
	}
	dir := t.TempDir()
	pw, err := newPartWriter(dir, 2, 0, c)
	if err != nil {
		t.Fatal(err)
	}
	for i := range v1.blocks {
		if err := pw.copyBlock(1, v1, i); err != nil {
			t.Fatal(err)
		}
	}
	if err := pw.finish(); err != nil {
		t.Fatal(err)
	}
	m, err := openPart(filepath.Join(dir, partFileName(2)))
	if err != nil {
		t.Fatal(err)
	}
	defer m.drop(false)
	if m.meta.Version != partVersion || !reflect.DeepEqual(m.blocks[0].consts, wantConsts) || m.blocks[0].colsSize == 0 {
		t.Fatalf("merged block: version %d, %+v", m.meta.Version, m.blocks[0])
	}
	db, err := m.readBlock(0, c, true)
	if err != nil {
		t.Fatal(err)
	}
	checkBlock(t, db, b1, false)
}

func TestBlockConstants(t *testing.T) {
	for _, tc := range []struct {
		name string
		msgs []string
		want []Constant
	}{
		{"same", []string{`{"a":1,"k":{"p":"x"}}`, ` {"k":{"p":"x"},"a":2} `}, []Constant{{"k.p", `"x"`}}},
		{"all types", []string{`{"s":"v","n":-1.5e3,"t":true,"f":false,"z":null,"e":{}}`}, []Constant{{"s", `"v"`}, {"n", "-1.5e3"}, {"t", "true"}, {"f", "false"}, {"z", "null"}}},
		{"different text same value", []string{`{"n":1}`, `{"n":1.0}`}, nil},
		{"missing in one", []string{`{"a":1,"b":2}`, `{"a":1}`}, []Constant{{"a", "1"}}},
		{"duplicate key", []string{`{"a":1,"a":1}`}, nil},
		{"dotted collision", []string{`{"a.b":1,"a":{"b":1}}`}, nil},
		{"array index collision", []string{`{"a.0":1,"a":[1]}`}, nil},
		{"under arrays", []string{`{"a":[{"b":1}],"c":2}`}, []Constant{{"c", "2"}}},
		{"escaped key", []string{`{"\u0061":1,"b":2}`}, nil},
		{"escaped value", []string{`{"a":"x\"y"}`, `{"a":"x\"y"}`}, []Constant{{"a", `"x\"y"`}}},
		{"not an object", []string{`[1]`}, nil},
		{"trailing garbage", []string{`{"a":1} x`}, nil},
		{"one bad message", []string{`{"a":1}`, `{"a":1`}, nil},
		{"plain text", []string{`hello`}, nil},
		{"bad number", []string{`{"a":01}`}, nil},
		{"control char", []string{"{\"a\":\"x\ty\"}"}, nil},
		{"too long", []string{`{"a":"` + strings.Repeat("x", 300) + `","b":1}`}, []Constant{{"b", "1"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			evs := blockEvents(len(tc.msgs), func(i int) string { return tc.msgs[i] })
			if got := blockConstants(evs); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// FuzzBlockConstants: whatever the messages, every constant is what
// encoding/json reads at that path in every message.
func FuzzBlockConstants(f *testing.F) {
	f.Add(`{"a":1,"k":{"p":"x"}}`, `{"k":{"p":"x"},"a":2}`)
	f.Add(`{"a.b":1,"a":{"b":1}}`, `{"a":[1,{"c":"d"}]}`)
	f.Add(`{"s":"\u00e9\n","n":1e5,"t":true,"z":null}`, `{"s":"\u00e9\n","n":1e5,"t":true,"z":null}`)
	f.Fuzz(func(t *testing.T, m1, m2 string) {
		evs := blockEvents(2, func(i int) string { return []string{m1, m2}[i] })
		for _, c := range blockConstants(evs) {
			var want any
			if err := json.Unmarshal([]byte(c.JSON), &want); err != nil {
				t.Fatalf("constant %v: %v", c, err)
			}
			for _, m := range []string{m1, m2} {
				var v any
				if err := json.Unmarshal([]byte(m), &v); err != nil {
					t.Fatalf("constant %v from invalid JSON %q: %v", c, m, err)
				}
				flat := map[string]any{}
				flattenAny("", v, flat)
				v = flat[c.Name]
				if !reflect.DeepEqual(v, want) {
					t.Fatalf("constant %v: %q holds %v", c, m, v)
				}
			}
		}
	})
}

// flattenAny flattens a decoded JSON value as Logs Insights names fields.
func flattenAny(prefix string, v any, out map[string]any) {
	join := func(k string) string {
		if prefix == "" {
			return k
		}
		return prefix + "." + k
	}
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			flattenAny(join(k), x, out)
		}
	case []any:
		for i, x := range v {
			flattenAny(join(strconv.Itoa(i)), x, out)
		}
	default:
		out[prefix] = v
	}
}

// FuzzDecodeBlock: corrupt compressed blocks of every version give
// errors, not panics, in every form.
func FuzzDecodeBlock(f *testing.F) {
	c := testCodec(f)
	evs := blockEvents(5, func(i int) string {
		return `{"log":"m` + strconv.Itoa(i) + `","kubernetes":{"pod_name":"p","labels":{"app":"a","team":"payments-and-ledger"}}}`
	})
	raw, cols := encodeBlockRaw(nil, evs)
	v2 := c.enc.EncodeAll(raw[:cols], nil)
	n := len(v2)
	v2 = c.enc.EncodeAll(raw[cols:], v2)
	members, spans := elideMembers(evs)
	raw3, cols3 := encodeBlockV3(nil, evs, members, spans)
	v3 := c.enc.EncodeAll(raw3[:cols3], nil)
	n3 := len(v3)
	v3 = c.enc.EncodeAll(raw3[cols3:], v3)
	f.Add(c.enc.EncodeAll(raw, nil), 0, uint8(0), 1)
	for form := range uint8(3) {
		f.Add(v2, n, form, 2)
		f.Add(v3, n3, form, 3)
	}
	f.Add(raw, 0, uint8(0), 1)
	f.Add(raw3, cols3, uint8(2), 3)
	f.Fuzz(func(t *testing.T, data []byte, colsSize int, form uint8, version int) {
		comp := data
		if len(data) > 0 && data[0]&1 == 1 {
			// Also feed well-compressed but corrupt raw layouts.
			comp = c.enc.EncodeAll(data[1:], nil)
			if colsSize > 0 && colsSize < len(data)-1 {
				// Two frames: the columns and the messages.
				cut := 1 + colsSize
				comp = c.enc.EncodeAll(data[1:cut], nil)
				colsSize = len(comp)
				comp = c.enc.EncodeAll(data[cut:], comp)
			}
		}
		bf := blockForm(form % 3)
		db, err := decodeBlock(comp, c, bf, colsSize, 0, version)
		if err != nil {
			return
		}
		if len(db.ts) != len(db.seq) || len(db.ts) != len(db.ingest) || !(bf == formColumns && colsSize > 0) && len(db.msgs) != len(db.ts) {
			t.Fatal("inconsistent columns")
		}
		if bf == formFull && db.members != nil {
			t.Fatal("full block with elided members")
		}
	})
}

// FuzzDecodeIndex: a corrupt index gives an error, not a panic.
func FuzzDecodeIndex(f *testing.F) {
	bm := []blockMeta{{streamID: 3, minTs: 1, maxTs: 9, count: 4, rawBytes: 100, off: 8, size: 50, colsSize: 10, consts: []Constant{{"a", "1"}}}}
	f.Add(encodeIndex(bm, 3), 3)
	f.Add(encodeIndex(bm, 2), 2)
	f.Add(encodeIndex(bm, 1), 1)
	f.Fuzz(func(t *testing.T, b []byte, version int) {
		out, err := decodeIndex(b, version)
		if err == nil && version >= 2 && slices.ContainsFunc(out, func(m blockMeta) bool { return len(m.consts) > maxConstants }) {
			t.Fatal("too many constants")
		}
	})
}
