package insights

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.test with the actual results")

// memStore is a Store over a slice. It honours Groups, Start/End and
// Streams and, when oracle is set, prunes "blocks" of blockSize events with
// MayMatch over an exact substring oracle.
type memStore struct {
	events    []Event
	blockSize int
	useOracle bool
	lastReq   ScanRequest
	pruned    int // blocks MayMatch skipped
}

func (m *memStore) Scan(ctx context.Context, req ScanRequest, fn func([]Event) error) (ScanStats, error) {
	m.lastReq = req
	var st ScanStats
	bs := m.blockSize
	if bs <= 0 {
		bs = 3
	}
	for i := 0; i < len(m.events); i += bs {
		block := m.events[i:min(i+bs, len(m.events))]
		if m.useOracle && req.MayMatch != nil && !req.MayMatch(substrOracle(block)) {
			m.pruned++
			continue
		}
		var batch []Event
		for _, ev := range block {
			if ev.Timestamp < req.Start || ev.Timestamp >= req.End {
				continue
			}
			if len(req.Groups) > 0 && !slices.Contains(req.Groups, ev.Group) {
				continue
			}
			if req.Streams != nil && !slices.Contains(req.Streams, ev.Stream) {
				continue
			}
			st.RecordsScanned++
			st.BytesScanned += int64(len(ev.Message))
			batch = append(batch, ev)
		}
		if len(batch) == 0 {
			continue
		}
		if err := ctx.Err(); err != nil {
			return st, err
		}
		if err := fn(batch); err != nil {
			return st, err
		}
	}
	return st, nil
}

// substrOracle is an exact mayContain over a block: what a trigram bloom
// answers when it has no false positives.
func substrOracle(block []Event) func(string) bool {
	return func(s string) bool {
		if len(s) < 3 {
			return true
		}
		for _, ev := range block {
			if strings.Contains(ev.Message, s) {
				return true
			}
		}
		return false
	}
}

// parseEvents reads `<ts-ms> <stream> <message>` lines.
func parseEvents(t testing.TB, lines []string) []Event {
	var evs []Event
	for i, l := range lines {
		parts := strings.SplitN(l, " ", 3)
		if len(parts) < 3 {
			t.Fatalf("bad event line %q", l)
		}
		ts, err := strconv.ParseInt(parts[0], 10, 64)
		if err != nil {
			t.Fatalf("bad event line %q: %v", l, err)
		}
		evs = append(evs, Event{Timestamp: ts, IngestionTime: ts + 1000, Message: parts[2], Group: "app", Stream: parts[1], Ptr: "p" + strconv.Itoa(i)})
	}
	return evs
}

type ddBlock struct {
	directive string
	input     []string
	output    []string
}

func readBlocks(t *testing.T, path string) []ddBlock {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var blocks []ddBlock
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	for i := 0; i < len(lines); {
		l := lines[i]
		if l == "" || strings.HasPrefix(l, "#") {
			i++
			continue
		}
		b := ddBlock{directive: l}
		i++
		for i < len(lines) && lines[i] != "----" {
			b.input = append(b.input, lines[i])
			i++
		}
		i++ // ----
		for i < len(lines) && lines[i] != "" {
			b.output = append(b.output, lines[i])
			i++
		}
		blocks = append(blocks, b)
	}
	return blocks
}

func formatRows(res Result, withPtr bool) []string {
	if len(res.Rows) == 0 {
		return []string{"(no rows)"}
	}
	var out []string
	for _, r := range res.Rows {
		var cells []string
		for _, f := range r {
			if f.Name == "@ptr" && !withPtr {
				continue
			}
			v := f.Value
			if strings.ContainsAny(v, "\t\n") {
				v = strconv.Quote(v)
			}
			cells = append(cells, f.Name+"="+v)
		}
		if len(cells) == 0 {
			cells = []string{"(all null)"}
		}
		out = append(out, strings.Join(cells, "\t"))
	}
	return out
}

// runBlock runs one `query [ptr] [stats] [limit=N] [mem=N] [start=N] [end=N]` block.
func runBlock(t *testing.T, evs []Event, b ddBlock) []string {
	o := Options{Start: 0, End: 1 << 62}
	withPtr, withStats := false, false
	for _, arg := range strings.Fields(b.directive)[1:] {
		k, v, _ := strings.Cut(arg, "=")
		n, _ := strconv.ParseInt(v, 10, 64)
		switch k {
		case "ptr":
			withPtr = true
		case "stats":
			withStats = true
		case "limit":
			o.Limit = int(n)
		case "mem":
			o.MaxMemoryBytes = n
		case "start":
			o.Start = n
		case "end":
			o.End = n
		default:
			t.Fatalf("unknown argument %q", arg)
		}
	}
	text := strings.Join(b.input, "\n")
	q, err := Compile(text)
	if err != nil {
		return []string{"error: " + err.Error()}
	}
	res, err := q.Run(context.Background(), &memStore{events: evs}, o, nil)
	if err != nil {
		return []string{"error: " + err.Error()}
	}
	out := formatRows(res, withPtr)
	if withStats {
		out = append(out, fmt.Sprintf("stats: matched=%v scanned=%v bytes=%v", res.Stats.RecordsMatched, res.Stats.RecordsScanned, res.Stats.BytesScanned))
	}
	return out
}

func TestDataDriven(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.test")
	if len(files) == 0 {
		t.Fatal("no testdata/*.test")
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			blocks := readBlocks(t, path)
			var evs []Event
			var b strings.Builder
			for _, bl := range blocks {
				switch strings.Fields(bl.directive)[0] {
				case "events":
					evs = parseEvents(t, bl.input)
					bl.output = nil
				case "query":
					got := runBlock(t, evs, bl)
					if !*update && !slices.Equal(got, bl.output) {
						t.Errorf("%s\n%s\ngot:\n%s\nwant:\n%s", bl.directive, strings.Join(bl.input, "\n"),
							strings.Join(got, "\n"), strings.Join(bl.output, "\n"))
					}
					bl.output = got
				default:
					t.Fatalf("unknown directive %q", bl.directive)
				}
				b.WriteString(bl.directive + "\n")
				for _, l := range bl.input {
					b.WriteString(l + "\n")
				}
				b.WriteString("----\n")
				for _, l := range bl.output {
					b.WriteString(l + "\n")
				}
				b.WriteString("\n")
			}
			if *update {
				if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}
