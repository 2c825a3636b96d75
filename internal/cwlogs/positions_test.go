package cwlogs

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/kinsight/kinsight/internal/config"
	"github.com/kinsight/kinsight/internal/logstore"
)

func TestParsePositions(t *testing.T) {
	p := func(src uint64, ch uint8, end int64) logstore.Position {
		return logstore.Position{Source: src, Channel: ch, End: end}
	}
	for _, tc := range []struct {
		in   string
		n    int
		want []logstore.Position
		err  string // part of the message, "" for success
	}{
		{"v1;a,0,10", 1, []logstore.Position{p(0xa, 0, 10)}, ""},
		{"v1;a,0,10,5,1", 3, []logstore.Position{p(0xa, 0, 10), p(0xa, 0, 15), p(0xa, 0, 16)}, ""},
		{"v1;ffffffffffffffff,255,0;1,1,9223372036854775806,1", 3,
			[]logstore.Position{p(1<<64-1, 255, 0), p(1, 1, 1<<63-2), p(1, 1, 1<<63-1)}, ""},
		{"v1;1,1,100;1,2,50;1,1,200,100", 4, []logstore.Position{p(1, 1, 100), p(1, 2, 50), p(1, 1, 200), p(1, 1, 300)}, ""},
		{"v1;0123456789abcdef,007,0", 1, []logstore.Position{p(0x0123456789abcdef, 7, 0)}, ""},

		{"", 1, nil, "at byte 0: must start with"},
		{"v2;a,0,1", 1, nil, "at byte 0: must start"},
		{"v1;", 1, nil, "at byte 3 (run 1): source"},
		{"v1;A,0,1", 1, nil, "at byte 3 (run 1): source"},
		{"v1;10000000000000000,0,1", 1, nil, "source must be 1 to 16"},
		{"v1;a0,256,1", 1, nil, "at byte 6 (run 1): channel"},
		{"v1;a,-1,1", 1, nil, "channel"},
		{"v1;a,0", 1, nil, "at byte 6 (run 1): expected ',' after the channel"},
		{"v1;a;0,1", 1, nil, "expected ',' after the source"},
		{"v1;a,0,-1", 1, nil, "at byte 7 (run 1): end"},
		{"v1;a,0,9223372036854775808", 1, nil, "end must be"},
		{"v1;a,0,1,0", 2, nil, "at byte 9 (run 1): delta"},
		{"v1;a,0,1,-1", 2, nil, "delta"},
		{"v1;a,0,9223372036854775807,1", 2, nil, "overflows"},
		{"v1;a,0,1;", 2, nil, "at byte 9 (run 2): source"},
		{"v1;a,0,1;;b,0,1", 2, nil, "run 2"},
		{"v1;a,0,1 ", 1, nil, "at byte 8 (run 1): expected ',' or ';'"},
		{"v1;a,0,1,1", 1, nil, "more than the 1 events"},
		{"v1;a,0,1;b,0,1", 1, nil, "at byte 13 (run 2): positions for more than"},
		{"v1;a,0,1", 2, nil, "positions for 1 events, the body has 2"},
		{"v1;a,0,+1", 1, nil, "end"},
		{"v1;a,0,1,+1", 2, nil, "delta"},
	} {
		got, err := parsePositions(tc.in, tc.n)
		if tc.err == "" {
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("%q: %v %v, want %v", tc.in, got, err, tc.want)
			}
			continue
		}
		var ae *apiError
		if !errors.As(err, &ae) || ae.Type != errInvalidParameter || !strings.Contains(ae.Message, positionsHeader) || !strings.Contains(ae.Message, tc.err) {
			t.Errorf("%q: error %v, want InvalidParameterException with %q", tc.in, err, tc.err)
		}
	}
}

// formatPositions is the reference encoder (as the agent writes the
// header): runs of one (source, channel) with increasing ends.
func formatPositions(ps []logstore.Position) string {
	var b strings.Builder
	b.WriteString("v1")
	for i, p := range ps {
		if i > 0 && ps[i-1].Source == p.Source && ps[i-1].Channel == p.Channel && p.End > ps[i-1].End {
			fmt.Fprintf(&b, ",%d", p.End-ps[i-1].End)
		} else {
			fmt.Fprintf(&b, ";%x,%d,%d", p.Source, p.Channel, p.End)
		}
	}
	return b.String()
}

func FuzzParsePositions(f *testing.F) {
	for _, s := range []string{"v1;a,0,10", "v1;a,0,10,5,1", "v1;ffffffffffffffff,255,0;1,1,9223372036854775806,1", "v1;a,0,1;", "v1;a,0,1,0"} {
		f.Add(s, 3)
	}
	f.Fuzz(func(t *testing.T, s string, n int) {
		if n < 0 || n > 10000 {
			return
		}
		got, err := parsePositions(s, n)
		if err != nil {
			var ae *apiError
			if !errors.As(err, &ae) || ae.Type != errInvalidParameter {
				t.Fatalf("%q: %v is not InvalidParameterException", s, err)
			}
			return
		}
		if len(got) != n {
			t.Fatalf("%q: %d positions for %d events", s, len(got), n)
		}
		for _, p := range got {
			if p.End < 0 {
				t.Fatalf("%q: negative end %d", s, p.End)
			}
		}
		again, err := parsePositions(formatPositions(got), n)
		if err != nil || !reflect.DeepEqual(again, got) {
			t.Fatalf("%q: re-encoded %q gives %v %v", s, formatPositions(got), again, err)
		}
	})
}

