package journal

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Entry is one journal entry, reduced to what the dataplane group needs.
type Entry struct {
	Time     time.Time // __REALTIME_TIMESTAMP (zero when absent)
	Unit     string    // _SYSTEMD_UNIT, or SYSLOG_IDENTIFIER when there is no unit
	Message  []byte    // MESSAGE, raw bytes (may be binary), capped at MaxMessageBytes
	Priority int       // PRIORITY (0 emerg … 7 debug), -1 if absent
	Host     string    // _HOSTNAME
	PID      string    // _PID
	Cursor   string    // __CURSOR: pass it to Reader.Ack once delivered
}

// outputFields are the fields journalctl is asked to print (it always adds
// __CURSOR and the timestamps).
const outputFields = "MESSAGE,PRIORITY,_SYSTEMD_UNIT,SYSLOG_IDENTIFIER,_HOSTNAME,_PID"

// errNoCursor marks a line that decoded but carries no __CURSOR; such an
// entry could never be acknowledged, so it is reported rather than emitted.
var errNoCursor = errors.New("entry has no __CURSOR")

// parseEntry decodes one line of `journalctl -o json`. It reports whether
// the message was truncated to maxMsg bytes.
func parseEntry(line []byte, maxMsg int) (Entry, bool, error) {
	// Decoding into named fields (not a map) skips every other field
	// without allocating for it. Journal field names are upper case by
	// rule, so encoding/json's case-insensitive matching changes nothing.
	var raw struct {
		Cursor   json.RawMessage `json:"__CURSOR"`
		Realtime json.RawMessage `json:"__REALTIME_TIMESTAMP"`
		Unit     json.RawMessage `json:"_SYSTEMD_UNIT"`
		Ident    json.RawMessage `json:"SYSLOG_IDENTIFIER"`
		Message  json.RawMessage `json:"MESSAGE"`
		Priority json.RawMessage `json:"PRIORITY"`
		Host     json.RawMessage `json:"_HOSTNAME"`
		PID      json.RawMessage `json:"_PID"`
	}
	if err := json.Unmarshal(line, &raw); err != nil {
		return Entry{}, false, fmt.Errorf("decode journal entry: %w", err)
	}
	e := Entry{Priority: -1}
	var err error
	str := func(key string, v json.RawMessage) string {
		if len(v) == 0 || err != nil {
			return ""
		}
		var b []byte
		b, err = fieldValue(v)
		if err != nil {
			err = fmt.Errorf("field %s: %w", key, err)
		}
		return string(b)
	}
	e.Cursor = str("__CURSOR", raw.Cursor)
	if ts := str("__REALTIME_TIMESTAMP", raw.Realtime); ts != "" {
		if us, perr := strconv.ParseInt(ts, 10, 64); perr == nil {
			e.Time = time.UnixMicro(us)
		}
	}
	e.Unit = str("_SYSTEMD_UNIT", raw.Unit)
	if e.Unit == "" {
		e.Unit = str("SYSLOG_IDENTIFIER", raw.Ident)
	}
	if p := str("PRIORITY", raw.Priority); p != "" {
		if n, perr := strconv.Atoi(p); perr == nil && n >= 0 && n <= 7 {
			e.Priority = n
		}
	}
	e.Host = str("_HOSTNAME", raw.Host)
	e.PID = str("_PID", raw.PID)
	truncated := false
	if len(raw.Message) > 0 && err == nil {
		e.Message, err = fieldValue(raw.Message)
		if err != nil {
			err = fmt.Errorf("field MESSAGE: %w", err)
		}
		if maxMsg > 0 && len(e.Message) > maxMsg {
			e.Message = e.Message[:maxMsg:maxMsg]
			truncated = true
		}
	}
	if err != nil {
		return Entry{}, false, fmt.Errorf("decode journal entry: %w", err)
	}
	if e.Cursor == "" {
		return Entry{}, false, errNoCursor
	}
	return e, truncated, nil
}

// fieldValue decodes one field in any shape journalctl prints it:
// "text", null, [byte, byte, …] for binary data, or an array of those for a
// field repeated in the entry, of which the first value is taken (journald
// keeps repeated fields in the order they were logged).
func fieldValue(raw json.RawMessage) ([]byte, error) {
	raw = trimSpace(raw)
	if len(raw) == 0 {
		return nil, errors.New("empty value")
	}
	switch raw[0] {
	case 'n':
		if string(raw) != "null" {
			return nil, fmt.Errorf("bad literal %.16q", raw)
		}
		return nil, nil
	case '"':
		if len(raw) >= 2 && raw[len(raw)-1] == '"' && bytes.IndexByte(raw[1:len(raw)-1], '\\') < 0 {
			// No escapes: the bytes between the quotes are the value (the
			// whole line was validated by json.Unmarshal already, and raw
			// is its own copy, not the read buffer).
			return raw[1 : len(raw)-1], nil
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		return []byte(s), nil
	case '[':
		var elems []json.RawMessage
		if err := json.Unmarshal(raw, &elems); err != nil {
			return nil, err
		}
		if len(elems) == 0 {
			return []byte{}, nil
		}
		first := trimSpace(elems[0])
		if len(first) > 0 && (first[0] == '"' || first[0] == '[' || first[0] == 'n') {
			// A repeated field: each element is itself a value.
			return fieldValue(first)
		}
		out := make([]byte, len(elems))
		for i, el := range elems {
			n, err := strconv.ParseUint(string(trimSpace(el)), 10, 8)
			if err != nil {
				return nil, fmt.Errorf("byte array element %d: %w", i, err)
			}
			out[i] = byte(n)
		}
		return out, nil
	default:
		// journalctl prints only strings, but a number is harmless.
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return nil, fmt.Errorf("unexpected value %.16q: %w", raw, err)
		}
		return []byte(n.String()), nil
	}
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\n' || b[0] == '\r') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}
