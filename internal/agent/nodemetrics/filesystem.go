package nodemetrics

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sys/unix"
)

var fsLabels = []string{"device", "mountpoint", "fstype"}

var (
	fsSizeDesc = prometheus.NewDesc("node_filesystem_size_bytes",
		"Filesystem size in bytes.", fsLabels, nil)
	fsFreeDesc = prometheus.NewDesc("node_filesystem_free_bytes",
		"Filesystem free space in bytes.", fsLabels, nil)
	fsAvailDesc = prometheus.NewDesc("node_filesystem_avail_bytes",
		"Filesystem space available to non-root users in bytes.", fsLabels, nil)
	fsFilesDesc = prometheus.NewDesc("node_filesystem_files",
		"Filesystem total file nodes.", fsLabels, nil)
	fsFilesFreeDesc = prometheus.NewDesc("node_filesystem_files_free",
		"Filesystem total free file nodes.", fsLabels, nil)
	fsReadonlyDesc = prometheus.NewDesc("node_filesystem_readonly",
		"Filesystem read-only status.", fsLabels, nil)
	fsDeviceErrorDesc = prometheus.NewDesc("node_filesystem_device_error",
		"Whether an error occurred while getting statistics for the given device.", fsLabels, nil)
)

// mount is one line of a mounts file.
type mount struct {
	device, mountPoint, fsType, options string
}

// fsState carries the stuck-mount set from one collection to the next.
type fsState struct {
	timeout time.Duration
	timer   *time.Timer

	mu    sync.Mutex          // guards stuck: the statfs goroutines clear it
	stuck map[string]struct{} // mount points whose statfs is in flight

	mounts []mount
	seen   map[mount]struct{}
}

func (s *fsState) init(timeout time.Duration) {
	s.timeout = timeout
	s.stuck = make(map[string]struct{})
	s.seen = make(map[mount]struct{})
}

type statfsResult struct {
	buf unix.Statfs_t
	err error
}

// errStuck is a statfs that did not return in time.
var errStuck = errors.New("statfs did not return in time")

// statfs runs statfs(2) on path with the state's timeout. The call runs in
// a goroutine of its own so that a hung NFS mount costs one parked
// goroutine, not the collection. The path is marked in flight before the
// goroutine starts and unmarked by it when the call returns, before it
// hands over the result; a later collection that finds the mark skips the
// mount, so one hung mount holds one goroutine at most.
func (s *fsState) statfs(path string) (unix.Statfs_t, error) {
	s.mu.Lock()
	if _, stuck := s.stuck[path]; stuck {
		s.mu.Unlock()
		return unix.Statfs_t{}, errStuck
	}
	s.stuck[path] = struct{}{}
	s.mu.Unlock()
	done := make(chan statfsResult, 1)
	go func() {
		var r statfsResult
		r.err = unix.Statfs(path, &r.buf)
		s.mu.Lock()
		delete(s.stuck, path)
		s.mu.Unlock()
		done <- r
	}()
	if s.timer == nil {
		s.timer = time.NewTimer(s.timeout)
	} else {
		s.timer.Reset(s.timeout)
	}
	select {
	case r := <-done:
		s.timer.Stop()
		return r.buf, r.err
	case <-s.timer.C:
		return unix.Statfs_t{}, errStuck
	}
}

