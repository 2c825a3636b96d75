package cloudwatch

import (
	"bytes"
	"encoding/json"
	"testing"
)

// The hand-written body is what encoding/json writes for the same input
// (without HTML escaping), so the destination sees a standard request.
func TestPutLogEventsBodyMatchesEncodingJSON(t *testing.T) {
	fe := &fastEvents{group: "/aws/g<1>", stream: "s\"1", events: []Event{
		{Timestamp: 1, Message: `{"log":"a \"b\"\n","kubernetes":{"x":1}}`},
		{Timestamp: 1 << 50, Message: "é\u2028<tag>&\t"},
	}}
	type ev struct {
		Message   string `json:"message"`
		Timestamp int64  `json:"timestamp"`
	}
	want := struct {
		LogEvents     []ev   `json:"logEvents"`
		LogGroupName  string `json:"logGroupName"`
		LogStreamName string `json:"logStreamName"`
	}{LogGroupName: fe.group, LogStreamName: fe.stream}
	for _, e := range fe.events {
		want.LogEvents = append(want.LogEvents, ev{e.Message, e.Timestamp})
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(want); err != nil {
		t.Fatal(err)
	}
	if got := appendPutLogEventsBody(nil, fe); !bytes.Equal(got, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))) {
		t.Fatalf("got  %s\nwant %s", got, buf.Bytes())
	}
}
