package pipeline

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"time"
	"unsafe"

	"github.com/kinsight/kinsight/internal/agent/cri"
	"github.com/kinsight/kinsight/internal/agent/journal"
	"github.com/kinsight/kinsight/internal/jsonx"
)

// Records are built by hand into one reused buffer: this is the agent's
// hottest path after parsing, and the kubernetes object, identical for every
// record of a file, is encoded once per file (fileRoute.kubeJSON).

// bytesString views b as a string without copying; the string must not
// outlive b's next change.
func bytesString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// recordKeys are the keys a container record has before merging; merged
// fields with these names are dropped rather than written twice.
var recordKeys = []string{"log", "stream", "time", "kubernetes"}

// appendContainerRecord appends the Fluent Bit-style record Container
// Insights stores: {"log","stream","time","kubernetes"} and, when the
// message is a JSON object and merging is on, its fields under mergeKey
// (or at the top level when mergeKey is empty).
func appendContainerRecord(b []byte, fr *fileRoute, r *cri.Record, mergeKey string) []byte {
	b = append(b, `{"log":`...)
	b = jsonx.AppendString(b, bytesString(r.Message))
	b = append(b, `,"stream":`...)
	b = jsonx.AppendString(b, r.Stream)
	b = append(b, `,"time":"`...)
	b = r.Time.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","kubernetes":`...)
	b = append(b, fr.kubeJSON...)
	if fr.merge {
		b = appendMerged(b, r.Message, mergeKey)
	}
	return append(b, '}')
}

// appendQuotedContainerRecord appends the record appendContainerRecord
// writes, as a JSON string literal (what jsonx.AppendString would make of
// it), and returns the record's own length. Only the message and the
// merged fields are escaped here (the message twice); the kubernetes
// object, most of a record, was escaped once for the file
// (fr.kubeEscaped) and is not written: it belongs at the returned offset
// at in b (cloudwatch.Event.Shared), so a batch holds it once. tmp is
// scratch space, returned for reuse.
func appendQuotedContainerRecord(b, tmp []byte, fr *fileRoute, r *cri.Record, mergeKey string) (_, _ []byte, size, at int) {
	start := len(b)
	b = append(b, `"{\"log\":`...)
	tmp = jsonx.AppendString(tmp[:0], bytesString(r.Message))
	size = len(`{"log":`) + len(tmp)
	b = jsonx.AppendEscaped(b, bytesString(tmp))
	b = append(b, `,\"stream\":\"`...)
	b = append(b, r.Stream...) // "stdout" or "stderr": nothing to escape
	b = append(b, `\",\"time\":\"`...)
	n := len(b)
	b = r.Time.UTC().AppendFormat(b, time.RFC3339Nano)
	size += len(`,"stream":""`) + len(r.Stream) + len(`,"time":"`) + len(b) - n
	b = append(b, `\",\"kubernetes\":`...)
	at = len(b) - start
	size += len(`","kubernetes":`) + len(fr.kubeJSON)
	if fr.merge {
		tmp = appendMerged(tmp[:0], r.Message, mergeKey)
		size += len(tmp)
		b = jsonx.AppendEscaped(b, bytesString(tmp))
	}
	return append(b, `}"`...), tmp, size + 1, at
}

// jsonObject returns msg trimmed if it is one JSON object, else nil.
func jsonObject(msg []byte) []byte {
	msg = bytes.TrimSpace(msg)
	if len(msg) < 2 || msg[0] != '{' || msg[len(msg)-1] != '}' || !json.Valid(msg) {
		return nil
	}
	return msg
}

// appendMerged appends ,"key":{…} or the object's own fields.
func appendMerged(b, msg []byte, key string) []byte {
	obj := jsonObject(msg)
	if obj == nil {
		return b
	}
	if key != "" {
		b = append(b, ',')
		b = jsonx.AppendString(b, key)
		b = append(b, ':')
		return append(b, obj...)
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(obj, &fields) != nil {
		return b
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		if !slices.Contains(recordKeys, k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		b = append(b, ',')
		b = jsonx.AppendString(b, k)
		b = append(b, ':')
		b = append(b, fields[k]...)
	}
	return b
}

// appendJournalRecord appends a journal entry with journald's field names,
// as Fluent Bit's systemd input (Strip_Underscores off) writes it.
func appendJournalRecord(b []byte, e *journal.Entry) []byte {
	b = append(b, `{"MESSAGE":`...)
	b = jsonx.AppendString(b, bytesString(e.Message))
	if e.Priority >= 0 {
		b = append(b, `,"PRIORITY":"`...)
		b = strconv.AppendInt(b, int64(e.Priority), 10)
		b = append(b, '"')
	}
	for _, f := range [...]struct{ k, v string }{{"_HOSTNAME", e.Host}, {"_PID", e.PID}, {"_SYSTEMD_UNIT", e.Unit}} {
		if f.v != "" {
			b = append(b, ',')
			b = jsonx.AppendString(b, f.k)
			b = append(b, ':')
			b = jsonx.AppendString(b, f.v)
		}
	}
	return append(b, '}')
}
