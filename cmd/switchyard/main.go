// Command switchyard is an Envoy xDS control plane that follows HashiCorp
// Consul: it watches the catalog and health checks and streams CDS, EDS, LDS
// and RDS to Envoy proxies and proxyless gRPC clients.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// version is the release version, set at build time with
// -ldflags "-X main.version=...".
var version = "dev"

// usageError is a command-line mistake: it exits 2 with a one-line message.
type usageError struct{ err error }

// Error returns the message of the mistake.
func (e usageError) Error() string { return e.err.Error() }

// Unwrap returns the underlying error.
func (e usageError) Unwrap() error { return e.err }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := execute(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// execute runs the command line and returns the process exit code: 0 on
// success, 2 for a usage mistake, 1 for any other failure.
func execute(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCommand(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "switchyard: %v\n", err)
	var ue usageError
	if errors.As(err, &ue) || isCobraUsageError(err) {
		return 2
	}
	return 1
}

// newRootCommand builds the command tree.
func newRootCommand(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "switchyard",
		Short:         "An Envoy xDS control plane that follows Consul",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newServeCommand(), newBootstrapCommand(), newStatusCommand(), newRolloutCommand(), newFleetCommand(), newVersionCommand())
	return root
}

// isCobraUsageError recognises the errors cobra itself returns for an
// unknown command or a wrong number of arguments.
func isCobraUsageError(err error) bool {
	msg := err.Error()
	for _, prefix := range []string{"unknown command", "accepts ", "requires ", "unknown flag", "unknown shorthand flag"} {
		if strings.HasPrefix(msg, prefix) {
			return true
		}
	}
	return false
}

// newVersionCommand prints the version.
func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "switchyard %s\n", version)
			return err
		},
	}
}
