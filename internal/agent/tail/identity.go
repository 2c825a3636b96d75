package tail

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/fnv"
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

// headBytesMatch is headsMatch for a head still in a buffer (the
// comparisons do not copy it).
func headBytesMatch(a []byte, b string) bool {
	if len(a) < len(b) {
		return string(a) == b[:len(a)]
	}
	return string(a[:len(b)]) == b
}

// SameContent reports whether id and o are the same file: same inode and
// compatible heads (an empty head is compatible with anything).
func (id FileID) SameContent(o FileID) bool {
	return id.key() == o.key() && headsMatch(id.Head, o.Head)
}

// SourceHeadBytes is how much of the head SourceID hashes. A head grows
// while a young file does; hashing a short fixed prefix keeps the id the
// same once a file holds that much (a file's first line, for CRI).
const SourceHeadBytes = 64

// SourceID is a 64-bit name of the identity for the positions header: a
// hash of device, inode and the first SourceHeadBytes of the head. The
// inode keeps two files that start alike (dmesg after each boot) apart;
// the head keeps copy-truncate's new content apart from the old. Never 0.
func (id FileID) SourceID() uint64 {
	h := fnv.New64a()
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], id.Dev)
	binary.LittleEndian.PutUint64(b[8:], id.Ino)
	h.Write(b[:])
	h.Write([]byte(id.Head[:min(len(id.Head), SourceHeadBytes)]))
	if s := h.Sum64(); s != 0 {
		return s
	}
	return 1
}
