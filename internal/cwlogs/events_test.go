package cwlogs

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kinsight/kinsight/internal/logstore"
)

func putIn(group, stream string, events ...m) m {
	return m{"logGroupName": group, "logStreamName": stream, "logEvents": events}
}

func ev(ts int64, msg string) m { return m{"timestamp": ts, "message": msg} }

func TestPutLogEvents(t *testing.T) {
	e := newEnv(t)
	e.seed("g", "s")
	now := nowMs()
	const hour = 60 * 60 * 1000
	const day = 24 * hour

	var out putLogEventsOutput
	r := e.mustOK("PutLogEvents", putIn("g", "s", ev(now-1, "a"), ev(now, "b")))
	r.decode(t, &out)
	if out.NextSequenceToken == "" || out.RejectedLogEventsInfo != nil || strings.Contains(string(r.body), "rejected") {
		t.Errorf("clean batch: %s", r.body)
	}
	// sequenceToken is accepted and ignored, whatever it is.
	in := putIn("g", "s", ev(now, "c"))
	in["sequenceToken"] = "49590338271490256608559692538361571095921575989136588898"
	e.mustOK("PutLogEvents", in)
	in["sequenceToken"] = "garbage"
	e.mustOK("PutLogEvents", in)

	// Too old, expired and too new events are reported by index, the rest stored.
	e.mustOK("PutRetentionPolicy", m{"logGroupName": "g", "retentionInDays": 1})
	r = e.mustOK("PutLogEvents", putIn("g", "s",
		ev(now-15*day, "too old"), ev(now-26*hour, "expired"), ev(now-23*hour, "kept"), ev(now+3*hour, "too new")))
	r.decode(t, &out)
	info := out.RejectedLogEventsInfo
	if info == nil || info.TooOldLogEventEndIndex == nil || *info.TooOldLogEventEndIndex != 1 ||
		info.ExpiredLogEventEndIndex == nil || *info.ExpiredLogEventEndIndex != 2 ||
		info.TooNewLogEventStartIndex == nil || *info.TooNewLogEventStartIndex != 3 {
		t.Errorf("rejected info: %s", r.body)
	}
	var got filterLogEventsOutput
	e.mustOK("FilterLogEvents", m{"logGroupName": "g"}).decode(t, &got)
	var msgs []string
	for _, x := range got.Events {
		msgs = append(msgs, x.Message)
	}
	if want := []string{"kept", "a", "b", "c", "c"}; !reflect.DeepEqual(msgs, want) {
		t.Errorf("stored %v, want %v", msgs, want)
	}
	if v := value(t, e.h.m.rejectedEvents.WithLabelValues(rejectTooNew)); v != 1 {
		t.Errorf("too_new = %v", v)
	}
	// Only a too-new event: the other indexes are absent, not -1.
	r = e.mustOK("PutLogEvents", putIn("g", "s", ev(now, "x"), ev(now+3*60*60*1000, "y")))
	if s := string(r.body); !strings.Contains(s, `"tooNewLogEventStartIndex":1`) || strings.Contains(s, "tooOld") || strings.Contains(s, "expired") {
		t.Errorf("only too new: %s", s)
	}
}

