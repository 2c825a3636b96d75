package cri

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// corpusLines loads the loghub sample logs (shared outside the repo) as the
// messages of realistic container lines; benchmarks skip without them.
func corpusLines(b *testing.B) [][]byte {
	dir := filepath.Join("..", "..", "..", "..", "shared", "corpus", "loghub")
	files, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	if len(files) == 0 {
		b.Skip("loghub corpus not found at " + dir)
	}
	var lines [][]byte
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			lines = append(lines, append([]byte(nil), sc.Bytes()...))
		}
	}
	return lines
}

func benchParse(b *testing.B, opts Options, lines [][]byte) {
	var size int64
	for _, l := range lines {
		size += int64(len(l))
	}
	p, err := NewParser(opts, 0)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	b.SetBytes(size / int64(len(lines)))
	b.ReportAllocs()
	b.ResetTimer()
	var off int64
	for i := 0; i < b.N; i++ {
		l := lines[i%len(lines)]
		off += int64(len(l))
		p.Feed(l, off, now)
	}
	p.Flush(now, true)
}

func BenchmarkCRIFull(b *testing.B) {
	msgs := corpusLines(b)
	lines := make([][]byte, len(msgs))
	for i, m := range msgs {
		lines[i] = fmt.Appendf(nil, "2024-01-02T03:04:05.%09dZ stdout F %s\n", i, m)
	}
	benchParse(b, Options{Format: FormatCRI}, lines)
}

func BenchmarkCRIOffset(b *testing.B) {
	msgs := corpusLines(b)
	lines := make([][]byte, len(msgs))
	for i, m := range msgs {
		lines[i] = fmt.Appendf(nil, "2024-01-02T03:04:05.%06d+02:00 stderr F %s\n", i, m)
	}
	benchParse(b, Options{Format: FormatCRI}, lines)
}

func BenchmarkCRIPartial(b *testing.B) {
	msgs := corpusLines(b)
	lines := make([][]byte, len(msgs))
	for i, m := range msgs {
		tag := "F"
		if i%2 == 0 {
			tag = "P"
		}
		lines[i] = fmt.Appendf(nil, "2024-01-02T03:04:05.%09dZ stdout %s %s\n", i, tag, m)
	}
	benchParse(b, Options{Format: FormatCRI}, lines)
}

func BenchmarkDocker(b *testing.B) {
	msgs := corpusLines(b)
	lines := make([][]byte, len(msgs))
	for i, m := range msgs {
		lines[i] = fmt.Appendf(nil, `{"log":%q,"stream":"stdout","time":"2024-01-02T03:04:05.%09dZ"}`+"\n", string(m)+"\n", i)
	}
	benchParse(b, Options{Format: FormatDocker}, lines)
}

func BenchmarkCRIMultilineJava(b *testing.B) {
	msgs := corpusLines(b)
	lines := make([][]byte, len(msgs))
	for i, m := range msgs {
		lines[i] = fmt.Appendf(nil, "2024-01-02T03:04:05.%09dZ stdout F %s\n", i, m)
	}
	ml, _ := MultilinePreset(PresetJava)
	benchParse(b, Options{Format: FormatCRI, Multiline: ml}, lines)
}
