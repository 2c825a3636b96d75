// Package nodemetrics is the agent's node-level metric collector: CPU, memory,
// filesystems, disk I/O, network, load and a few kernel counters, read from
// procfs and sysfs and exposed as a prometheus.Collector under the names,
// labels, units and types that Prometheus's node-exporter uses for the same
// quantities, so that dashboards and alert rules written for node-exporter
// work unchanged on kinsight's data.
//
// # Sources
//
// Everything is read below three configurable roots, the equivalents of
// node-exporter's --path.procfs, --path.sysfs and --path.rootfs, so that a
// DaemonSet that mounts the host's /proc at /host/proc, /sys at /host/sys and
// / at /host/root reports the host and not its own container:
//
//   - <proc>/stat: node_cpu_seconds_total, node_cpu_guest_seconds_total,
//     node_boot_time_seconds, node_context_switches_total, node_forks_total,
//     node_intr_total, node_procs_running, node_procs_blocked
//   - <sys>/devices/system/cpu/cpu<N>/{topology,thermal_throttle}:
//     node_cpu_core_throttles_total, node_cpu_package_throttles_total
//     (where the kernel has them)
//   - <proc>/meminfo: node_memory_<Field>_bytes (every field the kernel
//     prints, named as node-exporter names it)
//   - <proc>/1/mounts (else <proc>/mounts) and statfs(2) on
//     <rootfs>/<mountpoint>: node_filesystem_*
//   - <proc>/diskstats, <sys>/block/<dev>/queue/rotational and the udev
//     database: node_disk_*
//   - <proc>/net/dev: node_network_{receive,transmit}_*; /proc/net is the
//     reading process's network namespace, so the DaemonSet needs
//     hostNetwork, as node-exporter does
//   - <proc>/loadavg: node_load1, node_load5, node_load15
//
// docs/metrics.md lists every metric with its labels, source and unit.
//
// # Guarantees
//
// A failing source (a missing file, a parse error, a statfs that fails) is
// counted in kinsight_agent_nodemetrics_errors_total{collector} and logged
// when it starts and stops failing; it never stops the other sources. A
// statfs that does not return within Options.StatfsTimeout (an NFS server
// gone away) marks that mount point stuck: it is reported with
// node_filesystem_device_error 1 and skipped until the call returns, so a
// hung mount never blocks a collection for longer than the timeout.
//
// CPU counters never go backwards between two collections of one Collector
// (the kernel's iowait can), and a CPU whose idle time jumps back by more
// than 3 s is taken as hot-plugged and restarts from its new values, as
// node-exporter does.
//
// The collector is unchecked (Describe sends nothing) because the set of
// meminfo fields depends on the kernel. Collect is safe for concurrent use;
// concurrent calls are serialised. The package does not schedule itself:
// whoever registers it decides the interval.
package nodemetrics