func TestPutLogEventsValidation(t *testing.T) {
	e := newEnv(t)
	e.seed("g", "s")
	now := nowMs()
	many := make([]m, 10001)
	for i := range many {
		many[i] = ev(now, "m")
	}
	bigMsg := strings.Repeat("x", maxEventBytes-eventOverhead+1)
	// Two events of 600,000 bytes: each fits, the batch does not.
	half := strings.Repeat("y", 600000)
	tests := []struct {
		name string
		in   m
		msg  string // substring of the message
	}{
		{"no events", m{"logGroupName": "g", "logStreamName": "s"}, "Member must not be null"},
		{"empty events", m{"logGroupName": "g", "logStreamName": "s", "logEvents": []m{}}, "greater than or equal to 1"},
		{"10001 events", m{"logGroupName": "g", "logStreamName": "s", "logEvents": many}, "less than or equal to 10000"},
		{"unordered", putIn("g", "s", ev(now, "b"), ev(now-1, "a")), msgUnorderedEvents},
		{"span over 24h", putIn("g", "s", ev(now-25*60*60*1000, "a"), ev(now, "b")), msgBatchSpanTooLarge},
		{"batch too large", putIn("g", "s", ev(now, half), ev(now, half)), "Upload too large: 1200052 bytes exceeds limit of 1048576"},
		{"event too large", putIn("g", "s", ev(now, bigMsg)), "Log event too large: 1048577 bytes exceeds limit of 1048576"},
		{"empty message", putIn("g", "s", ev(now, "")), "logEvents.1.member.message"},
		{"missing timestamp", putIn("g", "s", m{"message": "x"}), "Value null at 'logEvents.1.member.timestamp'"},
		{"missing message", putIn("g", "s", m{"timestamp": now}), "Value null at 'logEvents.1.member.message'"},
		{"negative timestamp", putIn("g", "s", ev(-5, "x")), "greater than or equal to 0"},
		{"bad group", putIn("g:x", "s", ev(now, "x")), "logGroupName"},
		{"bad stream", putIn("g", "s*", ev(now, "x")), "logStreamName"},
		{"no stream", m{"logGroupName": "g", "logEvents": []m{ev(now, "x")}}, "logStreamName"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.call("PutLogEvents", tc.in)
			wantErr(t, r, 400, errInvalidParameter)
			if !strings.Contains(r.errMessage(), tc.msg) {
				t.Errorf("message %q does not contain %q", r.errMessage(), tc.msg)
			}
		})
	}
	// Thousands of bad events: a bounded message that still counts them all.
	bad := make([]m, 5000)
	for i := range bad {
		bad[i] = m{"timestamp": now}
	}
	r := e.call("PutLogEvents", putIn("g", "s", bad...))
	if !strings.HasPrefix(r.errMessage(), "5000 validation errors detected") || len(r.errMessage()) > 4000 {
		t.Errorf("message of %d bytes: %.200s", len(r.errMessage()), r.errMessage())
	}
	// A span over 24h counts only events inside the accepted window.
	e.mustOK("PutLogEvents", putIn("g", "s", ev(now-20*24*60*60*1000, "ancient"), ev(now, "now")))
	// Exactly at the limits is fine.
	e.mustOK("PutLogEvents", putIn("g", "s", ev(now, strings.Repeat("z", maxEventBytes-eventOverhead))))
	e.mustOK("PutLogEvents", putIn("g", "s", ev(now-24*60*60*1000, "a"), ev(now, "b")))

	wantErr(t, e.call("PutLogEvents", putIn("g", "nope", ev(now, "x"))), 400, errResourceNotFound)
	wantErr(t, e.call("PutLogEvents", putIn("nope", "s", ev(now, "x"))), 400, errResourceNotFound)
}

