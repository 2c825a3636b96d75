// Command kinsight is the single binary of kinsight: server, agent and clients.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/kinsight/kinsight/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
