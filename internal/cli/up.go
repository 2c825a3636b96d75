package cli

import (
	"github.com/spf13/cobra"
)

// newUpCmd is `kinsight up`: everything on this machine in one process. The
// node agent is not built yet, so today it is the server plus a banner that
// shows how to send it logs.
func newUpCmd(env *Env) *cobra.Command {
	var f serverFlags
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run kinsight on this machine (server; the agent joins when it exists)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.load(cmd)
			if err != nil {
				return err
			}
			return runServer(cmd, env, cfg, true)
		},
	}
	f.register(cmd)
	return cmd
}