func TestGetLogEvents(t *testing.T) {
	e := newEnv(t)
	now := nowMs()
	const n = 25
	ts := make([]int64, n)
	for i := range ts {
		ts[i] = now - int64(n-i)*10
	}
	e.seed("g", "s", ts...)
	e.seed("g", "empty")

	get := func(in m) getLogEventsOutput {
		t.Helper()
		in["logGroupName"], in["logStreamName"] = "g", "s"
		var out getLogEventsOutput
		e.mustOK("GetLogEvents", in).decode(t, &out)
		return out
	}
	msgs := func(out getLogEventsOutput) []string {
		var s []string
		for _, x := range out.Events {
			s = append(s, x.Message)
		}
		return s
	}
	want := func(from, to int) []string {
		var s []string
		for i := from; i < to; i++ {
			s = append(s, msgN("s", i))
		}
		return s
	}

	// Forward from the head, 10 at a time, until the token repeats.
	var all []string
	out := get(m{"startFromHead": true, "limit": 10})
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("forward pagination does not end")
		}
		all = append(all, msgs(out)...)
		next := get(m{"nextToken": out.NextForwardToken, "limit": 10})
		if next.NextForwardToken == out.NextForwardToken {
			if len(next.Events) != 0 {
				t.Fatalf("same token with events")
			}
			break
		}
		out = next
	}
	if !reflect.DeepEqual(all, want(0, n)) {
		t.Fatalf("forward pages %v", all)
	}

	// Default: the newest page, oldest first; then backward to the start.
	out = get(m{"limit": 10})
	if !reflect.DeepEqual(msgs(out), want(15, 25)) {
		t.Fatalf("tail page %v", msgs(out))
	}
	out = get(m{"nextToken": out.NextBackwardToken, "limit": 10})
	if !reflect.DeepEqual(msgs(out), want(5, 15)) {
		t.Fatalf("backward page %v", msgs(out))
	}
	out = get(m{"nextToken": out.NextBackwardToken, "limit": 10})
	if !reflect.DeepEqual(msgs(out), want(0, 5)) {
		t.Fatalf("last backward page %v", msgs(out))
	}
	tok := out.NextBackwardToken
	out = get(m{"nextToken": tok, "limit": 10})
	if len(out.Events) != 0 || out.NextBackwardToken != tok {
		t.Fatalf("past the beginning: %d events, token %q vs %q", len(out.Events), out.NextBackwardToken, tok)
	}
	// Forward from the beginning includes the first event again.
	if out = get(m{"nextToken": out.NextForwardToken, "limit": 2}); !reflect.DeepEqual(msgs(out), want(0, 2)) {
		t.Fatalf("forward after the beginning: %v", msgs(out))
	}

	// Time range: startTime inclusive, endTime exclusive.
	if out = get(m{"startTime": ts[3], "endTime": ts[6], "startFromHead": true}); !reflect.DeepEqual(msgs(out), want(3, 6)) {
		t.Fatalf("range: %v", msgs(out))
	}
	if out = get(m{"startTime": ts[3], "endTime": ts[3]}); len(out.Events) != 0 {
		t.Fatalf("empty range: %v", msgs(out))
	}
	if out = get(m{"endTime": 0}); len(out.Events) != 0 {
		t.Fatalf("endTime 0: %v", msgs(out))
	}

	// An empty stream: tokens that continue once events arrive.
	var empty getLogEventsOutput
	e.mustOK("GetLogEvents", m{"logGroupName": "g", "logStreamName": "empty", "startFromHead": true}).decode(t, &empty)
	if len(empty.Events) != 0 || empty.NextForwardToken == "" || empty.NextBackwardToken == "" {
		t.Fatalf("empty stream: %+v", empty)
	}
	e.mustOK("PutLogEvents", putIn("g", "empty", ev(now, "late")))
	e.mustOK("GetLogEvents", m{"logGroupName": "g", "logStreamName": "empty", "nextToken": empty.NextForwardToken}).decode(t, &empty)
	if len(empty.Events) != 1 || empty.Events[0].Message != "late" || empty.Events[0].IngestionTime == 0 {
		t.Fatalf("after append: %+v", empty)
	}

	// By ARN.
	var byARN getLogEventsOutput
	e.mustOK("GetLogEvents", m{"logGroupIdentifier": "arn:aws:logs:us-east-1:123456789012:log-group:g", "logStreamName": "s", "limit": 1}).decode(t, &byARN)
	if len(byARN.Events) != 1 {
		t.Fatalf("by ARN: %+v", byARN)
	}

	errs := []struct {
		in  m
		typ string
	}{
		{m{"logGroupName": "g", "logStreamName": "s", "nextToken": "f/123/s"}, errInvalidParameter},
		{m{"logGroupName": "g", "logStreamName": "s", "nextToken": "x/00000000000000000170141216578086158698376813536750927874/s"}, errInvalidParameter},
		{m{"logGroupName": "g", "logStreamName": "s", "nextToken": "f/0000000000000000017014121657808615869837681353675092787a/s"}, errInvalidParameter},
		{m{"logGroupName": "g", "logStreamName": "s", "nextToken": "f/99999999999999999999999999999999999999999999999999999999/s"}, errInvalidParameter},
		{m{"logGroupName": "g", "logStreamName": "s", "nextToken": filterPageToken(ts0(), 0)}, errInvalidParameter},
		{m{"logGroupName": "g", "logStreamName": "s", "limit": 0}, errInvalidParameter},
		{m{"logGroupName": "g", "logStreamName": "s", "limit": 10001}, errInvalidParameter},
		{m{"logGroupName": "g", "logStreamName": "s", "startTime": -1}, errInvalidParameter},
		{m{"logGroupName": "g", "logStreamName": "s", "startTime": 10, "endTime": 5}, errInvalidParameter},
		{m{"logGroupName": "g"}, errInvalidParameter},
		{m{"logStreamName": "s"}, errInvalidParameter},
		{m{"logGroupName": "g", "logStreamName": "missing"}, errResourceNotFound},
		{m{"logGroupName": "missing", "logStreamName": "s"}, errResourceNotFound},
	}
	for _, tc := range errs {
		wantErr(t, e.call("GetLogEvents", tc.in), 400, tc.typ)
	}
}

