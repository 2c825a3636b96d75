package jsonx

import (
	"bytes"
	"encoding/json"
	"testing"
)

func encodingJSON(t testing.TB, s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", `q"b\s`, "\x00\x1f\t\n\r\b\f", "<html>&", "\u2028\u2029é", "bad\xffutf8\xc3", "日本語"} {
		if got, want := AppendString(nil, s), encodingJSON(t, s); !bytes.Equal(got, want) {
			t.Errorf("%q: got %s, want %s", s, got, want)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	f.Add("x\"\\\u2028\xff")
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := AppendString([]byte("prefix"), s), append([]byte("prefix"), encodingJSON(t, s)...); !bytes.Equal(got, want) {
			t.Fatalf("%q: got %s, want %s", s, got, want)
		}
	})
}

func BenchmarkAppendString(b *testing.B) {
	rec := `{"log":"2026-11-22 03:43:50,123 INFO dfs.DataNode$PacketResponder: Received block blk_-1608999687919862906 of size 91178 from /10.250.10.6","stream":"stdout","time":"2026-11-22T03:43:50.123456789Z","kubernetes":{"pod_name":"hdfs-datanode-75rdwxk5vt-ggh8b","namespace_name":"storage","pod_id":"344d1ee1-af03-484b-9045-10a1ba9d715b","labels":{"app":"hdfs-datanode","pod-template-hash":"75rdwxk5vt"},"host":"bench-node","container_name":"app","docker_id":"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}}`
	b.ReportAllocs()
	b.SetBytes(int64(len(rec)))
	buf := make([]byte, 0, 1024)
	for b.Loop() {
		buf = AppendString(buf[:0], rec)
	}
}

func TestAppendEscaped(t *testing.T) {
	for _, s := range []string{"", "plain", `{"a":"b\"c"}`, "tab\there\x00\xff\u2028é"} {
		want := string(AppendString(nil, s))
		if got := `"` + string(AppendEscaped(nil, s)) + `"`; got != want {
			t.Errorf("AppendEscaped(%q) = %s, want %s", s, got, want)
		}
	}
}
