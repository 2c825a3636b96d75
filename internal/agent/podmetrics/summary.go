package podmetrics

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	stats "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
)

// ParseSummary decodes the kubelet's GET /stats/summary body (the
// k8s.io/kubelet stats/v1alpha1 Summary) into a Snapshot taken at now. Pods
// without a UID are dropped; absent fields stay invalid rather than zero, so
// a kubelet that omits a value never produces a false 0.
func ParseSummary(data []byte, now time.Time) (*Snapshot, error) {
	var s stats.Summary
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("decode kubelet summary: %w", err)
	}
	if s.Node.NodeName == "" && len(s.Pods) == 0 {
		return nil, errors.New("decode kubelet summary: no node name and no pods")
	}
	snap := &Snapshot{Time: now, Source: SourceKubelet, Pods: make(map[string]*PodSample, len(s.Pods))}
	n := &snap.Node
	n.Name = s.Node.NodeName
	n.CPU = cpuFromStats(s.Node.CPU)
	n.Mem = memFromStats(s.Node.Memory)
	n.Net = netFromStats(s.Node.Network)
	n.Fs = fsFromStats(s.Node.Fs)
	for i := range s.Pods {
		ps := &s.Pods[i]
		if ps.PodRef.UID == "" {
			continue
		}
		p := &PodSample{
			UID: ps.PodRef.UID, Name: ps.PodRef.Name, Namespace: ps.PodRef.Namespace,
			CPU:        cpuFromStats(ps.CPU),
			Mem:        memFromStats(ps.Memory),
			Net:        netFromStats(ps.Network),
			Ephemeral:  fsFromStats(ps.EphemeralStorage),
			Containers: make(map[string]*ContainerSample, len(ps.Containers)),
		}
		for j := range ps.Containers {
			cs := &ps.Containers[j]
			if cs.Name == "" {
				continue
			}
			p.Containers[cs.Name] = &ContainerSample{
				Name: cs.Name, StartTime: cs.StartTime.Time,
				CPU: cpuFromStats(cs.CPU), Mem: memFromStats(cs.Memory),
				Rootfs: fsFromStats(cs.Rootfs), Logs: fsFromStats(cs.Logs),
			}
		}
		// Old kubelets (before pod-level CPU/memory stats) leave the pod's
		// own figures out: the containers' sum stands in for them.
		if !p.CPU.Valid || !p.Mem.Valid {
			sumContainers(p)
		}
		if prev, ok := snap.Pods[p.UID]; ok && len(prev.Containers) > len(p.Containers) {
			continue
		}
		snap.Pods[p.UID] = p
	}
	return snap, nil
}

func sumContainers(p *PodSample) {
	var cpu CPUSample
	var mem MemSample
	for _, c := range p.Containers {
		if !p.CPU.Valid && c.CPU.Valid {
			cpu.Valid = true
			cpu.UsageCoreNanoSeconds += c.CPU.UsageCoreNanoSeconds
			cpu.UsageNanoCores += c.CPU.UsageNanoCores
			if c.CPU.Time.After(cpu.Time) {
				cpu.Time = c.CPU.Time
			}
		}
		if !p.Mem.Valid && c.Mem.Valid {
			mem.Valid = true
			mem.WorkingSet += c.Mem.WorkingSet
			mem.Usage += c.Mem.Usage
			mem.RSS += c.Mem.RSS
			mem.HasUsage = mem.HasUsage || c.Mem.HasUsage
			mem.HasRSS = mem.HasRSS || c.Mem.HasRSS
		}
	}
	if !p.CPU.Valid {
		p.CPU = cpu
	}
	if !p.Mem.Valid {
		p.Mem = mem
	}
}

func cpuFromStats(c *stats.CPUStats) CPUSample {
	if c == nil || c.UsageCoreNanoSeconds == nil {
		return CPUSample{}
	}
	s := CPUSample{Valid: true, Time: c.Time.Time, UsageCoreNanoSeconds: *c.UsageCoreNanoSeconds}
	if c.UsageNanoCores != nil {
		s.UsageNanoCores = *c.UsageNanoCores
	}
	return s
}

func memFromStats(m *stats.MemoryStats) MemSample {
	if m == nil || m.WorkingSetBytes == nil {
		return MemSample{}
	}
	s := MemSample{Valid: true, WorkingSet: *m.WorkingSetBytes}
	if m.UsageBytes != nil {
		s.Usage, s.HasUsage = *m.UsageBytes, true
	}
	if m.RSSBytes != nil {
		s.RSS, s.HasRSS = *m.RSSBytes, true
	}
	return s
}

// netFromStats sums the interfaces when the kubelet lists them (1.11 and
// later); older kubelets report only the default interface inline.
func netFromStats(n *stats.NetworkStats) NetSample {
	if n == nil {
		return NetSample{}
	}
	s := NetSample{Time: n.Time.Time}
	if len(n.Interfaces) == 0 {
		if n.RxBytes == nil && n.TxBytes == nil {
			return NetSample{}
		}
		s.Valid = true
		s.RxBytes, s.TxBytes = deref(n.RxBytes), deref(n.TxBytes)
		s.RxErrors, s.TxErrors = deref(n.RxErrors), deref(n.TxErrors)
		name := n.Name
		if name == "" {
			name = "eth0"
		}
		s.Interfaces = []IfaceSample{{Name: name, RxBytes: s.RxBytes, TxBytes: s.TxBytes, RxErrors: s.RxErrors, TxErrors: s.TxErrors}}
		return s
	}
	s.Valid = true
	for _, i := range n.Interfaces {
		is := IfaceSample{Name: i.Name, RxBytes: deref(i.RxBytes), TxBytes: deref(i.TxBytes), RxErrors: deref(i.RxErrors), TxErrors: deref(i.TxErrors)}
		s.RxBytes += is.RxBytes
		s.TxBytes += is.TxBytes
		s.RxErrors += is.RxErrors
		s.TxErrors += is.TxErrors
		s.Interfaces = append(s.Interfaces, is)
	}
	return s
}

func fsFromStats(f *stats.FsStats) FsSample {
	if f == nil || f.UsedBytes == nil || f.CapacityBytes == nil {
		return FsSample{}
	}
	return FsSample{Valid: true, UsedBytes: *f.UsedBytes, CapacityBytes: *f.CapacityBytes, AvailableBytes: deref(f.AvailableBytes)}
}

func deref(p *uint64) uint64 {
	if p == nil {
		return 0
	}
	return *p
}
