package cloudwatch

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
)

func sized(n, size int, step int64) []Event {
	evs := make([]Event, n)
	for i := range evs {
		evs[i] = Event{Timestamp: int64(i) * step, Message: strings.Repeat("m", size)}
	}
	return evs
}

func TestNextBatch(t *testing.T) {
	for _, tc := range []struct {
		name   string
		events []Event
		n      int
	}{
		{"empty", nil, 0},
		{"one", sized(1, 1, 0), 1},
		{"count limit", sized(MaxBatchEvents+5, 1, 0), MaxBatchEvents},
		{"bytes exactly", sized(1024, 1024-EventOverhead, 0), 1024},
		{"bytes one over", append(sized(1023, 1024-EventOverhead, 0), Event{Timestamp: 0, Message: strings.Repeat("m", 1024-EventOverhead+1)}), 1023},
		{"max message alone", sized(2, MaxMessageBytes, 0), 1},
		{"span exactly 24h", sized(2, 1, MaxBatchSpanMs), 2},
		{"span over 24h", []Event{{Timestamp: 0, Message: "a"}, {Timestamp: MaxBatchSpanMs + 1, Message: "b"}}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, size := nextBatch(tc.events)
			if n != tc.n {
				t.Fatalf("n = %d, want %d", n, tc.n)
			}
			want := 0
			for _, e := range tc.events[:n] {
				want += len(e.Message) + EventOverhead
			}
			if size != want || size > MaxBatchBytes {
				t.Errorf("size = %d, want %d (≤ %d)", size, want, MaxBatchBytes)
			}
		})
	}
}

func TestPrepare(t *testing.T) {
	long := strings.Repeat("ü", MaxMessageBytes) // 2 bytes a rune: cut mid-rune
	p, err := prepare([]Event{{Timestamp: 1, Message: "ok"}, {Timestamp: 2, Message: ""}, {Timestamp: -1 + 3, Message: "x\xff"}, {Timestamp: 4, Message: long}, {Timestamp: 5, Message: "tail"}})
	if err != nil {
		t.Fatal(err)
	}
	if p.invalid != 1 || p.truncated != 1 || len(p.events) != 4 {
		t.Fatalf("invalid %d truncated %d events %d", p.invalid, p.truncated, len(p.events))
	}
	if p.events[1].Message != "x\uFFFD" {
		t.Errorf("invalid UTF-8 became %q", p.events[1].Message)
	}
	if m := p.events[2].Message; len(m) > MaxMessageBytes || !utf8.ValidString(m) || !strings.HasSuffix(m, TruncationMarker) {
		t.Errorf("truncated message: %d bytes, valid %v", len(m), utf8.ValidString(m))
	}
	// Acked prefixes map back to input indexes: after 1 sent event, the
	// dropped empty one at input 1 is behind us too only once index 2 is.
	for _, tc := range []struct{ n, want int }{{0, 0}, {1, 2}, {2, 3}, {4, 5}} {
		if got := p.orig(tc.n, 5); got != tc.want {
			t.Errorf("orig(%d) = %d, want %d", tc.n, got, tc.want)
		}
	}
	if _, err := prepare([]Event{{Timestamp: 2, Message: "a"}, {Timestamp: 1, Message: "b"}}); err == nil {
		t.Error("unordered input accepted")
	}
	same := []Event{{Timestamp: 1, Message: "a"}, {Timestamp: 1, Message: "b"}}
	if p, _ := prepare(same); &p.events[0] != &same[0] || p.orig(1, 2) != 1 {
		t.Error("clean input was copied")
	}
}

