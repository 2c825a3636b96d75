package config

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFixtures loads every testdata fixture: *.good.yaml must load, and
// *.bad.yaml must fail with an error naming each YAML key listed on its
// first line ("# key: server.listen, log.level").
func TestFixtures(t *testing.T) {
	good, _ := filepath.Glob("testdata/*.good.yaml")
	bad, _ := filepath.Glob("testdata/*.bad.yaml")
	if len(good) == 0 || len(bad) == 0 {
		t.Fatalf("found %d good and %d bad fixtures; the glob or the directory is wrong", len(good), len(bad))
	}
	for _, path := range good {
		t.Run(filepath.Base(path), func(t *testing.T) {
			if _, err := Load(path); err != nil {
				t.Fatalf("Load: %v", err)
			}
		})
	}
	for _, path := range bad {
		t.Run(filepath.Base(path), func(t *testing.T) {
			keys := fixtureKeys(t, path)
			_, err := Load(path)
			if err == nil {
				t.Fatal("Load succeeded on a bad fixture")
			}
			for _, k := range keys {
				if !strings.Contains(err.Error(), k) {
					t.Errorf("error does not name %s:\n%v", k, err)
				}
			}
		})
	}
}

// fixtureKeys reads the "# key: a, b" first line of a bad fixture.
func fixtureKeys(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan()
	rest, ok := strings.CutPrefix(sc.Text(), "# key:")
	if !ok {
		t.Fatalf("first line %q is not a '# key: …' comment", sc.Text())
	}
	var keys []string
	for _, k := range strings.Split(rest, ",") {
		if k = strings.TrimSpace(k); k != "" {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		t.Fatal("no key named on the first line")
	}
	return keys
}

// TestFullFixtureDecodes checks that the fixture setting every key is read
// into the fields it names, units included, so a key that decodes into the
// wrong field cannot pass as merely "valid".
func TestFullFixtureDecodes(t *testing.T) {
	c, err := Load("testdata/full.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := c.Server
	m := c.Agent.Metrics
	checks := []struct {
		name      string
		got, want any
	}{
		{"listen", s.Listen, "0.0.0.0:9470"},
		{"data_dir", s.DataDir, "/var/lib/kinsight"},
		{"region", s.Region, "ap-northeast-2"},
		{"account_id", s.AccountID, "123456789012"},
		{"max_request_bytes", s.MaxRequestBytes, ByteSize(16 << 20)},
		{"max_inflight_bytes", s.MaxInflightBytes, ByteSize(128 << 20)},
		{"pprof", s.Pprof, true},
		{"shutdown_timeout", s.ShutdownTimeout, Duration(30 * time.Second)},
		{"memory_limit", s.MemoryLimit, ByteSize(512 << 20)},
		{"access_keys", len(s.Auth.AccessKeys), 3},
		{"access_keys[1].secret_file", s.Auth.AccessKeys[1].SecretFile, "/etc/kinsight/reader-secret"},
		{"access_keys[2].role", s.Auth.AccessKeys[2].Role, RoleAdmin},
		{"head_max_bytes", s.Logs.HeadMaxBytes, ByteSize(128 << 20)},
		{"flush_interval", s.Logs.FlushInterval, Duration(30 * time.Second)},
		{"block_max_bytes", s.Logs.BlockMaxBytes, ByteSize(2 << 20)},
		{"max_parts_per_partition", s.Logs.MaxPartsPerPartition, 16},
		{"compression_level", s.Logs.CompressionLevel, 1},
		{"min_free_disk_bytes", s.Logs.MinFreeDiskBytes, ByteSize(1e9)},
		{"wal_segment_bytes", s.Logs.WALSegmentBytes, ByteSize(32 << 20)},
		{"retention_check_interval", s.Logs.RetentionCheckInterval, Duration(time.Hour)},
		{"block_cache_bytes", s.Logs.BlockCacheBytes, ByteSize(32 << 20)},
		{"insights.max_concurrent_queries", s.Logs.Insights.MaxConcurrentQueries, 10},
		{"insights.query_timeout", s.Logs.Insights.QueryTimeout, Duration(5 * time.Minute)},
		{"insights.max_memory_bytes", s.Logs.Insights.MaxMemoryBytes, ByteSize(64 << 20)},
		{"insights.results_ttl", s.Logs.Insights.ResultsTTL, Duration(2 * time.Hour)},
		{"metrics.retention", s.Metrics.Retention, Duration(30 * 24 * time.Hour)},
		{"metrics.retention_bytes", s.Metrics.RetentionBytes, ByteSize(10 << 30)},
		{"metrics.out_of_order_window", s.Metrics.OutOfOrderWindow, Duration(10 * time.Minute)},
		{"metrics.query_timeout", s.Metrics.QueryTimeout, Duration(time.Minute)},
		{"metrics.max_samples", s.Metrics.MaxSamples, 1000000},
		{"metrics.max_concurrent_queries", s.Metrics.MaxConcurrentQueries, 8},
		{"metrics.lookback_delta", s.Metrics.LookbackDelta, Duration(2 * time.Minute)},
		{"metrics.max_write_bytes", s.Metrics.MaxWriteBytes, ByteSize(64 << 20)},
		{"metrics.max_write_compressed_bytes", s.Metrics.MaxWriteCompressedBytes, ByteSize(8 << 20)},
		{"metrics.push_interval", s.Metrics.PushInterval, Duration(30 * time.Second)},
		{"agent.cluster_name", c.Agent.ClusterName, "prod-eks"},
		{"agent.host_name", c.Agent.HostName, "node-1"},
		{"agent.data_dir", c.Agent.DataDir, "/var/lib/kinsight-agent"},
		{"agent.container_logs", c.Agent.ContainerLogs, "/var/log/containers/*.log"},
		{"agent.host_logs", strings.Join(c.Agent.HostLogs, ","), "/var/log/syslog,/var/log/kern.log"},
		{"agent.include_namespaces", strings.Join(c.Agent.IncludeNamespaces, ","), "default,payments"},
		{"agent.exclude_namespaces", strings.Join(c.Agent.ExcludeNamespaces, ","), "kube-system"},
		{"agent.include_containers", strings.Join(c.Agent.IncludeContainers, ","), "app"},
		{"agent.exclude_containers", strings.Join(c.Agent.ExcludeContainers, ","), "istio-proxy"},
		{"agent.routes.application_group", c.Agent.Routes.ApplicationGroup, "/k8s/{cluster}/app"},
		{"agent.routes.application_stream", c.Agent.Routes.ApplicationStream, "{file}"},
		{"agent.routes.host_group", c.Agent.Routes.HostGroup, "/k8s/{cluster}/host"},
		{"agent.routes.host_stream", c.Agent.Routes.HostStream, "{host}-{file}"},
		{"agent.buffer.memory_bytes", c.Agent.Buffer.MemoryBytes, ByteSize(8 << 20)},
		{"agent.buffer.disk_bytes", c.Agent.Buffer.DiskBytes, ByteSize(2 << 30)},
		{"agent.output.endpoint", c.Agent.Output.Endpoint, "http://kinsight:8470"},
		{"agent.output.region", c.Agent.Output.Region, "eu-west-1"},
		{"agent.output.access_key_id", c.Agent.Output.AccessKeyID, "AKIAAGENT0000000001"},
		{"agent.output.secret_access_key", c.Agent.Output.SecretAccessKey, "agent-secret"},
		{"agent.output.compression", c.Agent.Output.Compression, "gzip"},
		{"agent.output.type", c.Agent.Output.Type, "file"},
		{"agent.output.path", c.Agent.Output.Path, "/tmp/agent.jsonl"},
		{"agent.listen", c.Agent.Listen, "0.0.0.0:9471"},
		{"agent.pprof", c.Agent.Pprof, true},
		{"agent.memory_limit", c.Agent.MemoryLimit, ByteSize(128 << 20)},
		{"agent.include_pod_labels", c.Agent.IncludePodLabels, "app in (web,api)"},
		{"agent.exclude_pod_labels", c.Agent.ExcludePodLabels, "tier=debug"},
		{"agent.multiline.presets", strings.Join(c.Agent.Multiline.Presets, ","), "java,python"},
		{"agent.multiline.start", strings.Join(c.Agent.Multiline.Start, ","), `^\d{4}-`},
		{"agent.multiline.continue", strings.Join(c.Agent.Multiline.Continue, ","), "^Caused by"},
		{"agent.merge_log", c.Agent.MergeLog, false},
		{"agent.merge_log_key", c.Agent.MergeLogKey, ""},
		{"agent.kubernetes.enabled", c.Agent.Kubernetes.Enabled, "true"},
		{"agent.kubernetes.kubeconfig", c.Agent.Kubernetes.Kubeconfig, "/etc/kubeconfig"},
		{"agent.kubernetes.node_name", c.Agent.Kubernetes.NodeName, "ip-10-0-0-1"},
		{"agent.kubernetes.wait", c.Agent.Kubernetes.Wait, Duration(5 * time.Second)},
		{"agent.kubernetes.labels", c.Agent.Kubernetes.Labels, false},
		{"agent.kubernetes.annotations", c.Agent.Kubernetes.Annotations, false},
		{"agent.dataplane.journal_units", strings.Join(c.Agent.Dataplane.JournalUnits, ","), "kubelet.service"},
		{"agent.dataplane.journal_directory", c.Agent.Dataplane.JournalDirectory, "/var/log/journal"},
		{"agent.dataplane.pods", strings.Join(c.Agent.Dataplane.Pods, ","), "aws-node"},
		{"agent.routes.dataplane_group", c.Agent.Routes.DataplaneGroup, "/k8s/{cluster}/dataplane"},
		{"agent.routes.dataplane_stream", c.Agent.Routes.DataplaneStream, "{host}-{file}"},
		{"agent.metrics.enabled", m.Enabled, false},
		{"agent.metrics.interval", m.Interval, Duration(15 * time.Second)},
		{"agent.metrics.wal_dir", m.WALDir, "/var/lib/kinsight-agent/wal"},
		{"agent.metrics.node.enabled", m.Node.Enabled, false},
		{"agent.metrics.node.proc_path", m.Node.ProcPath, "/host/proc"},
		{"agent.metrics.node.sys_path", m.Node.SysPath, "/host/sys"},
		{"agent.metrics.node.root_path", m.Node.RootPath, "/host/root"},
		{"agent.metrics.pods.source", m.Pods.Source, "kubelet"},
		{"agent.metrics.pods.kubelet_url", m.Pods.KubeletURL, "https://10.0.0.1:10250"},
		{"agent.metrics.pods.kubelet_ca_file", m.Pods.KubeletCAFile, "/etc/kubelet-ca.crt"},
		{"agent.metrics.pods.token_file", m.Pods.TokenFile, "/etc/token"},
		{"agent.metrics.pods.cgroup_root", m.Pods.CgroupRoot, "/host/sys/fs/cgroup"},
		{"agent.metrics.cluster.enabled", m.Cluster.Enabled, "true"},
		{"agent.metrics.cluster.lease_namespace", m.Cluster.LeaseNamespace, "monitoring"},
		{"agent.metrics.cluster.lease_name", m.Cluster.LeaseName, "agents"},
		{"agent.metrics.cluster.identity", m.Cluster.Identity, "agent-1"},
		{"agent.metrics.scrape.enabled", m.Scrape.Enabled, "false"},
		{"agent.metrics.scrape.interval", m.Scrape.Interval, Duration(20 * time.Second)},
		{"agent.metrics.scrape.timeout", m.Scrape.Timeout, Duration(5 * time.Second)},
		{"agent.metrics.scrape.sample_limit", m.Scrape.SampleLimit, 1000},
		{"agent.metrics.remote_write", len(m.RemoteWrite), 3},
		{"agent.metrics.remote_write[0].sigv4.region", m.RemoteWrite[0].SigV4.Region, "us-west-2"},
		{"agent.metrics.remote_write[0].sigv4.access_key", m.RemoteWrite[0].SigV4.AccessKey, "AKIAMETRICS"},
		{"agent.metrics.remote_write[0].sigv4.secret_key", m.RemoteWrite[0].SigV4.SecretKey, "metrics-secret"},
		{"agent.metrics.remote_write[1].basic_auth.username", m.RemoteWrite[1].BasicAuth.Username, "agent"},
		{"agent.metrics.remote_write[1].basic_auth.password_file", m.RemoteWrite[1].BasicAuth.PasswordFile, "/etc/prom-password"},
		{"agent.metrics.remote_write[1].headers", m.RemoteWrite[1].Headers["X-Scope-OrgID"], "team-a"},
		{"agent.metrics.remote_write[2].url", m.RemoteWrite[2].URL, "http://mimir/api/v1/push"},
		{"agent.metrics.remote_write[2].bearer_token_file", m.RemoteWrite[2].BearerTokenFile, "/etc/mimir-token"},
		{"log.level", c.Log.Level, "debug"},
		{"log.format", c.Log.Format, "json"},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}
