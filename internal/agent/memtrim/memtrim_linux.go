//go:build linux

package memtrim

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// Trim drops this process's resident pages of its own executable's
// read-only mappings and returns how many bytes of mappings it advised.
func Trim() (int64, error) { return trim(false) }

// TrimAndEvict is Trim, then asks the kernel to drop the executable's
// page cache that no process maps any more, and to read what this process
// faults back a page at a time (MADV_RANDOM), so the page cache holds it
// in small folios from then on. See the package comment for why. When it
// did not evict (another process maps the file, fadvise refused) it
// returns an error, having trimmed all the same.
func TrimAndEvict() (int64, error) { return trim(true) }

func trim(evict bool) (int64, error) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return 0, fmt.Errorf("memtrim: %w", err)
	}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return 0, fmt.Errorf("memtrim: %w", err)
	}
	var total int64
	sc := bufio.NewScanner(bytes.NewReader(maps))
	for sc.Scan() {
		start, end, ok := readOnlyMapping(sc.Text(), exe)
		if !ok {
			continue
		}
		// No PMD mappings of 2 MiB folios; refused on kernels without
		// THP, which only leaves them possible.
		_, _, _ = syscall.Syscall(syscall.SYS_MADVISE, start, end-start, syscall.MADV_NOHUGEPAGE)
		if evict {
			// No readahead on faults: a fault reads one small folio, not a
			// window that the page cache may keep as one large folio.
			_, _, _ = syscall.Syscall(syscall.SYS_MADVISE, start, end-start, syscall.MADV_RANDOM)
		}
		if _, _, e := syscall.Syscall(syscall.SYS_MADVISE, start, end-start, syscall.MADV_DONTNEED); e != 0 {
			return total, fmt.Errorf("memtrim: madvise %#x-%#x: %w", start, end, e)
		}
		total += int64(end - start)
	}
	if evict && total > 0 {
		if shared, err := mappedElsewhere("/proc"); err != nil || shared {
			return total, fmt.Errorf("memtrim: not evicting: another process maps the executable (%v)", err)
		}
		if err := evictPageCache("/proc/self/exe"); err != nil {
			return total, err
		}
	}
	return total, nil
}

// mappedElsewhere reports whether another process this one can see maps
// the same executable file (same device and inode). Evicting then backfires:
// the page cache that process faults back is read ahead into large folios
// again, which this one then maps whole. Measured in the agent benchmark,
// where the server runs the same file: steady file RSS 20 MB without the
// eviction, 27-30 MB with it. (Processes in other PID namespaces, such as
// another pod of the same image, are not seen.)
func mappedElsewhere(proc string) (bool, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(proc+"/self/exe", &st); err != nil {
		return false, fmt.Errorf("memtrim: %w", err)
	}
	dev := fmt.Sprintf("%02x:%02x", unix.Major(st.Dev), unix.Minor(st.Dev))
	ino := strconv.FormatUint(st.Ino, 10)
	self := strconv.Itoa(os.Getpid())
	ents, err := os.ReadDir(proc)
	if err != nil {
		return false, fmt.Errorf("memtrim: %w", err)
	}
	for _, e := range ents {
		name := e.Name()
		if name == self || name[0] < '0' || name[0] > '9' {
			continue
		}
		maps, err := os.ReadFile(proc + "/" + name + "/maps")
		if err != nil {
			continue // gone, or not ours to read
		}
		if mapsFile(maps, dev, ino) {
			return true, nil
		}
	}
	return false, nil
}

// mapsFile reports whether a /proc/PID/maps text maps the file of device
// dev ("fe:00") and inode ino.
func mapsFile(maps []byte, dev, ino string) bool {
	for len(maps) > 0 {
		line := maps
		if i := bytes.IndexByte(maps, '\n'); i >= 0 {
			line, maps = maps[:i], maps[i+1:]
		} else {
			maps = nil
		}
		f := bytes.Fields(line)
		if len(f) >= 5 && string(f[3]) == dev && string(f[4]) == ino {
			return true
		}
	}
	return false
}

// evictPageCache asks the kernel to drop path's clean, unmapped page
// cache (POSIX_FADV_DONTNEED): pages another process maps, or this one
// still does, stay.
func evictPageCache(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("memtrim: %w", err)
	}
	defer f.Close()
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		return fmt.Errorf("memtrim: fadvise %s: %w", path, err)
	}
	return nil
}

// readOnlyMapping parses one /proc/self/maps line and reports the range
// of a private, non-writable mapping of exe.
func readOnlyMapping(line, exe string) (start, end uintptr, ok bool) {
	// 00400000-01e17000 r-xp 00000000 fd:01 1234   /path/to/exe
	f := bytes.Fields([]byte(line))
	if len(f) < 6 || string(bytes.Join(f[5:], []byte(" "))) != exe { // a path may hold spaces
		return 0, 0, false
	}
	perm := f[1]
	if len(perm) != 4 || perm[0] != 'r' || perm[1] != '-' || perm[3] != 'p' {
		return 0, 0, false
	}
	lo, hi, found := bytes.Cut(f[0], []byte("-"))
	if !found {
		return 0, 0, false
	}
	s, err1 := strconv.ParseUint(string(lo), 16, 64)
	e, err2 := strconv.ParseUint(string(hi), 16, 64)
	if err1 != nil || err2 != nil || e <= s {
		return 0, 0, false
	}
	return uintptr(s), uintptr(e), true
}