func TestRejectedCounts(t *testing.T) {
	for _, tc := range []struct {
		name                   string
		info                   types.RejectedLogEventsInfo
		tooOld, expired, tooNw int
	}{
		{"none", types.RejectedLogEventsInfo{}, 0, 0, 0},
		{"too old", types.RejectedLogEventsInfo{TooOldLogEventEndIndex: aws.Int32(3)}, 3, 0, 0},
		{"expired beyond too old", types.RejectedLogEventsInfo{TooOldLogEventEndIndex: aws.Int32(2), ExpiredLogEventEndIndex: aws.Int32(5)}, 2, 3, 0},
		{"too new", types.RejectedLogEventsInfo{TooNewLogEventStartIndex: aws.Int32(8)}, 0, 0, 2},
		{"all", types.RejectedLogEventsInfo{TooOldLogEventEndIndex: aws.Int32(1), ExpiredLogEventEndIndex: aws.Int32(1), TooNewLogEventStartIndex: aws.Int32(9)}, 1, 0, 1},
		{"out of range", types.RejectedLogEventsInfo{TooOldLogEventEndIndex: aws.Int32(50), TooNewLogEventStartIndex: aws.Int32(-4)}, 10, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b, c := rejectedCounts(&tc.info, 10)
			if a != tc.tooOld || b != tc.expired || c != tc.tooNw {
				t.Errorf("got %d/%d/%d, want %d/%d/%d", a, b, c, tc.tooOld, tc.expired, tc.tooNw)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	for attempt := range 70 {
		ceiling := min(time.Second, 10*time.Millisecond<<min(attempt, 20))
		for range 50 {
			if d := backoff(10*time.Millisecond, time.Second, attempt); d <= 0 || d > ceiling+time.Millisecond {
				t.Fatalf("attempt %d: %v outside (0, %v]", attempt, d, ceiling)
			}
		}
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		want string // substring of the error; "" for valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"kinsight", func(c *Config) { c.Endpoint = "https://k:8470"; c.AccessKeyID, c.SecretAccessKey = "a", "b" }, ""},
		{"bad endpoint", func(c *Config) { c.Endpoint = "k:8470" }, "x.endpoint"},
		{"half key", func(c *Config) { c.AccessKeyID = "a" }, "x.access_key_id"},
		{"compression", func(c *Config) { c.Compression = "lz4" }, "x.compression"},
		{"retries", func(c *Config) { c.MaxRetries = -1 }, "x.max_retries"},
		{"retry base", func(c *Config) { c.RetryBase = 0 }, "x.retry_base"},
		{"retry max", func(c *Config) { c.RetryMax = time.Millisecond }, "x.retry_max"},
		{"timeout", func(c *Config) { c.RequestTimeout = 0 }, "x.request_timeout"},
		{"class", func(c *Config) { c.LogGroupClass = "COLD" }, "x.log_group_class"},
		{"retention", func(c *Config) { c.RetentionDays = 2 }, "x.retention_days"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.mod(&c)
			err := c.Validate("x")
			if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("Validate = %v, want %q", err, tc.want)
			}
		})
	}
	for _, tc := range []struct{ compression, endpoint, want string }{
		{CompressionAuto, "", ""}, {CompressionAuto, "http://k", S2Encoding}, {CompressionGzip, "", "gzip"}, {CompressionNone, "http://k", ""},
	} {
		c := Config{Compression: tc.compression, Endpoint: tc.endpoint}
		if got := c.encoding(); got != tc.want {
			t.Errorf("encoding(%s, %q) = %q, want %q", tc.compression, tc.endpoint, got, tc.want)
		}
	}
}

// FuzzSplit checks Send's batching invariants on arbitrary event shapes:
// every sendable event is in exactly one batch, in order, and each batch
// is within every limit.
func FuzzSplit(f *testing.F) {
	f.Add([]byte{1, 2, 3}, []byte{0, 0, 0}, uint16(10))
	f.Add([]byte{255, 0, 255}, []byte{200, 200, 1}, uint16(4000))
	f.Add([]byte("\xff\xfe"), []byte{0}, uint16(65535))
	f.Fuzz(func(t *testing.T, gaps, sizes []byte, scale uint16) {
		var evs []Event
		ts := int64(0)
		for i, g := range gaps {
			ts += int64(g) * int64(scale) * 1000
			size := 1
			if i < len(sizes) {
				size = int(sizes[i]) * int(scale) // up to ~16 MB
			}
			msg := strings.Repeat("a", size%(3*MaxBatchBytes))
			if size%7 == 0 {
				msg = ""
			}
			evs = append(evs, Event{Timestamp: ts, Message: msg})
		}
		p, err := prepare(evs)
		if err != nil {
			t.Fatal(err)
		}
		total := 0
		for done := 0; done < len(p.events); {
			n, size := nextBatch(p.events[done:])
			if n < 1 || n > MaxBatchEvents || size > MaxBatchBytes {
				t.Fatalf("batch n=%d size=%d", n, size)
			}
			b := p.events[done : done+n]
			if b[n-1].Timestamp-b[0].Timestamp > MaxBatchSpanMs {
				t.Fatalf("span %d", b[n-1].Timestamp-b[0].Timestamp)
			}
			done += n
			total += n
		}
		if total+p.invalid != len(evs) {
			t.Fatalf("%d sent + %d invalid != %d", total, p.invalid, len(evs))
		}
	})
}
