package tail

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// The scan runs every poll over every followed file, so what it costs is
// paid all the time: resolving a /var/log/containers link costs an lstat per
// path component, and listing a live file's siblings a readdir of its
// directory. Both results are cached and revalidated cheaply:
//
//   - a link's target is trusted while a stat through the link finds the
//     inode the target had when it was resolved (kubelet never retargets a
//     link, it makes a new one; a rename rotation shows as a new inode);
//   - a live file's siblings are listed again only when its directory's
//     mtime or inode, or the live inode, changed since the last listing
//     (creating, renaming or removing a file in a directory moves its
//     mtime); plain siblings are stat'ed every scan (a rotated file may
//     still grow), a .gz's stat is reused (it is written under .tmp and
//     renamed; one written in place is stat'ed until it is racyWindow old).
//
// Both are redone from scratch every rescanEvery as a safety net, and a
// listing taken while the directory's mtime was within racyWindow of the
// clock is not trusted (a change in the same timestamp tick as the listing
// would not move the mtime), as git does for its index.
const (
	rescanEvery = 10 * time.Second
	racyWindow  = 2 * time.Second
)

// resolved is an include match's target as of its last EvalSymlinks.
type resolved struct {
	real  string
	key   fileKey // the target's inode then
	since time.Time
	used  int // scanN of the last scan that matched it
}

// siblings is a live file's rotated siblings as of the last listing.
type siblings struct {
	dir   fileKey
	mtime time.Time
	live  fileKey // the live inode when listed
	since time.Time
	racy  bool
	names []sibling
	used  int
}

type sibling struct {
	name string
	info FileInfo
	gz   bool
	// stable says info may be reused: a .gz, regular, whose mtime was
	// racyWindow old when stat'ed (logrotate writes its .gz in place).
	stable bool
}

// collect lists the include-matched files and their rotated siblings
// (<target>.<anything>, .gz included, kubelet's .tmp excluded).
func (t *Tailer) collect(problems map[string]string) []candidate {
	t.scanN++
	now := t.now()
	var paths []string
	for _, pat := range t.cfg.Include {
		ms, err := t.fs.Glob(pat)
		if err != nil {
			t.problem(problems, pat, reasonGlob, err)
			continue
		}
		paths = append(paths, ms...)
	}
	sort.Strings(paths)
	visited := make(map[string]bool, len(paths)) // include matches
	reals := make(map[string]bool, 2*len(paths)) // files on disk already a candidate
	cands := make([]candidate, 0, len(paths))
	for _, p := range paths {
		if visited[p] || t.excluded(p) {
			continue
		}
		visited[p] = true
		real, info, ok := t.resolve(problems, p, now)
		if !ok || reals[real] {
			continue
		}
		reals[real] = true
		cands = append(cands, candidate{path: p, real: real, info: info, live: true})
		sibs, ok := t.siblingsOf(problems, real, info, now)
		if !ok {
			continue
		}
		for i := range sibs.names {
			s := &sibs.names[i]
			if reals[s.name] {
				continue
			}
			if !s.stable {
				si, err := t.fs.Stat(s.name)
				s.info = si
				s.stable = s.gz && err == nil && si.Regular && now.Sub(si.ModTime) >= racyWindow
				if err != nil {
					continue // racing with the rotator: next scan sees it settled
				}
				if !si.Regular {
					t.problem(problems, s.name, reasonNotRegular, fmt.Errorf("%s is not a regular file", s.name))
					continue
				}
			}
			reals[s.name] = true
			cands = append(cands, candidate{path: p, real: s.name, info: s.info, gz: s.gz})
		}
	}
	for p, r := range t.links {
		if r.used != t.scanN {
			delete(t.links, p)
		}
	}
	for real, s := range t.dirs {
		if s.used != t.scanN {
			delete(t.dirs, real)
		}
	}
	return cands
}

// resolve follows include match p to the regular file it names: one stat
// when the cached target still holds the inode it had.
func (t *Tailer) resolve(problems map[string]string, p string, now time.Time) (string, FileInfo, bool) {
	if r := t.links[p]; r != nil && now.Sub(r.since) < rescanEvery {
		info, err := t.fs.Stat(p)
		if err == nil && info.Regular && info.Ino != 0 && (fileKey{info.Dev, info.Ino}) == r.key {
			r.used = t.scanN
			return r.real, info, true
		}
		// Gone, replaced or not a file: resolve again, which also tells
		// which problem it is.
	}
	real, err := t.fs.EvalSymlinks(p)
	if err != nil {
		reason := reasonUnreadable
		if isNotExist(err) {
			reason = reasonDanglingSymlink
		}
		t.problem(problems, p, reason, err)
		return "", FileInfo{}, false
	}
	info, err := t.fs.Stat(real)
	if err != nil {
		t.problem(problems, p, reasonUnreadable, err)
		return "", FileInfo{}, false
	}
	if !info.Regular {
		t.problem(problems, p, reasonNotRegular, fmt.Errorf("%s is not a regular file", real))
		return "", FileInfo{}, false
	}
	t.links[p] = &resolved{real: real, key: fileKey{info.Dev, info.Ino}, since: now, used: t.scanN}
	return real, info, true
}

// siblingsOf returns the names beside live file real that may be its
// rotations, listing the directory only when something may have changed
// there (see the comment at the top).
func (t *Tailer) siblingsOf(problems map[string]string, real string, live FileInfo, now time.Time) (*siblings, bool) {
	liveKey := fileKey{live.Dev, live.Ino}
	s := t.dirs[real]
	di, derr := t.fs.Stat(filepath.Dir(real))
	dirKey := fileKey{di.Dev, di.Ino}
	if s != nil && derr == nil && !s.racy && dirKey.ino != 0 && s.dir == dirKey && s.mtime.Equal(di.ModTime) &&
		s.live == liveKey && now.Sub(s.since) < rescanEvery {
		s.used = t.scanN
		return s, true
	}
	names, err := t.fs.Glob(escapeGlob(real) + ".*")
	if err != nil {
		delete(t.dirs, real)
		t.problem(problems, real, reasonGlob, err)
		return nil, false
	}
	sort.Strings(names)
	s = &siblings{dir: dirKey, mtime: di.ModTime, live: liveKey, since: now, used: t.scanN,
		racy: derr != nil || dirKey.ino == 0 || now.Sub(di.ModTime) < racyWindow}
	for _, n := range names {
		if t.excluded(n) || strings.HasSuffix(n, ".tmp") {
			continue
		}
		s.names = append(s.names, sibling{name: n, gz: strings.HasSuffix(n, ".gz")})
	}
	t.dirs[real] = s
	return s, true
}

func escapeGlob(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
