// Package cli holds kinsight's subcommands, one file each. Run is the whole
// program: main only builds a context and exits with Run's code, and tests
// call Run too.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/kinsight/kinsight/internal/config"
)

// Env is what a command may use from its surroundings; tests replace it.
type Env struct {
	Getenv func(string) string
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

// errSilent is returned by commands that already printed their error.
var errSilent = errors.New("")

// Run executes kinsight with args (without the program name) and returns the
// process exit code.
func Run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	env := &Env{Getenv: getenv, Stdin: stdin, Stdout: stdout, Stderr: stderr}
	root := newRoot(env)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.ExecuteContext(ctx); err != nil {
		if !errors.Is(err, errSilent) {
			fmt.Fprintln(stderr, "kinsight:", err)
		}
		return 1
	}
	return 0
}

func newRoot(env *Env) *cobra.Command {
	root := &cobra.Command{
		Use:           "kinsight",
		Short:         "Kubernetes logs, metrics and alarms in one binary",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newServerCmd(env),
		newUpCmd(env),
		newAgentCmd(env),
		newLogsCmd(env),
		newMetricsCmd(env),
		newConfigCmd(env),
		newVersionCmd(env),
	)
	return root
}

// Version is set at build time with -ldflags "-X …/cli.Version=…".
var Version = "dev"

func newVersionCmd(env *Env) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(env.Stdout, "kinsight", Version)
			return nil
		},
	}
}

// newLogger builds the process logger from the log section.
func newLogger(w io.Writer, c config.Log) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
