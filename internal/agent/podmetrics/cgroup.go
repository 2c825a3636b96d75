package podmetrics

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Sources of a Snapshot.
const (
	SourceKubelet = "kubelet"
	SourceCgroup  = "cgroup"
)

// maxCgroupFile bounds one cgroup file read; memory.stat is about 1.5 KiB.
const maxCgroupFile = 64 << 10

// cgroupReader reads the kubepods part of a cgroup tree: v2 (one unified
// hierarchy) or v1 (the memory and cpuacct hierarchies), with the systemd
// driver's names (kubepods.slice/kubepods-burstable.slice/
// kubepods-burstable-pod<uid_with_underscores>.slice/cri-containerd-<id>.scope)
// or cgroupfs's (kubepods/burstable/pod<uid>/<id>).
type cgroupReader struct {
	root string
}

// cgroupVersion tells v2 from v1 by the root: a unified root has
// cgroup.controllers; a v1 (or hybrid, v1 controllers beside a unified
// mount at unified/) root has a memory/ directory instead.
func (r *cgroupReader) cgroupVersion() (int, error) {
	if fi, err := os.Stat(filepath.Join(r.root, "memory")); err == nil && fi.IsDir() {
		return 1, nil
	}
	if _, err := os.Stat(filepath.Join(r.root, "cgroup.controllers")); err == nil {
		return 2, nil
	}
	return 0, fmt.Errorf("cgroup root %s: neither v2 (cgroup.controllers) nor v1 (memory/)", r.root)
}

// kubepodsDir finds the kubepods cgroup under base (systemd or cgroupfs
// driver); it returns the path relative to base.
func kubepodsDir(base string) (string, error) {
	for _, d := range []string{"kubepods.slice", "kubepods"} {
		if fi, err := os.Stat(filepath.Join(base, d)); err == nil && fi.IsDir() {
			return d, nil
		}
	}
	return "", fmt.Errorf("no kubepods.slice or kubepods cgroup under %s", base)
}

// podUIDFromDir returns the pod UID a cgroup directory name stands for:
// "pod<uid>" (cgroupfs) or "kubepods[-<qos>]-pod<uid>.slice" (systemd, where
// the UID's dashes are underscores because systemd reserves "-").
func podUIDFromDir(name string) (string, bool) {
	if strings.HasSuffix(name, ".slice") {
		i := strings.LastIndex(name, "-pod")
		if i < 0 || !strings.HasPrefix(name, "kubepods") {
			return "", false
		}
		uid := strings.TrimSuffix(name[i+len("-pod"):], ".slice")
		if uid == "" {
			return "", false
		}
		return strings.ReplaceAll(uid, "_", "-"), true
	}
	if uid, ok := strings.CutPrefix(name, "pod"); ok && uid != "" {
		return uid, true
	}
	return "", false
}

// containerIDFromDir returns the container id a cgroup directory inside a pod
// stands for: "<runtime>-<id>.scope" (systemd: cri-containerd, crio, docker)
// or the bare 64-hex id (cgroupfs). CRI-O's conmon scopes are not containers.
func containerIDFromDir(name string) (string, bool) {
	if base, ok := strings.CutSuffix(name, ".scope"); ok {
		if strings.HasPrefix(base, "crio-conmon-") {
			return "", false
		}
		i := strings.LastIndexByte(base, '-')
		if i < 0 || !isHexID(base[i+1:]) {
			return "", false
		}
		return base[i+1:], true
	}
	if isHexID(name) {
		return name, true
	}
	return "", false
}

func isHexID(s string) bool {
	if len(s) < 12 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// podDir is where one pod's cgroup and its containers' live, relative to
// the kubepods directory.
type podDir struct {
	uid, rel   string
	containers map[string]string // id → rel
}

// findPods walks the kubepods directory (QoS levels, then pods, then
// containers; at most three levels) and returns the pods it found.
func findPods(kubepods string) ([]podDir, error) {
	var pods []podDir
	var walk func(rel string, depth int) error
	walk = func(rel string, depth int) error {
		ents, err := os.ReadDir(filepath.Join(kubepods, rel))
		if err != nil {
			return err
		}
		for _, e := range ents {
			if !e.IsDir() {
				continue
			}
			child := filepath.Join(rel, e.Name())
			if uid, ok := podUIDFromDir(e.Name()); ok {
				p := podDir{uid: uid, rel: child, containers: map[string]string{}}
				cents, err := os.ReadDir(filepath.Join(kubepods, child))
				if err != nil {
					if errors.Is(err, fs.ErrNotExist) {
						continue // the pod went away during the walk
					}
					return err
				}
				for _, ce := range cents {
					if id, ok := containerIDFromDir(ce.Name()); ok && ce.IsDir() {
						p.containers[id] = filepath.Join(child, ce.Name())
					}
				}
				pods = append(pods, p)
				continue
			}
			if depth < 1 { // QoS level: besteffort, burstable (or their .slice)
				if err := walk(child, depth+1); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return err
				}
			}
		}
		return nil
	}
	return pods, walk("", 0)
}

// read takes a Snapshot of every pod and container cgroup. Files that vanish
// during the read (a container exiting) drop that container, not the
// snapshot.
func (r *cgroupReader) read(now time.Time) (*Snapshot, error) {
	ver, err := r.cgroupVersion()
	if err != nil {
		return nil, err
	}
	var memBase, cpuBase string
	if ver == 2 {
		memBase, cpuBase = r.root, r.root
	} else {
		memBase, cpuBase = filepath.Join(r.root, "memory"), filepath.Join(r.root, "cpuacct")
		if _, err := os.Stat(cpuBase); err != nil {
			cpuBase = filepath.Join(r.root, "cpu,cpuacct")
		}
	}
	kp, err := kubepodsDir(memBase)
	if err != nil {
		return nil, err
	}
	pods, err := findPods(filepath.Join(memBase, kp))
	if err != nil {
		return nil, fmt.Errorf("walk %s: %w", filepath.Join(memBase, kp), err)
	}
	read := func(rel string) (CPUSample, MemSample, error) {
		if ver == 2 {
			return readV2(filepath.Join(r.root, kp, rel))
		}
		return readV1(filepath.Join(cpuBase, kp, rel), filepath.Join(memBase, kp, rel))
	}
	snap := &Snapshot{Time: now, Source: SourceCgroup, Pods: make(map[string]*PodSample, len(pods))}
	if snap.Node.CPU, snap.Node.Mem, err = read(""); err != nil {
		return nil, fmt.Errorf("read kubepods cgroup: %w", err)
	}
	for _, pd := range pods {
		p := &PodSample{UID: pd.uid, Containers: make(map[string]*ContainerSample, len(pd.containers))}
		if p.CPU, p.Mem, err = read(pd.rel); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return nil, fmt.Errorf("read pod %s cgroup: %w", pd.uid, err)
		}
		for id, rel := range pd.containers {
			c := &ContainerSample{ID: id, Name: shortID(id)}
			if c.CPU, c.Mem, err = read(rel); err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					continue
				}
				return nil, fmt.Errorf("read container %s cgroup: %w", id, err)
			}
			p.Containers[id] = c
		}
		snap.Pods[p.UID] = p
	}
	return snap, nil
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func readSmall(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxCgroupFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxCgroupFile {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxCgroupFile)
	}
	return b, nil
}

var wantV2Mem = map[string]bool{"anon": true, "inactive_file": true}
var wantV2CPU = map[string]bool{"usage_usec": true}
var wantV1Mem = map[string]bool{"total_rss": true, "total_inactive_file": true, "rss": true, "inactive_file": true}

