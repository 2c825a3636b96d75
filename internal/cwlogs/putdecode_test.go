package cwlogs

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// decodePutStd is the reference: encoding/json.
func decodePutStd(body []byte) (putLogEventsInput, error) {
	var in putLogEventsInput
	err := json.Unmarshal(body, &in)
	return in, err
}

// checkPutFast holds the fast decoder to encoding/json: when it accepts a
// body, encoding/json must accept it too and decode the same values.
func checkPutFast(t testing.TB, body []byte) bool {
	t.Helper()
	if !utf8.Valid(body) {
		return false
	}
	var fast putLogEventsInput
	ok := decodePutFast(body, &fast)
	if !ok {
		return false
	}
	std, err := decodePutStd(body)
	if err != nil {
		t.Fatalf("fast path accepted %q, encoding/json: %v", body, err)
	}
	if !reflect.DeepEqual(fast, std) {
		t.Fatalf("fast path differs for %q:\nfast %s\nstd  %s", body, dump(fast), dump(std))
	}
	return true
}

func dump(in putLogEventsInput) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%q %q %q [", in.LogGroupName, in.LogStreamName, in.SequenceToken)
	for _, e := range in.LogEvents {
		if e.Timestamp != nil {
			fmt.Fprintf(&b, "%d:", *e.Timestamp)
		} else {
			b.WriteString("nil:")
		}
		if e.Message != nil {
			fmt.Fprintf(&b, "%q ", *e.Message)
		} else {
			b.WriteString("nil ")
		}
	}
	return b.String() + "]"
}

var putFastCases = []struct {
	body string
	fast bool // whether the fast path must take it
}{
	{`{"logGroupName":"g","logStreamName":"s","logEvents":[{"timestamp":1,"message":"a"},{"timestamp":2,"message":"b"}]}`, true},
	{` { "logGroupName" : "g" , "logEvents" : [ ] , "sequenceToken":"x" } `, true},
	{`{}`, true},
	{`{"logEvents":[{"message":"esc \" \\ \/ \b\f\n\r\t \u00e9 \ud83d\ude00 \ud800 x \udc00"}]}`, true},
	{`{"logEvents":[{"message":"{\"log\":\"GET /\",\"kubernetes\":{\"pod_name\":\"p\"}}","timestamp":-5}]}`, true},
	{`{"logEvents":[{}],"entity":{"keyAttributes":{"a":"b"},"attributes":{"n":[1,2.5e3,true,false,null]}}}`, true},
	// Outside the fast path: encoding/json decides.
	{`{"LogGroupName":"g"}`, false},
	{`{"logGroupName":"g","logGroupName":"h"}`, false},
	{`{"logEvents":[{"timestamp":1.5,"message":"a"}]}`, false},
	{`{"logEvents":[{"timestamp":1e3,"message":"a"}]}`, false},
	{`{"logEvents":null}`, false},
	{`{"logGroupName":null}`, false},
	{`{"logGroupName":"a\u00"}`, false},
	{`{"logGroupName":"a` + "\x01" + `"}`, false},
	{`{"logGroupName":"g"} x`, false},
	{`{"logGroupName":"g",}`, false},
	{`{"logEvents":[{"timestamp":99999999999999999999}]}`, false},
	{`{"logEvents":[{"timestamp":01}]}`, false},
	{`{"x":[1,]}`, false},
}

func TestDecodePutFast(t *testing.T) {
	for _, c := range putFastCases {
		if got := checkPutFast(t, []byte(c.body)); got != c.fast {
			t.Errorf("%s: fast path taken = %v, want %v", c.body, got, c.fast)
		}
	}
}

func FuzzDecodePutFast(f *testing.F) {
	for _, c := range putFastCases {
		f.Add([]byte(c.body))
	}
	f.Fuzz(func(t *testing.T, body []byte) { checkPutFast(t, body) })
}

func putBody(tb testing.TB) []byte {
	var in struct {
		LogGroupName  string `json:"logGroupName"`
		LogStreamName string `json:"logStreamName"`
		LogEvents     []struct {
			Timestamp int64  `json:"timestamp"`
			Message   string `json:"message"`
		} `json:"logEvents"`
	}
	in.LogGroupName, in.LogStreamName = "/aws/containerinsights/c/application", "web-1_prod_web-0123"
	size := 0
	for i := 0; size < 1<<20-64<<10; i++ {
		m := fmt.Sprintf(`{"log":"081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_38865049064139660%d terminating","stream":"stdout","time":%q,"kubernetes":{"pod_name":"web-3-7c9f8d6b5-x2x4z","namespace_name":"prod","pod_id":"3f1e9a2c-5b7d-4e8f-9a1b-000000000003","labels":{"app":"web"},"host":"ip-10-0-1-23.ec2.internal","container_name":"web","docker_id":"%064d","container_image":"registry.example.com/web:1.4.2"}}`, i, time.Unix(0, 0).UTC().Format(time.RFC3339Nano), i)
		in.LogEvents = append(in.LogEvents, struct {
			Timestamp int64  `json:"timestamp"`
			Message   string `json:"message"`
		}{int64(i), m})
		size += len(m) + 26
	}
	b, err := json.Marshal(in)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestDecodePutFastRealisticBody(t *testing.T) {
	if !checkPutFast(t, putBody(t)) {
		t.Fatal("fast path refused an SDK-shaped body")
	}
}

func BenchmarkDecodePut(b *testing.B) {
	body := putBody(b)
	b.Run("fast", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			var in putLogEventsInput
			if !decodePutFast(body, &in) {
				b.Fatal("refused")
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := decodePutStd(body); err != nil {
				b.Fatal(err)
			}
		}
	})
}
