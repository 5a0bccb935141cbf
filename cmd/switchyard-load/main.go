// Command switchyard-load measures Switchyard under a simulated Envoy fleet.
//
// `switchyard-load run` opens N state-of-the-world (or delta) ADS streams,
// each on a gRPC connection of its own, that subscribe like Envoy does and
// ACK every response; it registers services in Consul, flips single
// endpoints' health checks, and reports the initial sync time, how long each
// change took from the Consul write to every stream, the bytes each proxy
// received per change, and Switchyard's CPU time, memory and Consul
// connections.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
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

// execute runs the command line and maps the outcome to an exit status: 0
// on success, 2 for bad usage, 130 after SIGINT or SIGTERM, 1 otherwise.
func execute(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	context.AfterFunc(ctx, stop)
	root := newRootCommand(stderr)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	var uerr usageError
	switch {
	case err == nil:
		return 0
	case ctx.Err() != nil:
		fmt.Fprintln(stderr, "switchyard-load: interrupted:", err)
		return exitInterrupted
	case errors.As(err, &uerr):
		fmt.Fprintln(stderr, "switchyard-load:", err)
		return 2
	default:
		fmt.Fprintln(stderr, "switchyard-load:", err)
		return 1
	}
}

// usageError is a bad command line.
type usageError struct{ error }

// newRootCommand builds `switchyard-load` and its `run` subcommand; logs go
// to logOut.
func newRootCommand(logOut io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "switchyard-load",
		Short:         "Measure Switchyard under a simulated Envoy fleet and Consul churn",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	cfg := defaultConfig()
	var verbose bool
	run := &cobra.Command{
		Use:   "run",
		Short: "Run one load scenario and print the report",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cfg.validate(); err != nil {
				return usageError{err}
			}
			level := slog.LevelWarn
			if verbose {
				level = slog.LevelInfo
			}
			log := slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: level})).With("component", "load")
			return runLoad(cmd.Context(), log, cfg, cmd.OutOrStdout())
		},
	}
	bindFlags(run, &cfg)
	run.Flags().BoolVarP(&verbose, "verbose", "v", false, "log progress to stderr")
	root.AddCommand(run, newBenchCommand(logOut), newServeCommand(logOut))
	return root
}

// newServeCommand builds the hidden `serve` subcommand: the stock
// go-control-plane peer, which `run --target gcp` starts as a child process
// through internal/serveproc (hence the name and the address flags of
// `switchyard serve`), so that its CPU time and memory are its own.
func newServeCommand(logOut io.Writer) *cobra.Command {
	cfg := gcpConfig{NodeCluster: "load", ListenerPort: 10000, LogLevel: "warn"}
	cmd := &cobra.Command{
		Use:    "serve",
		Short:  "Serve the Consul catalog through a stock go-control-plane server (the gcp target's child)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var level slog.Level
			if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
				return usageError{fmt.Errorf("--log-level: %w", err)}
			}
			log := slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: level})).With("component", "gcp-peer")
			return runGCP(cmd.Context(), log, cfg)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&cfg.ConsulAddr, "consul-addr", "127.0.0.1:8500", "Consul HTTP API")
	fs.StringVar(&cfg.XDSAddr, "xds-addr", "127.0.0.1:18000", "xDS gRPC listen address")
	fs.StringVar(&cfg.AdminAddr, "admin-addr", "127.0.0.1:18080", "admin HTTP listen address (/readyz, /metrics)")
	fs.StringVar(&cfg.NodeCluster, "node-cluster", cfg.NodeCluster, "node.cluster the one snapshot is set for")
	fs.Uint32Var(&cfg.ListenerPort, "envoy-listener-port", cfg.ListenerPort, "port of the Envoy HTTP listener")
	fs.StringVar(&cfg.LogLevel, "log-level", cfg.LogLevel, "debug, info, warn or error")
	return cmd
}
