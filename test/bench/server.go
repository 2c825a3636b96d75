package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Credentials configured on a server started with keys. The agent key
// writes, as Fluent Bit or the kinsight agent would; the reader key queries.
const (
	agentKeyID     = "AKIDBENCHAGENT"
	agentSecret    = "bench-agent-secret-0123456789"
	readerKeyID    = "AKIDBENCHREADER"
	readerSecret   = "bench-reader-secret-0123456789"
	benchRegion    = "us-east-1"
	serverLogLevel = "warn"
)

// serverOptions says how to start a kinsight server.
type serverOptions struct {
	Binary  string
	DataDir string
	LogFile string
	// Keys configures the agent and reader access keys (SigV4 verified).
	Keys bool
	// FlushInterval overrides logs.flush_interval when non-empty ("2s").
	FlushInterval string
}

// serverProc is a running kinsight server.
type serverProc struct {
	opts   serverOptions
	addr   string
	cmd    *exec.Cmd
	logf   *os.File
	exited chan struct{}
}

// findModuleRoot walks up from the working directory to go.mod.
func findModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory: run from the kinsight repository")
		}
		dir = parent
	}
}

// buildServer builds ./cmd/kinsight into dir and returns the binary's path.
func buildServer(ctx context.Context, dir string) (string, error) {
	root, err := findModuleRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "kinsight")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/kinsight")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/kinsight: %w\n%s", err, out)
	}
	return bin, nil
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// startServer writes a config next to the data directory, starts the
// server and waits for /readyz.
func startServer(ctx context.Context, o serverOptions) (*serverProc, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "server:\n  listen: %q\n  data_dir: %q\n  pprof: true\n", addr, o.DataDir)
	if o.Keys {
		fmt.Fprintf(&b, "  auth:\n    access_keys:\n")
		fmt.Fprintf(&b, "      - {id: %s, secret: %s, role: agent}\n", agentKeyID, agentSecret)
		fmt.Fprintf(&b, "      - {id: %s, secret: %s, role: reader}\n", readerKeyID, readerSecret)
	}
	if o.FlushInterval != "" {
		fmt.Fprintf(&b, "  logs:\n    flush_interval: %s\n", o.FlushInterval)
	}
	fmt.Fprintf(&b, "log:\n  level: %s\n", serverLogLevel)
	cfgPath := strings.TrimSuffix(o.DataDir, "/") + ".yaml"
	if err := os.WriteFile(cfgPath, []byte(b.String()), 0o600); err != nil {
		return nil, err
	}
	logf, err := os.Create(o.LogFile)
	if err != nil {
		return nil, err
	}
	p := &serverProc{opts: o, addr: addr, logf: logf, exited: make(chan struct{})}
	p.cmd = exec.Command(o.Binary, "server", "--config", cfgPath)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", o.Binary, err)
	}
	go func() { p.cmd.Wait(); close(p.exited) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(p.url() + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		select {
		case <-p.exited:
			return nil, fmt.Errorf("server exited during start; see %s", o.LogFile)
		case <-ctx.Done():
			p.stop()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("server not ready after 60s; see %s", o.LogFile)
		}
	}
}

func (p *serverProc) url() string { return "http://" + p.addr }
func (p *serverProc) pid() int    { return p.cmd.Process.Pid }

// stop sends SIGTERM and waits for the graceful shutdown (which flushes the
// head to parts), killing the server if it takes more than a minute.
func (p *serverProc) stop() error {
	defer p.logf.Close()
	select {
	case <-p.exited:
		return nil
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(time.Minute):
		p.cmd.Process.Kill()
		<-p.exited
		return errors.New("server did not stop within a minute of SIGTERM; killed")
	}
	if st := p.cmd.ProcessState; st != nil && !st.Success() {
		return fmt.Errorf("server exited with %s; see %s", st, p.opts.LogFile)
	}
	return nil
}

// scrapeMetrics fetches /metrics and sums each metric name over its label
// sets.
func (p *serverProc) scrapeMetrics(ctx context.Context) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url()+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	return parseMetrics(resp.Body)
}

// parseMetrics reads the Prometheus text format, summing samples of the
// same metric name (labels dropped). Histograms appear as their _sum,
// _count and _bucket names.
func parseMetrics(r io.Reader) (map[string]float64, error) {
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest := line, ""
		if i := strings.IndexAny(line, "{ "); i >= 0 {
			name, rest = line[:i], line[i:]
		}
		if strings.HasPrefix(rest, "{") {
			j := strings.LastIndexByte(rest, '}')
			if j < 0 {
				continue
			}
			rest = rest[j+1:]
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			continue
		}
		out[name] += v
	}
	return out, sc.Err()
}

// procStatusKB reads kB fields (VmRSS, VmHWM) from /proc/<pid>/status.
func procStatusKB(pid int, fields ...string) (map[string]int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	return parseStatusKB(data, fields...), nil
}

func parseStatusKB(data []byte, fields ...string) map[string]int64 {
	out := map[string]int64{}
	for line := range bytes.SplitSeq(data, []byte("\n")) {
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		for _, f := range fields {
			if string(k) != f {
				continue
			}
			num := strings.TrimSuffix(strings.TrimSpace(string(v)), " kB")
			if n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64); err == nil {
				out[f] = n
			}
		}
	}
	return out
}

// clkTck is USER_HZ, the unit of /proc CPU times: 100 on every Linux
// architecture Go supports (the kernel's ABI fixes it).
const clkTck = 100

// procCPUSeconds is utime+stime of a process from /proc/<pid>/stat.
func procCPUSeconds(pid int) (float64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(data)
}

func parseStatCPU(data []byte) (float64, error) {
	// The command name (field 2) may hold spaces; fields after ")" are fixed.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, errors.New("malformed /proc stat")
	}
	f := strings.Fields(string(data[i+1:]))
	// After ")": state is f[0], so utime (field 14) is f[11], stime f[12].
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return float64(u+s) / clkTck, nil
}

// machineCPUBusySeconds is the CPU time all CPUs spent not idle, from
// /proc/stat, so a run can tell how much of the machine others used.
func machineCPUBusySeconds() (float64, error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return 0, errors.New("malformed /proc/stat")
	}
	var busy int64
	for i, s := range f[1:] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, err
		}
		// idle (4th) and iowait (5th) are not busy; guest times are
		// already inside user and nice.
		if i == 3 || i == 4 || i >= 8 {
			continue
		}
		busy += n
	}
	return float64(busy) / clkTck, nil
}

// diskUsage is what du reports (allocated blocks) and the apparent size.
type diskUsage struct {
	Allocated int64
	Apparent  int64
	Files     int
}

func duDir(dir string) (diskUsage, error) {
	var u diskUsage
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) { // merged away while walking
				return nil
			}
			return err
		}
		info, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			u.Allocated += st.Blocks * 512
		}
		if !d.IsDir() {
			u.Apparent += info.Size()
			u.Files++
		}
		return nil
	})
	return u, err
}

// machineInfo describes this machine for the report.
type machineInfo struct {
	CPUs     int
	Model    string
	MemBytes int64
	Kernel   string
}

func readMachineInfo() machineInfo {
	m := machineInfo{CPUs: numCPU()}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.Model = strings.TrimSpace(v)
				break
			}
		}
	}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		m.MemBytes = parseStatusKB(data, "MemTotal")["MemTotal"] * 1024
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(data))
	}
	return m
}

func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