func TestGetLogEventsPageCap(t *testing.T) {
	e := newEnv(t)
	e.seed("g", "s")
	now := nowMs()
	// Three batches of ~600 KB; a page stops at 1 MB (messages + 26 each).
	msg := strings.Repeat("p", 300000)
	for i := range 3 {
		e.mustOK("PutLogEvents", putIn("g", "s", ev(now+int64(i*2), msg), ev(now+int64(i*2+1), msg)))
	}
	var out getLogEventsOutput
	e.mustOK("GetLogEvents", m{"logGroupName": "g", "logStreamName": "s", "startFromHead": true}).decode(t, &out)
	size := 0
	for _, x := range out.Events {
		size += len(x.Message) + eventOverhead
	}
	if len(out.Events) == 0 || len(out.Events) == 6 || size > maxPageBytes {
		t.Fatalf("page of %d events, %d bytes", len(out.Events), size)
	}
}

func TestFilterLogEvents(t *testing.T) {
	e := newEnv(t)
	now := nowMs()
	e.seed("g", "web-1")
	e.seed("g", "web-2")
	e.seed("g", "db-1")
	e.mustOK("PutLogEvents", putIn("g", "web-1", ev(now-50, "GET /a 200"), ev(now-30, "GET /b 500 ERROR"), ev(now-10, "GET /c 200")))
	e.mustOK("PutLogEvents", putIn("g", "web-2", ev(now-40, "POST /d 201"), ev(now-20, "GET /e 404 ERROR")))
	e.mustOK("PutLogEvents", putIn("g", "db-1", ev(now-45, "slow query ERROR"), ev(now-5, "checkpoint")))

	filter := func(in m) filterLogEventsOutput {
		t.Helper()
		in["logGroupName"] = "g"
		var out filterLogEventsOutput
		e.mustOK("FilterLogEvents", in).decode(t, &out)
		return out
	}
	msgs := func(out filterLogEventsOutput) []string {
		var s []string
		for _, x := range out.Events {
			s = append(s, x.LogStreamName+":"+x.Message)
		}
		return s
	}

	out := filter(m{})
	want := []string{"web-1:GET /a 200", "db-1:slow query ERROR", "web-2:POST /d 201", "web-1:GET /b 500 ERROR",
		"web-2:GET /e 404 ERROR", "web-1:GET /c 200", "db-1:checkpoint"}
	if !reflect.DeepEqual(msgs(out), want) {
		t.Fatalf("interleaved: %v", msgs(out))
	}
	ids := map[string]bool{}
	for _, x := range out.Events {
		if len(x.EventID) != posDigits || ids[x.EventID] || x.IngestionTime == 0 {
			t.Fatalf("event %+v (duplicate or malformed id)", x)
		}
		ids[x.EventID] = true
	}
	if len(out.SearchedLogStreams) != 3 || !out.SearchedLogStreams[0].SearchedCompletely || out.NextToken != "" {
		t.Errorf("searched %+v next %q", out.SearchedLogStreams, out.NextToken)
	}
	// Stable ids.
	if again := filter(m{}); again.Events[3].EventID != out.Events[3].EventID {
		t.Errorf("event id changed between calls")
	}

	if got := msgs(filter(m{"filterPattern": "ERROR"})); len(got) != 3 {
		t.Errorf("ERROR: %v", got)
	}
	if got := msgs(filter(m{"filterPattern": "ERROR", "logStreamNamePrefix": "web"})); !reflect.DeepEqual(got, []string{"web-1:GET /b 500 ERROR", "web-2:GET /e 404 ERROR"}) {
		t.Errorf("ERROR in web*: %v", got)
	}
	if got := msgs(filter(m{"logStreamNames": []string{"db-1"}})); !reflect.DeepEqual(got, []string{"db-1:slow query ERROR", "db-1:checkpoint"}) {
		t.Errorf("db-1: %v", got)
	}
	// endTime includes its own millisecond; startTime too.
	if got := msgs(filter(m{"startTime": now - 45, "endTime": now - 30})); !reflect.DeepEqual(got, want[1:4]) {
		t.Errorf("range: %v", got)
	}
	if got := msgs(filter(m{"filterPattern": "   "})); len(got) != 7 {
		t.Errorf("blank pattern: %v", got)
	}

	// Pages of 2 with tokens cover everything once.
	var paged []string
	in := m{"limit": 2}
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("pagination does not end")
		}
		o := filter(in)
		if len(o.Events) > 2 {
			t.Fatalf("page of %d", len(o.Events))
		}
		paged = append(paged, msgs(o)...)
		if o.NextToken == "" {
			break
		}
		in = m{"limit": 2, "nextToken": o.NextToken}
	}
	if !reflect.DeepEqual(paged, want) {
		t.Fatalf("paged %v", paged)
	}

	names101 := make([]string, 101)
	for i := range names101 {
		names101[i] = fmt.Sprint("s", i)
	}
	errs := []struct {
		in  m
		typ string
		msg string
	}{
		{m{"logGroupName": "g", "filterPattern": `{ $.a = `}, errInvalidParameter, msgInvalidFilter},
		{m{"logGroupName": "g", "filterPattern": strings.Repeat("a", 1025)}, errInvalidParameter, "less than or equal to 1024"},
		{m{"logGroupName": "g", "logStreamNames": []string{"a"}, "logStreamNamePrefix": "a"}, errInvalidParameter, "mutually exclusive"},
		{m{"logGroupName": "g", "logStreamNames": []string{}}, errInvalidParameter, "greater than or equal to 1"},
		{m{"logGroupName": "g", "logStreamNames": names101}, errInvalidParameter, "less than or equal to 100"},
		{m{"logGroupName": "g", "logStreamNames": []string{"a:b"}}, errInvalidParameter, "logStreamNames.1.member"},
		{m{"logGroupName": "g", "nextToken": "garbage!"}, errInvalidParameter, msgInvalidNextToken},
		{m{"logGroupName": "g", "nextToken": groupPageToken("g")}, errInvalidParameter, msgInvalidNextToken},
		{m{"logGroupName": "g", "limit": 10001}, errInvalidParameter, "10000"},
		{m{"logGroupName": "g", "startTime": 5, "endTime": 4}, errInvalidParameter, "startTime"},
		{m{"logGroupName": "g", "logGroupIdentifier": "g"}, errInvalidParameter, "mutually exclusive"},
		{m{"logGroupName": "missing"}, errResourceNotFound, msgGroupNotFound},
	}
	for _, tc := range errs {
		r := e.call("FilterLogEvents", tc.in)
		wantErr(t, r, 400, tc.typ)
		if !strings.Contains(r.errMessage(), tc.msg) {
			t.Errorf("%v: message %q does not contain %q", tc.in, r.errMessage(), tc.msg)
		}
	}
}