// readV2 reads cpu.stat usage_usec, memory.current, memory.stat (anon,
// inactive_file) and memory.max of one v2 cgroup.
func readV2(dir string) (CPUSample, MemSample, error) {
	var cpu CPUSample
	var mem MemSample
	b, err := readSmall(filepath.Join(dir, "cpu.stat"))
	if err != nil {
		return cpu, mem, err
	}
	kv, err := parseKeyed(b, wantV2CPU)
	if err != nil {
		return cpu, mem, fmt.Errorf("%s/cpu.stat: %w", dir, err)
	}
	if v, ok := kv["usage_usec"]; ok {
		cpu = CPUSample{Valid: true, UsageCoreNanoSeconds: v * 1000}
	}
	if b, err = readSmall(filepath.Join(dir, "memory.current")); err != nil {
		return cpu, mem, err
	}
	cur, _, err := parseValue(b)
	if err != nil {
		return cpu, mem, fmt.Errorf("%s/memory.current: %w", dir, err)
	}
	if b, err = readSmall(filepath.Join(dir, "memory.stat")); err != nil {
		return cpu, mem, err
	}
	if kv, err = parseKeyed(b, wantV2Mem); err != nil {
		return cpu, mem, fmt.Errorf("%s/memory.stat: %w", dir, err)
	}
	mem = MemSample{Valid: true, Usage: cur, HasUsage: true, WorkingSet: subClamp(cur, kv["inactive_file"])}
	if v, ok := kv["anon"]; ok {
		mem.RSS, mem.HasRSS = v, true
	}
	// memory.max is absent at the root and optional below: no limit then.
	if b, err = readSmall(filepath.Join(dir, "memory.max")); err == nil {
		if v, unlimited, err := parseValue(b); err == nil && !unlimited {
			mem.Limit = v
		}
	}
	return cpu, mem, nil
}

// readV1 reads cpuacct.usage, memory.usage_in_bytes, memory.stat
// (total_rss, total_inactive_file: the hierarchical figures, since a pod's
// memory is in its containers' child cgroups) and memory.limit_in_bytes.
func readV1(cpuDir, memDir string) (CPUSample, MemSample, error) {
	var cpu CPUSample
	var mem MemSample
	b, err := readSmall(filepath.Join(cpuDir, "cpuacct.usage"))
	if err != nil {
		return cpu, mem, err
	}
	v, _, err := parseValue(b)
	if err != nil {
		return cpu, mem, fmt.Errorf("%s/cpuacct.usage: %w", cpuDir, err)
	}
	cpu = CPUSample{Valid: true, UsageCoreNanoSeconds: v}
	if b, err = readSmall(filepath.Join(memDir, "memory.usage_in_bytes")); err != nil {
		return cpu, mem, err
	}
	usage, _, err := parseValue(b)
	if err != nil {
		return cpu, mem, fmt.Errorf("%s/memory.usage_in_bytes: %w", memDir, err)
	}
	if b, err = readSmall(filepath.Join(memDir, "memory.stat")); err != nil {
		return cpu, mem, err
	}
	kv, err := parseKeyed(b, wantV1Mem)
	if err != nil {
		return cpu, mem, fmt.Errorf("%s/memory.stat: %w", memDir, err)
	}
	inactive, ok := kv["total_inactive_file"]
	if !ok {
		inactive = kv["inactive_file"]
	}
	rss, ok := kv["total_rss"]
	if !ok {
		rss = kv["rss"]
	}
	mem = MemSample{Valid: true, Usage: usage, HasUsage: true, WorkingSet: subClamp(usage, inactive), RSS: rss, HasRSS: true}
	if b, err = readSmall(filepath.Join(memDir, "memory.limit_in_bytes")); err == nil {
		if v, _, err := parseValue(b); err == nil && v < unlimitedV1 {
			mem.Limit = v
		}
	}
	return cpu, mem, nil
}

func subClamp(a, b uint64) uint64 {
	if b >= a {
		return 0
	}
	return a - b
}
