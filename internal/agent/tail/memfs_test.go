package tail

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// memFS is an in-memory FS with inodes, so renames, truncations and
// deletions keep open files readable exactly as on Linux.
type memFS struct {
	mu      sync.Mutex
	nextIno uint64
	names   map[string]*memNode
	// dirs holds the parent directory of every name ever made, with an
	// mtime moved by every entry created, renamed or removed in it, as on
	// Linux: the scan lists a directory only when its mtime moved.
	dirs map[string]*memInode
	// quietDirs makes mutations leave directory mtimes alone (impossible on
	// Linux), to show what the scan's safety net catches.
	quietDirs bool
}

// touchDir moves the mtime of path's directory; m.mu is held.
func (m *memFS) touchDir(path string) {
	dir := filepath.Dir(path)
	d := m.dirs[dir]
	if d == nil {
		m.nextIno++
		d = &memInode{ino: m.nextIno, dir: true}
		m.dirs[dir] = d
	}
	if !m.quietDirs {
		d.mtime++
	}
}

type memNode struct {
	link       string // symlink target when not ""
	ino        *memInode
	unreadable bool
}

type memInode struct {
	ino   uint64
	data  []byte
	mtime int64 // bumped by every change, like a real mtime
	dir   bool
}

func (i *memInode) info() FileInfo {
	return FileInfo{Size: int64(len(i.data)), ModTime: time.Unix(0, i.mtime), Dev: 1, Ino: i.ino, Regular: !i.dir}
}

func newMemFS() *memFS {
	return &memFS{nextIno: 100, names: map[string]*memNode{}, dirs: map[string]*memInode{}}
}

var _ FS = (*memFS)(nil)

func (m *memFS) Glob(pattern string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for name := range m.names {
		ok, err := filepath.Match(pattern, name)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out, nil
}

func (m *memFS) resolve(path string) (string, *memNode, error) {
	for range 8 {
		n := m.names[path]
		if n == nil {
			return "", nil, fmt.Errorf("%s: %w", path, fs.ErrNotExist)
		}
		if n.link == "" {
			return path, n, nil
		}
		path = n.link
	}
	return "", nil, fmt.Errorf("%s: too many links", path)
}

func (m *memFS) EvalSymlinks(path string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, _, err := m.resolve(path)
	return p, err
}

func (m *memFS) Stat(path string) (FileInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, n, err := m.resolve(path)
	if err != nil {
		if d := m.dirs[path]; d != nil {
			return d.info(), nil
		}
		return FileInfo{}, err
	}
	return n.ino.info(), nil
}

func (m *memFS) Open(path string) (File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, n, err := m.resolve(path)
	if err != nil {
		return nil, err
	}
	if n.unreadable {
		return nil, fmt.Errorf("open %s: %w", path, fs.ErrPermission)
	}
	return &memFile{fs: m, ino: n.ino}, nil
}

type memFile struct {
	fs  *memFS
	ino *memInode
}

func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if off >= int64(len(f.ino.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.ino.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *memFile) Stat() (FileInfo, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	return f.ino.info(), nil
}

func (f *memFile) Close() error { return nil }

// Mutations, as a writer or rotator would do them.

func (m *memFS) create(path string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.nextIno++
	m.names[path] = &memNode{ino: &memInode{ino: m.nextIno}}
	m.touchDir(path)
}

// createIno creates path on a given inode number (inode reuse).
func (m *memFS) createIno(path string, ino uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.names[path] = &memNode{ino: &memInode{ino: ino}}
	m.touchDir(path)
}

// mkdir makes path a directory (not a regular file).
func (m *memFS) mkdir(path string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.nextIno++
	m.names[path] = &memNode{ino: &memInode{ino: m.nextIno, dir: true}}
	m.touchDir(path)
}

func (m *memFS) append(path, s string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := m.names[path]
	if n == nil {
		m.nextIno++
		n = &memNode{ino: &memInode{ino: m.nextIno}}
		m.names[path] = n
		m.touchDir(path)
	}
	n.ino.data = append(n.ino.data, s...)
	n.ino.mtime++
}

func (m *memFS) symlink(target, path string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.names[path] = &memNode{link: target}
	m.touchDir(path)
}

func (m *memFS) rename(from, to string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.names[to] = m.names[from]
	delete(m.names, from)
	m.touchDir(from)
	m.touchDir(to)
}

func (m *memFS) remove(path string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.names, path)
	m.touchDir(path)
}

func (m *memFS) truncate(path string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.names[path].ino.data = nil
	m.names[path].ino.mtime++
}

func (m *memFS) setUnreadable(path string, v bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.names[path].unreadable = v
}

func (m *memFS) content(path string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return string(m.names[path].ino.data)
}

// gzip compresses from into to (a new inode) and removes from, as kubelet
// does.
func (m *memFS) gzip(from, to string) {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(m.content(from)))
	zw.Close()
	m.append(to, b.String())
	m.remove(from)
}

// gzipIno is gzip onto a given inode number (the filesystem reusing an
// inode freed just before).
func (m *memFS) gzipIno(from, to string, ino uint64) {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(m.content(from)))
	zw.Close()
	m.createIno(to, ino)
	m.append(to, b.String())
	m.remove(from)
}

// copyFile copies content to a new inode (logrotate copytruncate's copy).
func (m *memFS) copyFile(from, to string) {
	m.append(to, m.content(from))
}

func lines(ls []Line) string {
	var b strings.Builder
	for _, l := range ls {
		b.Write(l.Data)
		b.WriteByte('\n')
	}
	return b.String()
}