// putWithPositions sends PutLogEvents as the agent does, with the header
// signed, and returns the response.
func (e *env) putWithPositions(positions string, events ...m) result {
	e.t.Helper()
	b, err := json.Marshal(putIn("g", "s", events...))
	if err != nil {
		e.t.Fatal(err)
	}
	k := keyFor(config.RoleAgent)
	return e.rawCall("PutLogEvents", b, &k, map[string]string{positionsHeader: positions})
}

// Through the real handler, store and SigV4 verifier: repeats are skipped
// yet answered as accepted, counted, and reported in X-Kinsight-Duplicates.
func TestPutLogEventsPositions(t *testing.T) {
	e := newEnv(t)
	e.seed("g", "s")
	now := nowMs()
	ok := func(r result, dups int) {
		t.Helper()
		if r.status != http.StatusOK {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		if got := r.header.Get(duplicatesHeader); got != strconv.Itoa(dups) {
			t.Fatalf("%s = %q, want %d", duplicatesHeader, got, dups)
		}
		if strings.Contains(string(r.body), "rejected") {
			t.Fatalf("duplicates reported as rejected: %s", r.body)
		}
	}
	ok(e.putWithPositions("v1;a,1,10,10;a,2,5", ev(now, "out 1"), ev(now, "out 2"), ev(now, "err 1")), 0)
	// The agent restarted and sends the same records again, plus new ones.
	ok(e.putWithPositions("v1;a,1,10,10,10;a,2,5,5", ev(now, "out 1"), ev(now, "out 2"), ev(now+1, "out 3"), ev(now+1, "err 1"), ev(now+1, "err 2")), 3)
	if v := value(t, e.h.m.duplicates); v != 3 {
		t.Errorf("kinsight_logs_duplicate_events_total = %v, want 3", v)
	}
	// Without the header: no deduplication and no answer header.
	r := e.mustOK("PutLogEvents", putIn("g", "s", ev(now+2, "out 1")))
	if _, ok := r.header[duplicatesHeader]; ok {
		t.Errorf("%s without positions", duplicatesHeader)
	}
	var got filterLogEventsOutput
	e.mustOK("FilterLogEvents", m{"logGroupName": "g"}).decode(t, &got)
	var msgs []string
	for _, x := range got.Events {
		msgs = append(msgs, x.Message)
	}
	if want := []string{"out 1", "out 2", "err 1", "out 3", "err 2", "out 1"}; !reflect.DeepEqual(msgs, want) {
		t.Errorf("stored %q, want %q", msgs, want)
	}
	if v := value(t, e.h.m.ingestedEvents); v != 6 {
		t.Errorf("ingested events %v, want 6", v)
	}

	// A bad header fails the whole request, naming the header and where.
	before := value(t, e.h.m.rejectedEvents.WithLabelValues(rejectInvalid))
	for _, bad := range []string{"v1;a,1,10", "v1;a,1,10,0", "v1;xyz,1,10,1", "v2"} {
		r := e.putWithPositions(bad, ev(now, "x"), ev(now, "y"))
		wantErr(t, r, http.StatusBadRequest, errInvalidParameter)
		if msg := r.errMessage(); !strings.Contains(msg, positionsHeader) || !strings.Contains(msg, "at byte") {
			t.Errorf("%q: message %q", bad, msg)
		}
	}
	if v := value(t, e.h.m.rejectedEvents.WithLabelValues(rejectInvalid)) - before; v != 8 {
		t.Errorf("rejected invalid %v, want 8", v)
	}

	// The header is signed: changed after signing, the request is refused.
	b, _ := json.Marshal(putIn("g", "s", ev(now, "x")))
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/", strings.NewReader(string(b)))
	req.Header.Set("Content-Type", jsonType)
	req.Header.Set("X-Amz-Target", targetPrefix+"PutLogEvents")
	req.Header.Set(positionsHeader, "v1;a,1,1")
	sign(t, req, b, keyFor(config.RoleAgent))
	if !strings.Contains(req.Header.Get("Authorization"), strings.ToLower(positionsHeader)) {
		t.Fatalf("the SDK signer left %s out: %s", positionsHeader, req.Header.Get("Authorization"))
	}
	req.Header.Set(positionsHeader, "v1;a,1,2")
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusBadRequest {
		t.Errorf("tampered header: status %d", resp.StatusCode)
	}
}

// BenchmarkParsePositions parses the header of a full batch (10,000
// events, CRI stdout and stderr interleaved in runs of ten).
func BenchmarkParsePositions(b *testing.B) {
	ps := make([]logstore.Position, 10000)
	for i := range ps {
		ps[i] = logstore.Position{Source: 0x9f3a61c2b7d4e805, Channel: uint8(1 + i/10%2), End: int64(1_000_000 + i*180)}
	}
	h := formatPositions(ps)
	b.SetBytes(int64(len(h)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := parsePositions(h, len(ps)); err != nil {
			b.Fatal(err)
		}
	}
}
