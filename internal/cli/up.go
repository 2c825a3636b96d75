package cli

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kinsight/kinsight/internal/config"
	"github.com/kinsight/kinsight/internal/server"
	"github.com/prometheus/client_golang/prometheus"
)

// newUpCmd is `kinsight up`: everything on this machine in one process, the
// server and an agent shipping this host's logs to it.
func newUpCmd(env *Env) *cobra.Command {
	var f serverFlags
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run kinsight on this machine: the server plus an agent shipping this host's logs to it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.load(cmd)
			if err != nil {
				return err
			}
			return runUp(cmd.Context(), env, cfg)
		},
	}
	f.register(cmd)
	return cmd
}

// runUp starts the server, then the agent pointed at it. At the end the agent
// stops first, so what it drains still finds the server up.
func runUp(ctx context.Context, env *Env, cfg config.Config) error {
	setServerMemoryLimit(ctx, env, cfg.Server)
	log := newLogger(env.Stderr, cfg.Log)
	srv, err := server.New(cfg.Server, server.Options{Logger: log, Version: Version})
	if err != nil {
		return err
	}
	addr := srv.Addr().String()
	a := cfg.Agent
	if a.Output.Endpoint == "" {
		a.Output.Endpoint = "http://" + addr
	}
	if a.Output.AccessKeyID == "" {
		// With no access keys the server accepts any signature on loopback;
		// otherwise the agent signs with the first key allowed to write.
		a.Output.AccessKeyID, a.Output.SecretAccessKey = "kinsight-up", "kinsight-up"
		for _, k := range cfg.Server.Auth.AccessKeys {
			if k.Role == config.RoleAgent || k.Role == config.RoleAdmin {
				secret := k.Secret
				if k.SecretFile != "" {
					b, rerr := os.ReadFile(k.SecretFile)
					if rerr != nil {
						srv.Close()
						return rerr
					}
					secret = strings.TrimSpace(string(b))
				}
				a.Output.AccessKeyID, a.Output.SecretAccessKey = k.ID, secret
				break
			}
		}
	}
	if _, err := os.Stat(filepath.Dir(a.ContainerLogs)); err != nil {
		a.ContainerLogs = "" // not a Kubernetes node
		if a.Metrics.Pods.Source == "auto" {
			a.Metrics.Pods.Source = "off" // no pods' cgroups to read either
		}
	}
	dataDir := a.DataDir
	if dataDir == "" {
		dataDir = filepath.Join(cfg.Server.DataDir, "agent")
	}
	srvCtx, stopSrv := context.WithCancel(context.WithoutCancel(ctx))
	defer stopSrv()
	srvErr := make(chan error, 1)
	go func() { srvErr <- srv.Run(srvCtx) }()

	agentCtx, stopAgent := context.WithCancel(ctx)
	defer stopAgent()
	agentErr := make(chan error, 1)
	go func() { agentErr <- runUpAgent(agentCtx, env, cfg, a, dataDir, addr, srv.Registry()) }()
	select {
	case err := <-srvErr: // the server failed: nothing to ship to
		stopAgent()
		return errors.Join(err, <-agentErr)
	case err := <-agentErr: // ctx ended (the agent drained) or the agent failed
		stopSrv()
		return errors.Join(err, <-srvErr)
	}
}

// runUpAgent runs the agent with its metrics on the server's /metrics.
func runUpAgent(ctx context.Context, env *Env, cfg config.Config, a config.Agent, dataDir, addr string, reg prometheus.Registerer) error {
	log := newLogger(env.Stderr, cfg.Log)
	ag, err := newAgent(ctx, env, a, dataDir, log, reg)
	if err != nil {
		return err
	}
	host := a.HostName
	if host == "" {
		host, _ = os.Hostname()
	}
	names := strings.NewReplacer("{cluster}", a.ClusterName, "{host}", host)
	printBanner(env, cfg, addr, names.Replace(a.Routes.HostGroup), names.Replace(a.Routes.ApplicationGroup))
	return ag.run(ctx)
}
