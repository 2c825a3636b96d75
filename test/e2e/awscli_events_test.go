package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

type acPutOut struct {
	NextSequenceToken     string `json:"nextSequenceToken"`
	RejectedLogEventsInfo *struct {
		TooNewLogEventStartIndex *int `json:"tooNewLogEventStartIndex"`
		TooOldLogEventEndIndex   *int `json:"tooOldLogEventEndIndex"`
		ExpiredLogEventEndIndex  *int `json:"expiredLogEventEndIndex"`
	} `json:"rejectedLogEventsInfo"`
}

type acGetOut struct {
	Events            []acEvent `json:"events"`
	NextForwardToken  string    `json:"nextForwardToken"`
	NextBackwardToken string    `json:"nextBackwardToken"`
}

func intp(p *int) string {
	if p == nil {
		return "absent"
	}
	return fmt.Sprint(*p)
}

// TestAWSCLIPutGet puts events with `aws logs put-log-events` (accepted,
// partly rejected and refused batches) and reads them back with
// get-log-events in both directions.
func TestAWSCLIPutGet(t *testing.T) {
	t.Parallel()
	p := startServer(t, "", withKeys())
	s := newACSeed(t, p)
	const g = "/e2e/events"
	s.group(g)
	for _, st := range []string{"rejected", "limits", "paged"} {
		s.stream(g, st)
	}
	get := func(c acli, stream string) []acEvent {
		var out acGetOut
		c.ok(&out, "logs", "get-log-events", "--log-group-name", g, "--log-stream-name", stream, "--start-from-head")
		return out.Events
	}

	// AWS (RejectedLogEventsInfo): tooOldLogEventEndIndex is "the index of
	// the last log event that is too old. This field is exclusive";
	// tooNewLogEventStartIndex "the index of the first log event that is
	// too new. This field is inclusive"; expiredLogEventEndIndex, the
	// events older than the group's retention, ends likewise. PutLogEvents
	// rejects events more than 14 days old or more than 2 hours ahead.
	t.Run("Rejected", func(t *testing.T) {
		c := newACLI(t, p, adminKey, adminSecret)
		const h = int64(time.Hour / time.Millisecond)
		now := time.Now().UnixMilli()
		batch := []acEvent{
			{Timestamp: now - 15*24*h, Message: "old-0"},
			{Timestamp: now - 14*24*h - h, Message: "old-1"},
			{Timestamp: now - h, Message: "ok-2"},
			{Timestamp: now - h/2, Message: "ok-3"},
			{Timestamp: now + 3*h, Message: "new-4"},
			{Timestamp: now + 5*h, Message: "new-5"},
		}
		var out acPutOut
		c.ok(&out, "logs", "put-log-events", "--log-group-name", g, "--log-stream-name", "rejected", "--log-events", acEventsFile(t, batch))
		r := out.RejectedLogEventsInfo
		if r == nil || intp(r.TooOldLogEventEndIndex) != "2" || intp(r.TooNewLogEventStartIndex) != "4" || r.ExpiredLogEventEndIndex != nil {
			t.Fatalf("rejectedLogEventsInfo %+v, want tooOld end 2, tooNew start 4, no expired", out)
		}
		if out.NextSequenceToken == "" {
			t.Errorf("no nextSequenceToken")
		}

		// With a retention of 1 day, events older than a day are expired.
		// The accepted ones (not expired, not too old or new) span under 24
		// hours, which a batch must.
		c.ok(nil, "logs", "put-retention-policy", "--log-group-name", g, "--retention-in-days", "1")
		now = time.Now().UnixMilli()
		batch = []acEvent{
			{Timestamp: now - 20*24*h, Message: "old-0"},
			{Timestamp: now - 25*h, Message: "expired-1"},
			{Timestamp: now - 24*h - h/2, Message: "expired-2"},
			{Timestamp: now - 2*h, Message: "b-ok-3"},
			{Timestamp: now - 90*h/60, Message: "b-ok-4"},
			{Timestamp: now + 2*h + 10*60*1000, Message: "new-5"},
		}
		out = acPutOut{}
		c.ok(&out, "logs", "put-log-events", "--log-group-name", g, "--log-stream-name", "rejected", "--log-events", acEventsFile(t, batch))
		r = out.RejectedLogEventsInfo
		if r == nil || intp(r.TooOldLogEventEndIndex) != "1" || intp(r.ExpiredLogEventEndIndex) != "3" || intp(r.TooNewLogEventStartIndex) != "5" {
			t.Fatalf("rejectedLogEventsInfo {tooOld %s expired %s tooNew %s}, want 1, 3, 5",
				intp(r.TooOldLogEventEndIndex), intp(r.ExpiredLogEventEndIndex), intp(r.TooNewLogEventStartIndex))
		}
		c.ok(nil, "logs", "delete-retention-policy", "--log-group-name", g)
		// Only the accepted events were stored, in time order.
		acEqual(t, "stored events", acMessages(get(c, "rejected")), []string{"b-ok-3", "b-ok-4", "ok-2", "ok-3"})
	})

	t.Run("Refused", func(t *testing.T) {
		c := newACLI(t, p, adminKey, adminSecret)
		now := time.Now().Add(-time.Minute).UnixMilli()
		// Unordered.
		msg := c.fails("InvalidParameterException", "logs", "put-log-events", "--log-group-name", g, "--log-stream-name", "limits",
			"--log-events", acEventsFile(t, []acEvent{{Timestamp: now, Message: "b"}, {Timestamp: now - 1000, Message: "a"}}))
		if !strings.Contains(msg, "chronological") {
			t.Errorf("unordered batch: %s", msg)
		}
		// 10,001 events; 10,000 is the limit.
		many := make([]acEvent, 10001)
		for i := range many {
			many[i] = acEvent{Timestamp: now, Message: "x"}
		}
		c.fails("InvalidParameterException", "logs", "put-log-events", "--log-group-name", g, "--log-stream-name", "limits",
			"--log-events", acEventsFile(t, many))
		// A batch is sized as the sum of its messages' bytes plus 26 per
		// event, at most 1,048,576: four events of 262,118 bytes are
		// exactly that, five of 210,000 are over.
		over := make([]acEvent, 5)
		for i := range over {
			over[i] = acEvent{Timestamp: now + int64(i), Message: strings.Repeat(string(rune('a'+i)), 210000)}
		}
		c.fails("InvalidParameterException", "logs", "put-log-events", "--log-group-name", g, "--log-stream-name", "limits",
			"--log-events", acEventsFile(t, over))
		exact := make([]acEvent, 4)
		for i := range exact {
			exact[i] = acEvent{Timestamp: now + int64(i), Message: strings.Repeat(string(rune('k'+i)), 1048576/4-26)}
		}
		c.ok(nil, "logs", "put-log-events", "--log-group-name", g, "--log-stream-name", "limits", "--log-events", acEventsFile(t, exact))
		c.ok(nil, "logs", "put-log-events", "--log-group-name", g, "--log-stream-name", "limits", "--log-events", acEventsFile(t, many[:10000]))
		if got := s.count(g, "limits"); got != 10004 {
			t.Fatalf("stream holds %d events after the two accepted batches, want 10,004 (none of the refused ones)", got)
		}
	})

	// 2,500 events, two for each timestamp so that paging cannot rely on
	// timestamps alone, read back page by page.
	const total, limit = 2500, 250
	base := time.Now().Add(-time.Hour).UnixMilli()
	paged := make([]acEvent, total)
	for i := range paged {
		paged[i] = acEvent{Timestamp: base + int64(i/2)*10, Message: fmt.Sprintf("event %04d", i)}
	}
	want := acMessages(paged)
	t.Run("PutBig", func(t *testing.T) {
		c := newACLI(t, p, adminKey, adminSecret)
		var out acPutOut
		c.ok(&out, "logs", "put-log-events", "--log-group-name", g, "--log-stream-name", "paged", "--log-events", acEventsFile(t, paged))
		if out.RejectedLogEventsInfo != nil {
			t.Fatalf("rejected: %+v", out)
		}
	})

	t.Run("GetForward", func(t *testing.T) {
		c := newACLI(t, p, readerKey, readerSecret)
		var got []acEvent
		token := ""
		for calls := 1; ; calls++ {
			if calls > total/limit+3 {
				t.Fatalf("nextForwardToken did not repeat after %d calls", calls-1)
			}
			args := []string{"logs", "get-log-events", "--log-group-name", g, "--log-stream-name", "paged", "--limit", fmt.Sprint(limit)}
			if token == "" {
				args = append(args, "--start-from-head")
			} else {
				args = append(args, "--next-token", token)
			}
			var out acGetOut
			c.ok(&out, args...)
			if len(out.Events) > limit {
				t.Fatalf("page of %d events, more than --limit %d", len(out.Events), limit)
			}
			got = append(got, out.Events...)
			if out.NextForwardToken == "" {
				t.Fatalf("no nextForwardToken")
			}
			// The stream ends where the token comes back unchanged.
			if out.NextForwardToken == token {
				if len(out.Events) != 0 {
					t.Errorf("the page that repeated the token had %d events", len(out.Events))
				}
				break
			}
			token = out.NextForwardToken
		}
		acEqual(t, "forward", acMessages(got), want)
		for i, e := range got {
			if i < len(paged) && (e.Timestamp != paged[i].Timestamp || e.IngestionTime < base) {
				t.Fatalf("event %d: timestamp %d ingestionTime %d, want timestamp %d", i, e.Timestamp, e.IngestionTime, paged[i].Timestamp)
			}
		}
	})

	t.Run("GetBackward", func(t *testing.T) {
		c := newACLI(t, p, readerKey, readerSecret)
		var pages [][]acEvent
		token := ""
		for calls := 1; ; calls++ {
			if calls > total/limit+3 {
				t.Fatalf("nextBackwardToken did not repeat after %d calls", calls-1)
			}
			// Without --start-from-head the first page is the newest.
			args := []string{"logs", "get-log-events", "--log-group-name", g, "--log-stream-name", "paged", "--limit", fmt.Sprint(limit)}
			if token != "" {
				args = append(args, "--next-token", token)
			}
			var out acGetOut
			c.ok(&out, args...)
			if calls == 1 && len(out.Events) != limit {
				t.Fatalf("newest page has %d events, want %d", len(out.Events), limit)
			}
			pages = append(pages, out.Events)
			if out.NextBackwardToken == token {
				if len(out.Events) != 0 {
					t.Errorf("the page that repeated the token had %d events", len(out.Events))
				}
				break
			}
			token = out.NextBackwardToken
		}
		// Each page is in time order; pages come newest first.
		var got []acEvent
		for _, pg := range slices.Backward(pages) {
			got = append(got, pg...)
		}
		acEqual(t, "backward", acMessages(got), want)
	})

	t.Run("GetTimeRange", func(t *testing.T) {
		c := newACLI(t, p, readerKey, readerSecret)
		// GetLogEvents: startTime includes its millisecond, endTime does not
		// ("Events with a timestamp equal to or later than this time are
		// not included").
		start, end := paged[100].Timestamp, paged[300].Timestamp
		var out acGetOut
		c.ok(&out, "logs", "get-log-events", "--log-group-name", g, "--log-stream-name", "paged", "--start-from-head",
			"--start-time", fmt.Sprint(start), "--end-time", fmt.Sprint(end))
		acEqual(t, "[event 100, event 300)", acMessages(out.Events), want[100:300])
	})
}
