package tail

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// FS is the filesystem seam of the tailer. The OS implementation is OSFS;
// tests use an in-memory one so rotations happen exactly between two polls.
type FS interface {
	// Glob returns the names matching pattern (filepath.Match syntax).
	Glob(pattern string) ([]string, error)
	// EvalSymlinks returns the path name after following every symlink; an
	// error wrapping fs.ErrNotExist means a link points nowhere.
	EvalSymlinks(path string) (string, error)
	// Stat describes the file at path, following symlinks.
	Stat(path string) (FileInfo, error)
	// Open opens the file for reading. The returned File keeps reading the
	// same file (inode) after it is renamed, truncated or removed.
	Open(path string) (File, error)
}

// File is an open file: positional reads so the tailer owns the offset.
type File interface {
	// ReadAt reads like io.ReaderAt: io.EOF once the end is reached.
	ReadAt(p []byte, off int64) (int, error)
	// Stat describes the open file (not whatever now has its name).
	Stat() (FileInfo, error)
	Close() error
}

// FileInfo is what the tailer needs to know about a file.
type FileInfo struct {
	Size int64
	// ModTime lets a file rewritten in place to the same size be noticed.
	ModTime time.Time
	Dev     uint64
	Ino     uint64
	Regular bool
}

// OSFS is FS on the operating system's filesystem.
type OSFS struct{}

var _ FS = OSFS{}

// Glob implements FS.
func (OSFS) Glob(pattern string) ([]string, error) { return filepath.Glob(pattern) }

// EvalSymlinks implements FS.
func (OSFS) EvalSymlinks(path string) (string, error) { return filepath.EvalSymlinks(path) }

// Stat implements FS.
func (OSFS) Stat(path string) (FileInfo, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return FileInfo{}, err
	}
	return toInfo(fi), nil
}

// Open implements FS.
func (OSFS) Open(path string) (File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

type osFile struct{ f *os.File }

func (o osFile) ReadAt(p []byte, off int64) (int, error) { return o.f.ReadAt(p, off) }
func (o osFile) Close() error                            { return o.f.Close() }
func (o osFile) Stat() (FileInfo, error) {
	fi, err := o.f.Stat()
	if err != nil {
		return FileInfo{}, fmt.Errorf("stat open file: %w", err)
	}
	return toInfo(fi), nil
}

func toInfo(fi fs.FileInfo) FileInfo {
	dev, ino := devIno(fi)
	return FileInfo{Size: fi.Size(), ModTime: fi.ModTime(), Dev: dev, Ino: ino, Regular: fi.Mode().IsRegular()}
}

// isNotExist reports a missing file or a symlink to nowhere.
func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
