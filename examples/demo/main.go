// Command demo shows Switchyard steering live gRPC traffic.
//
// `demo run` starts, on loopback only, a Consul dev agent, three echo
// backends registered in Consul with gRPC health checks, and `switchyard
// serve`; it then dials xds:///echo as a proxyless gRPC client and prints,
// round by round, where the RPCs land while one backend's health check fails
// and recovers. A second act registers versions v1 and v2 of service web,
// writes its service-defaults and service-resolver and walks a
// service-splitter through 90/10, 50/50 and 0/100, timing and checking each
// step in the traffic of xds:///web. Two rollout acts follow: `switchyard
// rollout start` moves web from v1 to v2 through the rollout controller of
// `switchyard serve`, each step checked in traffic as the operator's `rollout
// status -o json` reports it, then a second rollout's canary fails its
// health check and the controller sends all traffic back to v1. A last act
// gives the Envoy fleet "edge" a profile (`switchyard fleet apply`, two
// certificates in Consul KV) and shows, with simulated Envoys, its scoped
// resources and secrets, a certificate rotation sent as one SDS response, a
// refused stale apply and a config dump without private keys. `demo
// backend` runs one registered echo backend for the Docker Compose example.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// exitInterrupted is the conventional exit status after SIGINT.
const exitInterrupted = 130

func main() {
	os.Exit(execute(os.Args[1:], os.Stdout, os.Stderr))
}

// execute runs the command line and maps the outcome to an exit status:
// 0 on success, 130 after SIGINT or SIGTERM, 1 on any other error.
func execute(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// After the first signal the commands clean up; restoring the default
	// handlers lets a second Ctrl-C end the demo at once (the children
	// still die with it through Pdeathsig).
	context.AfterFunc(ctx, stop)

	root := newRootCommand()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	return exitStatus(ctx.Err() != nil, err, stderr)
}

// exitStatus reports err on stderr and maps it to the exit status: 130 if
// the demo was interrupted, else 1 for any error, including a failed
// cleanup after an otherwise successful run, and 0 for none.
func exitStatus(interrupted bool, err error, stderr io.Writer) int {
	var cerr cleanupError
	switch {
	case interrupted && errors.As(err, &cerr):
		fmt.Fprintln(stderr, "demo: interrupted;", cerr)
		return exitInterrupted
	case interrupted:
		fmt.Fprintln(stderr, "demo: interrupted, everything stopped")
		return exitInterrupted
	case err != nil:
		fmt.Fprintln(stderr, "demo:", err)
		var uerr usageError
		if errors.As(err, &uerr) {
			fmt.Fprintln(stderr, "run `demo --help` for usage")
		}
		return 1
	}
	return 0
}

// newRootCommand builds the `demo` command and its subcommands.
func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "demo",
		Short:         "Watch Switchyard move gRPC traffic as Consul health changes",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return usageError{err}
	})
	root.AddCommand(newRunCommand(), newBackendCommand())
	return root
}

// usageError marks an error in the command line rather than in the demo.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }
