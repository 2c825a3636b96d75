package cwlogs

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/kinsight/kinsight/internal/config"
)

// checkPutBatchFast holds the batch fast decoder to encoding/json: when it
// accepts a body, encoding/json must accept it and decode the same values.
func checkPutBatchFast(t testing.TB, body []byte) bool {
	t.Helper()
	if !utf8.Valid(body) {
		return false
	}
	var fast putBatchInput
	if !decodePutBatchFast(body, &fast) {
		return false
	}
	var std putBatchInput
	if err := json.Unmarshal(body, &std); err != nil {
		t.Fatalf("fast path accepted %q, encoding/json: %v", body, err)
	}
	if !reflect.DeepEqual(fast, std) {
		t.Fatalf("fast path differs for %q:\nfast %+v\nstd  %+v", body, fast, std)
	}
	return true
}

var putBatchFastCases = []struct {
	body string
	fast bool
}{
	{`{"parts":[{"logGroupName":"g","logStreamName":"s","logEvents":[{"timestamp":1,"message":"a"}],"positions":"v1;a,0,5"},{"logGroupName":"g","logStreamName":"t","logEvents":[]}]}`, true},
	{`{"parts":[]}`, true},
	{`{}`, true},
	{` { "parts" : [ { } ] , "x" : [1,{"y":null}] } `, true},
	{`{"parts":[{"logEvents":[{"message":"esc \" \\ \u00e9","timestamp":3}],"positions":"v1;\u0061,0,1"}]}`, true},
	// encoding/json decides these.
	{`{"Parts":[]}`, false},
	{`{"parts":null}`, false},
	{`{"parts":[{"positions":null}]}`, false},
	{`{"parts":[{"Positions":"v1;a,0,1"}]}`, false},
	{`{"parts":[],"parts":[]}`, false},
	{`{"parts":[{"positions":"a","positions":"b"}]}`, false},
	{`{"parts":[{}]`, false},
	{`{"parts":[{},]}`, false},
	{`{"parts":{}}`, false},
}

func TestDecodePutBatchFast(t *testing.T) {
	for _, c := range putBatchFastCases {
		if got := checkPutBatchFast(t, []byte(c.body)); got != c.fast {
			t.Errorf("%s: fast path taken = %v, want %v", c.body, got, c.fast)
		}
	}
}

func FuzzDecodePutBatch(f *testing.F) {
	for _, c := range putBatchFastCases {
		f.Add([]byte(c.body))
	}
	for _, c := range putFastCases {
		f.Add([]byte(`{"parts":[` + c.body + `]}`))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkPutBatchFast(t, body)
		// Whatever the body, the handler's decoding answers a value or an
		// AWS-shaped error, never a panic.
		var in putBatchInput
		if err := decodeJSON(body, &in); err != nil {
			if ae, internal := toAPIError(err); internal || ae.Type != errSerialization {
				t.Fatalf("decode %q: %v", body, err)
			}
		}
	})
}

type batchAnswer struct {
	Results []struct {
		NextSequenceToken     string        `json:"nextSequenceToken"`
		RejectedLogEventsInfo *rejectedInfo `json:"rejectedLogEventsInfo"`
		Duplicates            *int          `json:"duplicates"`
		Error                 *errorBody    `json:"error"`
	} `json:"results"`
}

func part(group, stream, positions string, ts ...int64) m {
	evs := make([]m, len(ts))
	for i, t := range ts {
		evs[i] = m{"timestamp": t, "message": msgN(stream, i)}
	}
	p := m{"logGroupName": group, "logStreamName": stream, "logEvents": evs}
	if positions != "" {
		p["positions"] = positions
	}
	return p
}

func (e *env) count(group, stream string) int {
	e.t.Helper()
	var out struct {
		Events []outputEvent `json:"events"`
	}
	e.mustOK("GetLogEvents", m{"logGroupName": group, "logStreamName": stream, "startFromHead": true}).decode(e.t, &out)
	return len(out.Events)
}

// TestPutLogEventsBatch: each part is applied and answered on its own — a
// missing stream or a bad part among good ones fails only itself; positions
// skip duplicates per part; two parts of one stream keep their order.
func TestPutLogEventsBatch(t *testing.T) {
	e := newEnv(t)
	now := nowMs()
	e.seed("g", "a")
	e.seed("g", "b")
	parts := []m{
		part("g", "a", "v1;1f,0,10,5", now, now+1),
		part("g", "missing", "", now),
		part("g", "b", "", now+1, now), // out of order: InvalidParameterException
		part("g", "a", "v1;1f,0,20", now+2),
	}
	var ans batchAnswer
	r := e.mustOK(putBatchOp, m{"parts": parts})
	r.decode(t, &ans)
	if len(ans.Results) != 4 {
		t.Fatalf("%d results, want 4: %s", len(ans.Results), r.body)
	}
	res := ans.Results
	if res[0].Error != nil || res[0].NextSequenceToken == "" || res[0].Duplicates == nil || *res[0].Duplicates != 0 {
		t.Errorf("part 0: %s", r.body)
	}
	if res[1].Error == nil || res[1].Error.Type != errResourceNotFound || res[1].Duplicates != nil {
		t.Errorf("part 1 (missing stream): %s", r.body)
	}
	if res[2].Error == nil || res[2].Error.Type != errInvalidParameter || !strings.Contains(res[2].Error.Message, "chronological") {
		t.Errorf("part 2 (unordered): %s", r.body)
	}
	if res[3].Error != nil {
		t.Errorf("part 3: %s", r.body)
	}
	if n := e.count("g", "a"); n != 3 {
		t.Errorf("stream a holds %d events, want 3", n)
	}
	if n := e.count("g", "b"); n != 0 {
		t.Errorf("stream b holds %d events, want 0", n)
	}
	// The same parts again: part 0 and 3 are duplicates by position.
	r = e.mustOK(putBatchOp, m{"parts": []m{parts[0], parts[3]}})
	r.decode(t, &ans)
	if d := ans.Results[0].Duplicates; d == nil || *d != 2 {
		t.Errorf("resent part 0: %s", r.body)
	}
	if d := ans.Results[1].Duplicates; d == nil || *d != 1 {
		t.Errorf("resent part 3: %s", r.body)
	}
	if n := e.count("g", "a"); n != 3 {
		t.Errorf("after the resend stream a holds %d events, want 3", n)
	}
	// A positions value that does not match its part fails that part only.
	r = e.mustOK(putBatchOp, m{"parts": []m{part("g", "b", "v1;1f,0,1,1", now), part("g", "b", "", now)}})
	r.decode(t, &ans)
	if ans.Results[0].Error == nil || ans.Results[0].Error.Type != errInvalidParameter || ans.Results[1].Error != nil {
		t.Errorf("bad positions: %s", r.body)
	}
	if got := value(t, e.h.m.requests.WithLabelValues(putBatchOp+".part", errResourceNotFound)); got != 1 {
		t.Errorf("part metric for not found = %v, want 1", got)
	}
}

// TestPutLogEventsBatchLimits: what fails the request as a whole — no
// parts, too many, a body over the limit, bad JSON or UTF-8, a role
// without PutLogEvents — stores nothing.
func TestPutLogEventsBatchLimits(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.MaxRequestBytes = 64 << 10 })
	now := nowMs()
	e.seed("g", "a")
	wantErr(t, e.call(putBatchOp, m{"parts": []m{}}), http.StatusBadRequest, errInvalidParameter)
	wantErr(t, e.call(putBatchOp, m{}), http.StatusBadRequest, errInvalidParameter)
	many := make([]m, maxBatchParts+1)
	for i := range many {
		many[i] = part("g", "a", "", now)
	}
	wantErr(t, e.call(putBatchOp, m{"parts": many}), http.StatusBadRequest, errInvalidParameter)
	big := make([]m, 40)
	for i := range big {
		p := part("g", "a", "", now)
		p["logEvents"] = []m{{"timestamp": now, "message": strings.Repeat("x", 2000) + strconv.Itoa(i)}}
		big[i] = p
	}
	wantErr(t, e.call(putBatchOp, m{"parts": big}), http.StatusRequestEntityTooLarge, errSerialization)
	k := keyFor(config.RoleAdmin)
	wantErr(t, e.rawCall(putBatchOp, []byte(`{"parts":[{"logGroupName":"g","logStreamName":"a","logEvents":[{"timestamp":1,"message":"x"}]}`), &k, nil),
		http.StatusBadRequest, errSerialization)
	wantErr(t, e.rawCall(putBatchOp, []byte("{\"parts\":[{\"logGroupName\":\"g\",\"logStreamName\":\"a\",\"logEvents\":[{\"timestamp\":1,\"message\":\"\xff\"}]}]}"), &k, nil),
		http.StatusBadRequest, errSerialization)
	if n := e.count("g", "a"); n != 0 {
		t.Fatalf("stream a holds %d events after refused requests, want 0", n)
	}
	// The agent role may call it (as PutLogEvents), the reader may not.
	ok := m{"parts": []m{part("g", "a", "", now)}}
	if r := e.callAs(config.RoleAgent, putBatchOp, ok); r.status != http.StatusOK {
		t.Fatalf("agent role: %d %s", r.status, r.body)
	}
	wantErr(t, e.callAs(config.RoleReader, putBatchOp, ok), http.StatusBadRequest, "AccessDeniedException")
}
