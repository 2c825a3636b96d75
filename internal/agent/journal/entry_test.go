package journal

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

func TestParseEntry(t *testing.T) {
	const cur = `"__CURSOR":"s=1;i=2"`
	tests := []struct {
		name      string
		line      string
		max       int
		want      Entry
		truncated bool
		wantErr   bool
	}{
		{"strings", `{` + cur + `,"__REALTIME_TIMESTAMP":"1700000000000001","_SYSTEMD_UNIT":"kubelet.service","MESSAGE":"hi","PRIORITY":"3","_HOSTNAME":"h","_PID":"7"}`, 0,
			Entry{Cursor: "s=1;i=2", Time: time.UnixMicro(1700000000000001), Unit: "kubelet.service", Message: []byte("hi"), Priority: 3, Host: "h", PID: "7"}, false, false},
		{"binary message", `{` + cur + `,"MESSAGE":[104,0,255]}`, 0,
			Entry{Cursor: "s=1;i=2", Message: []byte{'h', 0, 255}, Priority: -1}, false, false},
		{"null message and unit", `{` + cur + `,"MESSAGE":null,"_SYSTEMD_UNIT":null,"SYSLOG_IDENTIFIER":"kernel"}`, 0,
			Entry{Cursor: "s=1;i=2", Unit: "kernel", Priority: -1}, false, false},
		{"repeated strings", `{` + cur + `,"MESSAGE":["a","b"],"_PID":["1","2"]}`, 0,
			Entry{Cursor: "s=1;i=2", Message: []byte("a"), PID: "1", Priority: -1}, false, false},
		{"repeated binary", `{` + cur + `,"MESSAGE":[[1,2],"b"]}`, 0,
			Entry{Cursor: "s=1;i=2", Message: []byte{1, 2}, Priority: -1}, false, false},
		{"empty array", `{` + cur + `,"MESSAGE":[]}`, 0,
			Entry{Cursor: "s=1;i=2", Message: []byte{}, Priority: -1}, false, false},
		{"bad priority", `{` + cur + `,"PRIORITY":"x"}`, 0, Entry{Cursor: "s=1;i=2", Priority: -1}, false, false},
		{"priority out of range", `{` + cur + `,"PRIORITY":"9"}`, 0, Entry{Cursor: "s=1;i=2", Priority: -1}, false, false},
		{"truncated", `{` + cur + `,"MESSAGE":"abcdef"}`, 4, Entry{Cursor: "s=1;i=2", Message: []byte("abcd"), Priority: -1}, true, false},
		{"byte out of range", `{` + cur + `,"MESSAGE":[256]}`, 0, Entry{}, false, true},
		{"no cursor", `{"MESSAGE":"x"}`, 0, Entry{}, false, true},
		{"not an object", `[1,2]`, 0, Entry{}, false, true},
		{"junk", "\x00\xff", 0, Entry{}, false, true},
		{"object value", `{` + cur + `,"MESSAGE":{"a":1}}`, 0, Entry{}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, trunc, err := parseEntry([]byte(tt.line), tt.max)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if trunc != tt.truncated {
				t.Errorf("truncated = %v", trunc)
			}
			if got.Cursor != tt.want.Cursor || !got.Time.Equal(tt.want.Time) || got.Unit != tt.want.Unit ||
				!bytes.Equal(got.Message, tt.want.Message) || got.Priority != tt.want.Priority ||
				got.Host != tt.want.Host || got.PID != tt.want.PID {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestCursorHelpers(t *testing.T) {
	c := "s=e788;i=1;b=0123;m=3e8;t=60a24181e4000;x=443b"
	if !validCursor(c) {
		t.Error("real cursor rejected")
	}
	for _, bad := range []string{"", "abc", "a=1;;b=2", "a=1\nb=2", "=1"} {
		if validCursor(bad) {
			t.Errorf("validCursor(%q) = true", bad)
		}
	}
	ts, ok := cursorTime(c)
	if !ok || !ts.Equal(time.UnixMicro(1700000000000000)) {
		t.Errorf("cursorTime = %v, %v", ts, ok)
	}
	if _, ok := cursorTime("s=1;i=2"); ok {
		t.Error("cursorTime found a time in a cursor without t=")
	}
}

func FuzzParseEntry(f *testing.F) {
	for _, s := range []string{
		`{"__CURSOR":"s=1","MESSAGE":"hi","PRIORITY":"6","__REALTIME_TIMESTAMP":"1"}`,
		`{"__CURSOR":"s=1","MESSAGE":[98,105,0,255],"_SYSTEMD_UNIT":null}`,
		`{"__CURSOR":["s=1","s=2"],"MESSAGE":[[1,2],"x",null]}`,
		`{"__CURSOR":"c","MESSAGE":[]}`,
		`{"__CURSOR":1,"MESSAGE":true}`,
		`[]`, `null`, ``, `{`,
	} {
		f.Add([]byte(s), 8)
	}
	f.Fuzz(func(t *testing.T, line []byte, max int) {
		e, trunc, err := parseEntry(line, max)
		if err != nil {
			return
		}
		if e.Cursor == "" {
			t.Fatal("entry without cursor accepted")
		}
		if max > 0 && len(e.Message) > max {
			t.Fatalf("message of %d bytes over the cap %d", len(e.Message), max)
		}
		if trunc && (max <= 0 || len(e.Message) != max) {
			t.Fatalf("truncated to %d bytes, cap %d", len(e.Message), max)
		}
		if e.Priority < -1 || e.Priority > 7 {
			t.Fatalf("priority %d", e.Priority)
		}
		// A plain-string message round-trips through JSON.
		if !json.Valid(line) {
			t.Fatal("invalid JSON accepted")
		}
	})
}

func BenchmarkParseEntry(b *testing.B) {
	line := []byte(`{"__CURSOR":"s=e788cbb7060c4810ac98a7862d566151;i=1;b=0123456789abcdef0123456789abcdef;m=3e8;t=60a24181e4000;x=443bcdb385598e49","__REALTIME_TIMESTAMP":"1700000000000000","__MONOTONIC_TIMESTAMP":"1000","_SYSTEMD_UNIT":"kubelet.service","MESSAGE":"I1122 03:08:40.123456    1234 kubelet.go:2345] \"SyncLoop (PLEG): event for pod\" pod=\"kube-system/aws-node-abcde\"","PRIORITY":"6","_HOSTNAME":"ip-10-0-0-1","_PID":"1234"}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		if _, _, err := parseEntry(line, DefaultMaxMessageBytes); err != nil {
			b.Fatal(err)
		}
	}
}
