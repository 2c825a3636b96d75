package cri

import (
	"bytes"
	"encoding/json"
	"time"
	"unicode/utf8"
)

// parseDockerLine decodes one line of Docker's json-file driver:
//
//	{"log":"message\n","stream":"stdout","time":"2024-01-02T03:04:05.123456789Z"}
//
// The message is unescaped into scratch (returned grown) and returned without
// its trailing "\n"; a log value without that "\n" is a partial line (Docker
// splits lines at 16 KiB). A missing "stream" means stdout and a missing
// "time" means now, because the message is what matters; a missing "log", an
// unknown stream or an unparsable time make the line invalid. badUTF8 reports
// that a \u escape held a lone surrogate (replaced by U+FFFD).
func parseDockerLine(line, scratch []byte, now time.Time) (t time.Time, stream int, partial bool, msg, out []byte, badUTF8, ok bool) {
	out = scratch
	var logv, streamv, timev []byte
	var haveLog bool
	i := skipWS(line, 0)
	if i >= len(line) || line[i] != '{' {
		return
	}
	i = skipWS(line, i+1)
	if i < len(line) && line[i] == '}' {
		return // no "log"
	}
	for {
		if i >= len(line) || line[i] != '"' {
			return
		}
		kEnd, kEsc := scanString(line, i+1)
		if kEnd < 0 {
			return
		}
		key := line[i+1 : kEnd]
		i = skipWS(line, kEnd+1)
		if i >= len(line) || line[i] != ':' {
			return
		}
		i = skipWS(line, i+1)
		if i >= len(line) || line[i] != '"' {
			// attrs or another non-string value: rare, let encoding/json do it.
			return parseDockerSlow(line, scratch, now)
		}
		vEnd, vEsc := scanString(line, i+1)
		if vEnd < 0 {
			return
		}
		val := line[i+1 : vEnd]
		if !kEsc {
			switch string(key) {
			case "log":
				haveLog = true
				if vEsc {
					start := len(out)
					out, badUTF8 = unescape(out, val)
					logv = out[start:]
				} else {
					logv = val
				}
			case "stream":
				if vEsc {
					return parseDockerSlow(line, scratch, now)
				}
				streamv = val
			case "time":
				if vEsc {
					return parseDockerSlow(line, scratch, now)
				}
				timev = val
			}
		}
		i = skipWS(line, vEnd+1)
		if i >= len(line) {
			return
		}
		if line[i] == '}' {
			if skipWS(line, i+1) != len(line) {
				return
			}
			break
		}
		if line[i] != ',' {
			return
		}
		i = skipWS(line, i+1)
	}
	return finishDocker(logv, streamv, timev, haveLog, now, out, badUTF8)
}

func finishDocker(logv, streamv, timev []byte, haveLog bool, now time.Time, out []byte, badUTF8 bool) (t time.Time, stream int, partial bool, msg, _ []byte, _ bool, ok bool) {
	if !haveLog {
		return t, 0, false, nil, out, badUTF8, false
	}
	switch string(streamv) {
	case "", "stdout":
		stream = streamStdout
	case "stderr":
		stream = streamStderr
	default:
		return t, 0, false, nil, out, badUTF8, false
	}
	if len(timev) == 0 {
		t = now
	} else if t, ok = parseTimestamp(timev); !ok {
		return t, 0, false, nil, out, badUTF8, false
	}
	if n := len(logv); n > 0 && logv[n-1] == '\n' {
		logv = logv[:n-1]
	} else {
		partial = true
	}
	return t, stream, partial, logv, out, badUTF8, true
}

// parseDockerSlow handles lines the fast scanner does not: non-string values
// (attrs) or escaped stream/time values.
func parseDockerSlow(line, scratch []byte, now time.Time) (t time.Time, stream int, partial bool, msg, out []byte, badUTF8, ok bool) {
	var v struct {
		Log    *string `json:"log"`
		Stream string  `json:"stream"`
		Time   string  `json:"time"`
	}
	if err := json.Unmarshal(line, &v); err != nil {
		return t, 0, false, nil, scratch, false, false
	}
	out = scratch
	var logv []byte
	if v.Log != nil {
		start := len(out)
		out = append(out, *v.Log...)
		logv = out[start:]
	}
	return finishDocker(logv, []byte(v.Stream), []byte(v.Time), v.Log != nil, now, out, false)
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// scanString returns the index of the closing quote of a JSON string whose
// body starts at i (-1 if unterminated) and whether it holds escapes. A
// quote is escaped when an odd run of backslashes precedes it.
func scanString(b []byte, i int) (end int, escaped bool) {
	start := i
	for {
		j := bytes.IndexByte(b[i:], '"')
		if j < 0 {
			return -1, escaped || bytes.IndexByte(b[i:], '\\') >= 0
		}
		k := i + j
		if !escaped && bytes.IndexByte(b[i:k], '\\') >= 0 {
			escaped = true
		}
		n := 0
		for m := k - 1; m >= start && b[m] == '\\'; m-- {
			n++
		}
		if n%2 == 0 {
			return k, escaped
		}
		i = k + 1
	}
}

// unescape appends the JSON string body s, unescaped, to dst. Unknown or
// truncated escapes are kept literally: a damaged line still yields its text.
func unescape(dst, s []byte) ([]byte, bool) {
	bad := false
	for i := 0; i < len(s); i++ {
		j := bytes.IndexByte(s[i:], '\\')
		if j < 0 {
			return append(dst, s[i:]...), bad
		}
		dst = append(dst, s[i:i+j]...)
		i += j
		if i+1 >= len(s) {
			dst = append(dst, '\\')
			continue
		}
		i++
		switch s[i] {
		case 'n':
			dst = append(dst, '\n')
		case 't':
			dst = append(dst, '\t')
		case 'r':
			dst = append(dst, '\r')
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case '"', '\\', '/':
			dst = append(dst, s[i])
		case 'u':
			r, ok := hex4(s, i+1)
			if !ok {
				dst = append(dst, '\\', 'u')
				continue
			}
			i += 4
			if r >= 0xD800 && r < 0xDC00 {
				if i+2 < len(s) && s[i+1] == '\\' && s[i+2] == 'u' {
					if r2, ok := hex4(s, i+3); ok && r2 >= 0xDC00 && r2 < 0xE000 {
						i += 6
						dst = utf8.AppendRune(dst, 0x10000+(r-0xD800)<<10+(r2-0xDC00))
						continue
					}
				}
				r = utf8.RuneError
				bad = true
			} else if r >= 0xDC00 && r < 0xE000 {
				r = utf8.RuneError
				bad = true
			}
			dst = utf8.AppendRune(dst, r)
		default:
			dst = append(dst, '\\', s[i])
		}
	}
	return dst, bad
}

func hex4(s []byte, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range s[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}
