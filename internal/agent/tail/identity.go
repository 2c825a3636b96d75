package tail

import (
	"encoding/hex"
	"fmt"
	"strings"
)

// FileID identifies a file's content, never its name: the device and inode
// it lives on plus its first bytes (up to Config.FingerprintBytes). The
// head is kept raw, as OpenTelemetry's fileconsumer does, so a short head
// taken while a file was small is recognised as a prefix of the longer one
// taken after it grew, and a gzipped copy is recognised by the head of its
// decompressed stream.
type FileID struct {
	Dev  uint64
	Ino  uint64
	Head string
}

type fileKey struct{ dev, ino uint64 }

func (id FileID) key() fileKey { return fileKey{id.Dev, id.Ino} }

// String is short and printable, for logs.
func (id FileID) String() string {
	h := id.Head
	if len(h) > 8 {
		h = h[:8]
	}
	return fmt.Sprintf("%d:%d:%d:%s", id.Dev, id.Ino, len(id.Head), hex.EncodeToString([]byte(h)))
}

// headsMatch reports whether two heads can be the same content seen at two
// sizes: one is a prefix of the other.
func headsMatch(a, b string) bool {
	if len(a) < len(b) {
		return strings.HasPrefix(b, a)
	}
	return strings.HasPrefix(a, b)
}

// SameContent reports whether id and o are the same file: same inode and
// compatible heads (an empty head is compatible with anything).
func (id FileID) SameContent(o FileID) bool {
	return id.key() == o.key() && headsMatch(id.Head, o.Head)
}