// collectFilesystems reports statfs(2) of every mount point that the
// exclude patterns keep, as node-exporter's filesystem collector: mounts
// from <proc>/1/mounts (the host's mount namespace when <proc> is the
// host's), else <proc>/mounts; one series set per (device, mountpoint,
// fstype); a failed statfs gives node_filesystem_device_error 1 and no
// other series for that mount.
func (c *Collector) collectFilesystems(ch chan<- prometheus.Metric) error {
	data, err := c.readFile(c.procPath("1", "mounts"))
	if errors.Is(err, fs.ErrNotExist) {
		// /proc/1 is hidden under hidepid: fall back to our own view.
		data, err = c.readFile(c.procPath("mounts"))
	}
	if err != nil {
		return fmt.Errorf("mounts: %w", err)
	}
	s := &c.fs
	s.mounts, err = parseMounts(data, s.mounts[:0])
	clear(s.seen)
	var firstErr error
	if err != nil {
		firstErr = fmt.Errorf("mounts: %w", err) // report the lines before it
	}
	const gauge = prometheus.GaugeValue
	for _, m := range s.mounts {
		m.mountPoint = stripRoot(c.opts.RootPath, m.mountPoint)
		if c.mountExclude != nil && c.mountExclude.MatchString(m.mountPoint) {
			continue
		}
		if c.fsTypeExclude != nil && c.fsTypeExclude.MatchString(m.fsType) {
			continue
		}
		key := mount{device: m.device, mountPoint: m.mountPoint, fsType: m.fsType}
		if _, dup := s.seen[key]; dup {
			continue
		}
		s.seen[key] = struct{}{}
		labels := [...]string{m.device, m.mountPoint, m.fsType}
		buf, err := s.statfs(filepath.Join(c.opts.RootPath, m.mountPoint))
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("statfs %s: %w", m.mountPoint, err)
			}
			_ = emit(ch, fsDeviceErrorDesc, gauge, 1, labels[:]...) // the error is counted already
			continue
		}
		if err := emit(ch, fsDeviceErrorDesc, gauge, 0, labels[:]...); err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("mount %q: %w", m.mountPoint, err)
			}
			continue
		}
		ro := 0.0
		if hasOption(m.options, "ro") {
			ro = 1
		}
		bsize := float64(buf.Bsize)
		ch <- prometheus.MustNewConstMetric(fsSizeDesc, gauge, float64(buf.Blocks)*bsize, labels[:]...)
		ch <- prometheus.MustNewConstMetric(fsFreeDesc, gauge, float64(buf.Bfree)*bsize, labels[:]...)
		ch <- prometheus.MustNewConstMetric(fsAvailDesc, gauge, float64(buf.Bavail)*bsize, labels[:]...)
		ch <- prometheus.MustNewConstMetric(fsFilesDesc, gauge, float64(buf.Files), labels[:]...)
		ch <- prometheus.MustNewConstMetric(fsFilesFreeDesc, gauge, float64(buf.Ffree), labels[:]...)
		ch <- prometheus.MustNewConstMetric(fsReadonlyDesc, gauge, ro, labels[:]...)
	}
	return firstErr
}

// stripRoot removes the rootfs prefix from a mount point, as node-exporter's
// rootfsStripPrefix.
func stripRoot(root, mp string) string {
	if root == "/" {
		return mp
	}
	s := strings.TrimPrefix(mp, root)
	if s == "" {
		return "/"
	}
	return s
}

func hasOption(options, opt string) bool {
	for options != "" {
		var o string
		o, options, _ = strings.Cut(options, ",")
		if o == opt {
			return true
		}
	}
	return false
}

// parseMounts appends the mounts of a /proc/<pid>/mounts file to dst. The
// mount point is unescaped (the kernel writes space, tab, newline and
// backslash as \040, \011, \012 and \134); a line with fewer than four
// fields stops the parse with an error after the lines before it.
func parseMounts(data []byte, dst []mount) ([]mount, error) {
	for len(data) > 0 {
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		var f [4][]byte
		rest := line
		for i := range f {
			f[i], rest = nextField(rest)
		}
		if len(f[3]) == 0 {
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			return dst, fmt.Errorf("malformed mount line %q", line)
		}
		dst = append(dst, mount{
			device:     string(f[0]),
			mountPoint: unescapeMount(f[1]),
			fsType:     string(f[2]),
			options:    string(f[3]),
		})
	}
	return dst, nil
}

func unescapeMount(b []byte) string {
	if bytes.IndexByte(b, '\\') < 0 {
		return string(b)
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] == '\\' && i+3 < len(b) && isOctal(b[i+1]) && isOctal(b[i+2]) && isOctal(b[i+3]) {
			v := (b[i+1]-'0')<<6 | (b[i+2]-'0')<<3 | (b[i+3] - '0')
			out = append(out, v)
			i += 3
			continue
		}
		out = append(out, b[i])
	}
	return string(out)
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }
