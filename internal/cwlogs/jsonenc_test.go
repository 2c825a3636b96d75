package cwlogs

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func stdJSON(t testing.TB, v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func checkAppendJSON(t testing.TB, msg, name string) {
	outs := []jsonAppender{
		getLogEventsOutput{Events: []outputEvent{{1, msg, 2}, {-3, "", 4}}, NextForwardToken: name, NextBackwardToken: "b/1/s"},
		getLogEventsOutput{},
		filterLogEventsOutput{Events: []filteredEvent{{name, 5, msg, 6, "123"}}, SearchedLogStreams: []searchedStream{{name, true}}, NextToken: msg},
		filterLogEventsOutput{Events: []filteredEvent{}, SearchedLogStreams: []searchedStream{}},
	}
	for _, o := range outs {
		got, want := o.appendJSON(nil), stdJSON(t, o)
		if !bytes.Equal(got, want) {
			t.Fatalf("appendJSON differs from encoding/json for %q:\n got %s\nwant %s", msg, got, want)
		}
	}
}

func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	for _, m := range []string{
		"", "plain", `{"log":"a \"quoted\" \\ path","n":1}`, "tab\tnl\ncr\rbs\bff\f", "\x00\x01\x1f\x7f",
		"<html>&amp;</html>", "héllo 世界 😀", "bad \xff\xfe utf8 \xc3", "line\u2028sep\u2029", strings.Repeat("x", 5000),
	} {
		checkAppendJSON(t, m, "stream/"+m)
	}
}

func FuzzAppendJSON(f *testing.F) {
	for _, s := range []string{"", `"\`, "\x00\xff", "\u2028", "😀<>&"} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, msg, name string) { checkAppendJSON(t, msg, name) })
}

func BenchmarkEncodeGetLogEvents(b *testing.B) {
	msg := `{"log":"081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_38865049064139660 terminating","stream":"stdout","kubernetes":{"pod_name":"web-3-7c9f8d6b5-x2x4z","namespace_name":"prod","labels":{"app":"web"},"host":"ip-10-0-1-23.ec2.internal"}}`
	out := getLogEventsOutput{NextForwardToken: "f/1/s", NextBackwardToken: "b/1/s"}
	size := 0
	for size < 1<<20 {
		out.Events = append(out.Events, outputEvent{1795309702000, msg, 1795309702001})
		size += len(msg) + 26
	}
	b.Run("appendJSON", func(b *testing.B) {
		b.SetBytes(int64(size))
		b.ReportAllocs()
		buf := make([]byte, 0, 2<<20)
		for i := 0; i < b.N; i++ {
			buf = out.appendJSON(buf[:0])
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(int64(size))
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			stdJSON(b, out)
		}
	})
}
