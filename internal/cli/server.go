package cli

import (
	"context"
	"fmt"
	"math"
	"runtime/debug"
	"runtime/metrics"
	"time"

	"github.com/spf13/cobra"

	"github.com/kinsight/kinsight/internal/config"
	"github.com/kinsight/kinsight/internal/server"
)

// serverFlags are the flags shared by `server` and `up`; set flags override
// the config file.
type serverFlags struct {
	configFile string
	listen     string
	dataDir    string
	insecure   bool
}

func (f *serverFlags) register(cmd *cobra.Command) {
	d := config.DefaultServer()
	cmd.Flags().StringVarP(&f.configFile, "config", "c", "", "YAML config file (see docs/config.md)")
	cmd.Flags().StringVar(&f.listen, "listen", d.Listen, "HTTP listen address")
	cmd.Flags().StringVar(&f.dataDir, "data-dir", d.DataDir, "directory for all stored data")
	cmd.Flags().BoolVar(&f.insecure, "insecure", false, "allow a non-loopback listen address without access keys")
}

// load reads the config file and applies the flags that were set.
func (f *serverFlags) load(cmd *cobra.Command) (config.Config, error) {
	cfg, err := config.Load(f.configFile)
	if err != nil {
		return cfg, err
	}
	if cmd.Flags().Changed("listen") {
		cfg.Server.Listen = f.listen
	}
	if cmd.Flags().Changed("data-dir") {
		cfg.Server.DataDir = f.dataDir
	}
	if cmd.Flags().Changed("insecure") {
		cfg.Server.Insecure = f.insecure
	}
	return cfg, cfg.Validate()
}

func newServerCmd(env *Env) *cobra.Command {
	var f serverFlags
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the kinsight server (CloudWatch Logs API, storage, console)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.load(cmd)
			if err != nil {
				return err
			}
			return runServer(cmd, env, cfg)
		},
	}
	f.register(cmd)
	return cmd
}

// runServer runs a server until the command's context ends (SIGINT/SIGTERM).
func runServer(cmd *cobra.Command, env *Env, cfg config.Config) error {
	setServerMemoryLimit(cmd.Context(), env, cfg.Server)
	log := newLogger(env.Stderr, cfg.Log)
	srv, err := server.New(cfg.Server, server.Options{Logger: log, Version: Version})
	if err != nil {
		return err
	}
	return srv.Run(cmd.Context())
}

// setServerMemoryLimit applies server.memory_limit (GOMEMLIMIT wins) for
// `server` and `up` until ctx ends. The process is the server: `up`'s agent
// runs inside it and its own memory_limit (for `kinsight agent`) would be
// far too low.
//
// A fixed limit near or below the live heap would have the collector run
// all the time (Go caps it at half the CPU), and what a server holds live is
// not bounded by its configuration alone: a metric store with a million
// series holds gigabytes. So the limit in force, checked every second, is
// max(memory_limit, 2 × live − memory_limit/3): the configured limit while
// the live heap is under two thirds of it (the log server's heads, ~180 MiB
// while ingesting), then a headroom of live − memory_limit/3 that grows
// back towards GOGC's 2 × live. In between the collector still costs more:
// a 200,000-series metric store took ~40% more CPU for ~40% less RSS
// (docs/benchmarks.md, issue 2); memory_limit: 0 turns this off.
func setServerMemoryLimit(ctx context.Context, env *Env, s config.Server) {
	if s.MemoryLimit <= 0 || env.Getenv("GOMEMLIMIT") != "" {
		return
	}
	limit := int64(s.MemoryLimit)
	prev := debug.SetMemoryLimit(limit)
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		for {
			select {
			case <-ctx.Done():
				debug.SetMemoryLimit(prev)
				return
			case <-t.C:
			}
			debug.SetMemoryLimit(memoryLimitFor(limit, sample))
		}
	}()
}

// memoryLimitFor is the limit in force for a configured limit and the
// live heap (read into sample).
func memoryLimitFor(configured int64, sample []metrics.Sample) int64 {
	metrics.Read(sample)
	if sample[0].Value.Kind() != metrics.KindUint64 {
		return configured
	}
	live := int64(min(sample[0].Value.Uint64(), math.MaxInt64/4))
	return max(configured, 2*live-configured/3)
}

// printBanner is what `kinsight up` prints once the server and the agent run.
func printBanner(env *Env, cfg config.Config, addr, hostGroup, appGroup string) {
	fmt.Fprintf(env.Stdout, `kinsight is running on http://%[1]s (data in %[2]s),
with an agent shipping this machine's host logs and metrics to it. Try:

  kinsight logs tail %[3]s -f --endpoint http://%[1]s
  kinsight metrics query 'node_load1' --endpoint http://%[1]s

Container logs (when /var/log/containers exists) go to %[4]s.
Send your own with the AWS CLI:

  aws logs create-log-group --log-group-name demo --endpoint-url http://%[1]s
  aws logs create-log-stream --log-group-name demo --log-stream-name s1 --endpoint-url http://%[1]s
  aws logs put-log-events --log-group-name demo --log-stream-name s1 \
      --log-events timestamp=$(date +%%s000),message=hello --endpoint-url http://%[1]s

(with no access keys configured, any AWS credentials are accepted on loopback;
 the AWS CLI still needs some: export AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x AWS_REGION=us-east-1)
Press Ctrl-C to stop.
`, addr, cfg.Server.DataDir, hostGroup, appGroup)
}
