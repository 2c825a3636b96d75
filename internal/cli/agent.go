package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/kinsight/kinsight/internal/agent/buffer"
	"github.com/kinsight/kinsight/internal/agent/output/cloudwatch"
	"github.com/kinsight/kinsight/internal/agent/pipeline"
	"github.com/kinsight/kinsight/internal/config"
)

// newAgentCmd is `kinsight agent`: the node agent alone, shipping this
// machine's logs to a kinsight server or CloudWatch Logs.
func newAgentCmd(env *Env) *cobra.Command {
	var configFile string
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run the node agent: ship container and host logs to kinsight or CloudWatch Logs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(configFile)
			if err != nil {
				return err
			}
			log := newLogger(env.Stderr, cfg.Log)
			dataDir := cfg.Agent.DataDir
			if dataDir == "" {
				dataDir = "./kinsight-agent"
			}
			return runAgent(cmd.Context(), cfg.Agent, dataDir, log)
		},
	}
	cmd.Flags().StringVarP(&configFile, "config", "c", "", "YAML config file (see docs/config.md)")
	return cmd
}

// runAgent runs the pipeline until ctx ends; the pipeline then drains for a
// few seconds and saves its checkpoints.
func runAgent(ctx context.Context, a config.Agent, dataDir string, log *slog.Logger) error {
	pcfg, err := pipelineConfig(a, dataDir, log)
	if err != nil {
		return err
	}
	p, err := pipeline.New(ctx, pcfg)
	if err != nil {
		return err
	}
	log.Info("kinsight agent running", "data_dir", dataDir, "endpoint", a.Output.Endpoint, "cluster", a.ClusterName)
	return p.Run(ctx)
}

// pipelineConfig maps the agent section onto the pipeline's Config.
func pipelineConfig(a config.Agent, dataDir string, log *slog.Logger) (pipeline.Config, error) {
	host := a.HostName
	if host == "" {
		h, err := os.Hostname()
		if err != nil {
			return pipeline.Config{}, fmt.Errorf("agent.host_name is not set and the host name is unknown: %w", err)
		}
		host = h
	}
	out := cloudwatch.DefaultConfig()
	out.Endpoint = a.Output.Endpoint
	out.Region = a.Output.Region
	out.AccessKeyID = a.Output.AccessKeyID
	out.SecretAccessKey = a.Output.SecretAccessKey
	out.Compression = a.Output.Compression
	buf := buffer.DefaultConfig()
	buf.MemoryBytes = int64(a.Buffer.MemoryBytes)
	buf.DiskBytes = int64(a.Buffer.DiskBytes)
	var containers []string
	if a.ContainerLogs != "" {
		containers = []string{a.ContainerLogs}
	}
	return pipeline.Config{
		ClusterName:   a.ClusterName,
		HostName:      host,
		DataDir:       dataDir,
		ContainerLogs: containers,
		HostLogs:      a.HostLogs,
		Routes: pipeline.Routes{
			ApplicationGroup: a.Routes.ApplicationGroup, ApplicationStream: a.Routes.ApplicationStream,
			HostGroup: a.Routes.HostGroup, HostStream: a.Routes.HostStream,
		},
		Filter: pipeline.Filter{
			IncludeNamespaces: a.IncludeNamespaces, ExcludeNamespaces: a.ExcludeNamespaces,
			IncludeContainers: a.IncludeContainers, ExcludeContainers: a.ExcludeContainers,
		},
		Buffer: buf,
		Output: out,
		Logger: log.With("component", "agent"),
	}, nil
}
