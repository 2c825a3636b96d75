package cri

import (
	"bytes"
	"time"
)

// Stream indexes; the container runtimes only ever write these two.
const (
	streamStdout = 0
	streamStderr = 1
)

var streamNames = [2]string{"stdout", "stderr"}

// parseCRILine splits one CRI log line (without its trailing newline):
//
//	<RFC3339Nano timestamp> <stdout|stderr> <P|F>[:<more tags>] <message>
//
// msg aliases line. A missing message after the tag is an empty message,
// because containerd writes "… F " for an empty line and a truncated line
// should not become garbage.
func parseCRILine(line []byte) (t time.Time, stream int, partial bool, msg []byte, ok bool) {
	sp := bytes.IndexByte(line, ' ')
	if sp < 0 {
		return t, 0, false, nil, false
	}
	t, ok = parseTimestamp(line[:sp])
	if !ok {
		return t, 0, false, nil, false
	}
	rest := line[sp+1:]
	switch {
	case bytes.HasPrefix(rest, []byte("stdout ")):
		stream = streamStdout
	case bytes.HasPrefix(rest, []byte("stderr ")):
		stream = streamStderr
	default:
		return t, 0, false, nil, false
	}
	rest = rest[len("stdout "):]
	// Tags: the first is P or F; kubelet reserves ":" for more tags later.
	if len(rest) == 0 || (rest[0] != 'P' && rest[0] != 'F') {
		return t, 0, false, nil, false
	}
	partial = rest[0] == 'P'
	end := bytes.IndexByte(rest, ' ')
	tag := rest
	if end >= 0 {
		tag = rest[:end]
		msg = rest[end+1:]
	} else {
		msg = rest[len(rest):]
	}
	if len(tag) > 1 && tag[1] != ':' {
		return t, 0, false, nil, false
	}
	return t, stream, partial, msg, true
}

// parseTimestamp parses RFC 3339 with optional fractional seconds (any number
// of digits, nanoseconds kept) and a Z or ±hh:mm offset, by hand: it is on the
// per-line hot path and time.Parse costs several times more.
func parseTimestamp(b []byte) (time.Time, bool) {
	if len(b) < 20 || b[4] != '-' || b[7] != '-' || (b[10] != 'T' && b[10] != 't') || b[13] != ':' || b[16] != ':' {
		return time.Time{}, false
	}
	year, ok1 := digits(b[0:4])
	month, ok2 := digits(b[5:7])
	day, ok3 := digits(b[8:10])
	hour, ok4 := digits(b[11:13])
	minute, ok5 := digits(b[14:16])
	sec, ok6 := digits(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) {
		return time.Time{}, false
	}
	if month < 1 || month > 12 || day < 1 || day > daysIn(month, year) || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	i := 19
	nsec := 0
	if b[i] == '.' {
		i++
		n := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			if n < 9 {
				nsec = nsec*10 + int(b[i]-'0')
			}
			n++
			i++
		}
		if n == 0 {
			return time.Time{}, false
		}
		for ; n < 9; n++ {
			nsec *= 10
		}
	}
	rest := b[i:]
	offset := 0
	switch {
	case len(rest) == 1 && (rest[0] == 'Z' || rest[0] == 'z'):
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		oh, ok1 := digits(rest[1:3])
		om, ok2 := digits(rest[4:6])
		if !ok1 || !ok2 || oh > 23 || om > 59 {
			return time.Time{}, false
		}
		offset = oh*3600 + om*60
		if rest[0] == '-' {
			offset = -offset
		}
	default:
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	if offset != 0 {
		t = t.Add(-time.Duration(offset) * time.Second)
	}
	return t, true
}

func digits(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
