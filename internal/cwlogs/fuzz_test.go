package cwlogs

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"

	"github.com/kinsight/kinsight/internal/logstore"
)

// fuzzOps are the targets the fuzzer picks from; the last is unknown.
var fuzzOps = []string{
	"CreateLogGroup", "DeleteLogGroup", "DescribeLogGroups", "PutRetentionPolicy", "DeleteRetentionPolicy",
	"TagResource", "UntagResource", "ListTagsForResource", "TagLogGroup", "UntagLogGroup", "ListTagsLogGroup",
	"CreateLogStream", "DeleteLogStream", "DescribeLogStreams", "PutLogEvents", "GetLogEvents",
	"FilterLogEvents", putBatchOp, "NoSuchOperation",
}

// knownErrorTypes is every __type the handler may answer with for a
// request without authentication.
var knownErrorTypes = map[string]bool{
	errSerialization: true, errUnknownOperation: true, errInvalidParameter: true,
	errResourceNotFound: true, errResourceExists: true, errTooManyTags: true,
}

// FuzzDecodeRequest sends arbitrary bodies, in arbitrary encodings, to
// every operation of a handler over a real store: every answer must be a
// success or an AWS-shaped client error, never a panic or a 5xx.
func FuzzDecodeRequest(f *testing.F) {
	now := strconv.FormatInt(nowMs(), 10)
	seeds := []struct {
		op   uint8
		body string
	}{
		{0, `{"logGroupName":"g"}`},
		{11, `{"logGroupName":"g","logStreamName":"s"}`},
		{14, `{"logGroupName":"g","logStreamName":"s","logEvents":[{"timestamp":` + now + `,"message":"hello ERROR"}]}`},
		{14, `{"logGroupName":"g","logStreamName":"s","logEvents":[{"timestamp":2,"message":"b"},{"timestamp":1,"message":"a"}]}`},
		{15, `{"logGroupName":"g","logStreamName":"s","startFromHead":true,"limit":2}`},
		{15, `{"logGroupName":"g","logStreamName":"s","nextToken":"f/00000000000000000170141216578086158698376813536750927874/s"}`},
		{16, `{"logGroupName":"g","filterPattern":"ERROR","limit":1}`},
		{16, `{"logGroupIdentifier":"arn:aws:logs:us-east-1:000000000000:log-group:g:*","filterPattern":"{ $.a = 1 }"}`},
		{2, `{"limit":1,"logGroupNamePrefix":"g"}`},
		{2, `{"nextToken":"AQJnZwAAAAA"}`},
		{13, `{"logGroupName":"g","orderBy":"LastEventTime","descending":true}`},
		{3, `{"logGroupName":"g","retentionInDays":7}`},
		{5, `{"resourceArn":"arn:aws:logs:us-east-1:000000000000:log-group:g","tags":{"a":"b"}}`},
		{6, `{"resourceArn":"arn:aws:logs:us-east-1:000000000000:log-group:g","tagKeys":["a"]}`},
		{18, `{}`},
		{17, `{"parts":[{"logGroupName":"g","logStreamName":"s","logEvents":[{"timestamp":` + now + `,"message":"a"}],"positions":"v1;1,0,5"},{"logGroupName":"g","logStreamName":"nope","logEvents":[{"timestamp":` + now + `,"message":"b"}]}]}`},
		{17, `{"parts":[{"logGroupName":"g","logStreamName":"s","logEvents":[{"timestamp":2,"message":"b"},{"timestamp":1,"message":"a"}],"positions":"v1;zz"}]}`},
		{17, `{"parts":[]}`},
		{0, `{"logGroupName":"g\u0000"}`},
		{0, "{\"logGroupName\":\"\xff\"}"},
		{2, `[1,2,3]`},
		{2, ``},
		{2, "\xff\xff\xff\xff\x0f\x00"}, // as S2: a 4 GiB decoded length
	}
	for _, s := range seeds {
		for enc := uint8(0); enc < 6; enc++ {
			f.Add(s.op, enc, []byte(s.body))
		}
	}
	store, err := logstore.Open(f.TempDir(), logstore.Options{})
	if err != nil {
		f.Fatal(err)
	}
	defer store.Close()
	h := NewHandler(store, nil, Options{MaxRequestBytes: 1 << 20})
	zenc, err := zstd.NewWriter(nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, opIdx, encoding uint8, body []byte) {
		op := fuzzOps[int(opIdx)%len(fuzzOps)]
		raw, contentEncoding := body, ""
		switch encoding % 6 {
		case 1:
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			_, _ = zw.Write(body)
			_ = zw.Close()
			raw, contentEncoding = buf.Bytes(), "gzip"
		case 2:
			raw, contentEncoding = zenc.EncodeAll(body, nil), "zstd"
		case 3:
			// Claims gzip but is not.
			contentEncoding = "gzip"
		case 4:
			raw, contentEncoding = s2.Encode(nil, body), S2Encoding
		case 5:
			// Claims S2 but is not: a length header (a bomb's, maybe)
			// followed by anything.
			contentEncoding = S2Encoding
		}
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(raw))
		req.Header.Set("X-Amz-Target", targetPrefix+op)
		req.Header.Set("Content-Type", jsonType)
		if contentEncoding != "" {
			req.Header.Set("Content-Encoding", contentEncoding)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Header().Get("x-amzn-RequestId") == "" {
			t.Fatal("no request id")
		}
		if rec.Code == http.StatusOK {
			if !json.Valid(rec.Body.Bytes()) {
				t.Fatalf("200 with invalid JSON %q", rec.Body)
			}
			return
		}
		var e errorBody
		if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil {
			t.Fatalf("%d with non-JSON body %q", rec.Code, rec.Body)
		}
		if rec.Code >= 500 || rec.Code < 400 || !knownErrorTypes[e.Type] || e.Message == "" {
			t.Fatalf("%s %q: answered %d %s %q", op, body, rec.Code, e.Type, e.Message)
		}
	})
}

// FuzzTokens checks that no token parser panics and that every read token
// or event id it accepts is canonical (formats back to itself).
func FuzzTokens(f *testing.F) {
	f.Add("f/00000000000000000170141216578086158698376813536750927874/s")
	f.Add("b/00000000000000000000000000000000000000000000000000000000/s")
	f.Add(groupPageToken("/aws/eks/c/cluster"))
	f.Add(streamPageToken(true, logstore.Stream{Name: "s", LastEvent: 42}))
	f.Add(filterPageToken(logstore.Pos{Timestamp: -1, Seq: 7}, 3))
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		if backward, p, err := parseReadToken(s); err == nil {
			if got := formatReadToken(backward, p); got != s {
				t.Fatalf("read token %q re-formats as %q", s, got)
			}
		}
		if len(s) == posDigits {
			if p, err := parsePos(s); err == nil && formatPos(p) != s {
				t.Fatalf("event id %q re-formats as %q", s, formatPos(p))
			}
		}
		if g, err := parseGroupPageToken(s); err == nil && groupPageToken(g) != s {
			t.Fatalf("group token %q is not canonical", s)
		}
		for _, byEvent := range []bool{false, true} {
			if st, err := parseStreamPageToken(s, byEvent); err == nil && streamPageToken(byEvent, *st) != s {
				t.Fatalf("stream token %q is not canonical", s)
			}
		}
		if p, n, err := parseFilterPageToken(s); err == nil && filterPageToken(p, n) != s {
			t.Fatalf("filter token %q is not canonical", s)
		}
	})
}