func ts0() logstore.Pos { return logstore.Pos{} }

// TestFilterLogEventsTimeBudget: with no time to scan, pages come back
// short with a nextToken, and paging still yields every event once, with
// no token repeated.
func TestFilterLogEventsTimeBudget(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.FilterBudget = time.Nanosecond })
	now := nowMs()
	want := 0
	for s := range 3 {
		stream := fmt.Sprint("s", s)
		e.seed("g", stream)
		events := make([]m, 3000)
		for i := range events {
			events[i] = ev(now-int64(3000-i), fmt.Sprintf("%s event %d", stream, i))
		}
		e.mustOK("PutLogEvents", putIn("g", stream, events...))
		want += len(events)
	}
	seen := map[string]bool{}
	tokens := map[string]bool{}
	in := m{"logGroupName": "g"}
	pages := 0
	for ; pages < 10000; pages++ {
		var out filterLogEventsOutput
		e.mustOK("FilterLogEvents", in).decode(t, &out)
		for _, x := range out.Events {
			if seen[x.EventID] {
				t.Fatalf("event %s twice", x.EventID)
			}
			seen[x.EventID] = true
		}
		if out.NextToken == "" {
			break
		}
		if tokens[out.NextToken] {
			t.Fatalf("token repeated")
		}
		tokens[out.NextToken] = true
		in = m{"logGroupName": "g", "nextToken": out.NextToken}
	}
	if len(seen) != want {
		t.Fatalf("paged %d events in %d pages, want %d", len(seen), pages+1, want)
	}
	// The store checks the deadline every 4096 records scanned.
	if pages == 0 {
		t.Errorf("%d events in one page despite an exhausted time budget", want)
	}
}
