package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/spf13/cobra"
)

// statusConfig is everything `switchyard status` is told.
type statusConfig struct {
	// AdminAddrs are the replicas' admin addresses; when empty they are
	// found in Consul.
	AdminAddrs []string
	ConsulAddr string
	Output     string
	// Timeout bounds the whole command: the Consul query and the
	// replicas' answers, which are asked at once.
	Timeout time.Duration
}

// defaultStatusConfig returns the defaults; the Consul address follows the
// same convention as serve's.
func defaultStatusConfig() statusConfig {
	return statusConfig{ConsulAddr: defaultConsulAddr(), Output: "table", Timeout: 5 * time.Second}
}

// validate names the first flag whose value is unusable.
func (c statusConfig) validate() error {
	if err := oneOf(c.Output, "table", "json"); err != nil {
		return usageError{fmt.Errorf("invalid value for --output: %w", err)}
	}
	for _, addr := range c.AdminAddrs {
		if err := hostPort(addr); err != nil {
			return usageError{fmt.Errorf("invalid value for --admin-addr: %w", err)}
		}
	}
	if err := durationRange(c.Timeout, 100*time.Millisecond, time.Minute); err != nil {
		return usageError{fmt.Errorf("invalid value for --timeout: %w", err)}
	}
	return nil
}

// newStatusCommand builds `switchyard status [proxy-id]`.
func newStatusCommand() *cobra.Command {
	cfg := defaultStatusConfig()
	cmd := &cobra.Command{
		Use:   "status [proxy-id]",
		Short: "Show every connected proxy across the replicas, or one proxy in detail",
		Long: "Asks every Switchyard replica's admin API which proxies are connected and how far each has\n" +
			"accepted its configuration. Replicas come from --admin-addr, or else from the passing\n" +
			"instances of service \"switchyard\" in Consul, which `switchyard serve` registers.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cfg.validate(); err != nil {
				return err
			}
			return runStatus(cmd.Context(), cfg, args, cmd.OutOrStdout(), cmd.ErrOrStderr(), time.Now())
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&cfg.AdminAddrs, "admin-addr", nil, "admin address (host:port) of a replica; repeat for several (default: the replicas registered in Consul)")
	f.StringVar(&cfg.ConsulAddr, "consul-addr", cfg.ConsulAddr, "Consul HTTP address to find the replicas in (default: $CONSUL_HTTP_ADDR, else 127.0.0.1:8500); token and TLS come from Consul's own CONSUL_* variables")
	f.StringVarP(&cfg.Output, "output", "o", cfg.Output, "output format: table or json")
	f.DurationVar(&cfg.Timeout, "timeout", cfg.Timeout, "how long to wait for Consul and the replicas")
	return cmd
}

// runStatus gathers from every replica and prints the list, or one proxy
// when args names it. A replica that does not answer is a warning; no
// replica answering, or none having the proxy, is an error.
func runStatus(ctx context.Context, cfg statusConfig, args []string, stdout, stderr io.Writer, now time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	replicas := cfg.AdminAddrs
	if len(replicas) == 0 {
		found, err := findReplicas(ctx, cfg.ConsulAddr)
		if err != nil {
			return fmt.Errorf("no --admin-addr given and Consul could not list the replicas: %w", err)
		}
		if len(found) == 0 {
			return fmt.Errorf("no passing instance of service %q in Consul at %s: is `switchyard serve` running with --register? Name replicas with --admin-addr", replicaService, cfg.ConsulAddr)
		}
		replicas = found
	}
	transport := &http.Transport{}
	defer transport.CloseIdleConnections()
	client := adminClient{http: &http.Client{Transport: transport}}
	if len(args) == 1 {
		return statusOne(ctx, cfg, client, replicas, args[0], stdout, stderr, now)
	}
	r := gatherProxies(ctx, client, replicas)
	statuses := gatherStatuses(ctx, client, replicas)
	r.Fleets = fleetsOf(replicas, statuses)
	warnReplicas(stderr, r.Errors)
	warnConsul(stderr, replicas, statuses)
	if len(r.Errors) == len(replicas) {
		return fmt.Errorf("none of the %d replica(s) answered", len(replicas))
	}
	if cfg.Output == "json" {
		return renderJSON(stdout, r)
	}
	return renderTable(stdout, r, now)
}

// statusOne prints one proxy from every replica that has it.
func statusOne(ctx context.Context, cfg statusConfig, client adminClient, replicas []string, id string, stdout, stderr io.Writer, now time.Time) error {
	r := gatherProxy(ctx, client, replicas, id)
	warnReplicas(stderr, r.Errors)
	warnConsul(stderr, replicas, gatherStatuses(ctx, client, replicas))
	if len(r.Replicas) == 0 {
		return fmt.Errorf("proxy %q is not connected to any of the %d replica(s) that answered (of %d asked)", id, len(replicas)-len(r.Errors), len(replicas))
	}
	if cfg.Output == "json" {
		return renderJSON(stdout, r)
	}
	return renderDetail(stdout, r, now)
}

// warnReplicas writes a line per replica that did not answer.
func warnReplicas(stderr io.Writer, errs []replicaError) {
	for _, e := range errs {
		fmt.Fprintf(stderr, "switchyard: warning: replica %s did not answer: %s\n", e.Replica, e.Error)
	}
}
