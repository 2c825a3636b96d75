package cwlogs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/kinsight/kinsight/internal/logstore"
)

// batchBody is a PutLogEvents body of n container-log-sized events.
func batchBody(n int) []byte {
	now := nowMs()
	events := make([]m, n)
	for i := range events {
		events[i] = ev(now, fmt.Sprintf(`{"log":"GET /api/v1/items/%d 200 12ms","stream":"stdout","kubernetes":{"pod_name":"web-7d9f","namespace_name":"default"}}`, i))
	}
	b, _ := json.Marshal(putIn("g", "s", events...))
	return b
}

// BenchmarkDecodePutLogEvents measures decoding and validating a batch,
// the per-request work before the store.
func BenchmarkDecodePutLogEvents(b *testing.B) {
	h := NewHandler(nil, nil, Options{})
	body := batchBody(1000)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var in putLogEventsInput
		if err := decodeJSON(body, &in); err != nil {
			b.Fatal(err)
		}
		if _, _, err := h.validatePutLogEvents(&in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFilterLogEvents measures a full FilterLogEvents request over a
// real store holding 10,000 events, returning pages of 100.
func BenchmarkFilterLogEvents(b *testing.B) {
	store, err := logstore.Open(b.TempDir(), logstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	h := NewHandler(store, nil, Options{})
	serve := func(op string, body []byte) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		req.Header.Set("X-Amz-Target", targetPrefix+op)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("%s: %d %s", op, rec.Code, rec.Body)
		}
		return rec
	}
	serve("CreateLogGroup", []byte(`{"logGroupName":"g"}`))
	serve("CreateLogStream", []byte(`{"logGroupName":"g","logStreamName":"s"}`))
	for range 10 {
		serve("PutLogEvents", batchBody(1000))
	}
	body := []byte(`{"logGroupName":"g","filterPattern":"items","limit":100}`)
	b.ReportAllocs()
	for b.Loop() {
		rec := serve("FilterLogEvents", body)
		b.SetBytes(int64(rec.Body.Len()))
	}
}
