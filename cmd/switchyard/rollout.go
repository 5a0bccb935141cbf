package main

import (
	"context"
	"fmt"
	"os"
	"os/user"
	"strings"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/spf13/cobra"

	"github.com/switchyard/switchyard/rollout"
)

// controllerNote says who does what of a rollout, repeated in every
// rollout command's help.
const controllerNote = "These commands record the rollout and its history in Consul KV\n" +
	"(switchyard/rollouts/<service>). The rollout controller of `switchyard serve` (--rollouts,\n" +
	"one replica at a time) applies the steps to the service-splitter and checks the gates before\n" +
	"and during each step: --min-healthy (Consul health of the --to subset), --require-ack (the\n" +
	"proxies routing the service accepted the step's routes; the interval counts from then),\n" +
	"--webhook (each answers 2xx) and --max-error-rate (from the load reports the proxies send\n" +
	"Switchyard). A failed gate aborts to 100 % --from; a hand-edited splitter pauses the\n" +
	"rollout. `promote` and `abort` write the final service-splitter directly."

// rolloutConfig is what every `switchyard rollout` command is told.
type rolloutConfig struct {
	ConsulAddr string
	// Timeout bounds the whole command's Consul traffic.
	Timeout time.Duration
}

// validate names the first flag whose value is unusable.
func (c rolloutConfig) validate() error {
	if err := nonEmpty(c.ConsulAddr); err != nil {
		return usageError{fmt.Errorf("invalid value for --consul-addr: %w", err)}
	}
	if err := durationRange(c.Timeout, 100*time.Millisecond, 5*time.Minute); err != nil {
		return usageError{fmt.Errorf("invalid value for --timeout: %w", err)}
	}
	return nil
}

// withConsul validates the configuration and runs fn with a Consul client
// built the way Consul's own CLI builds one (CONSUL_HTTP_TOKEN, CONSUL_CACERT
// and the rest), its context bounded by the timeout.
func (c rolloutConfig) withConsul(ctx context.Context, fn func(context.Context, *api.Client) error) error {
	if err := c.validate(); err != nil {
		return err
	}
	cfg := api.DefaultConfig()
	cfg.Address = c.ConsulAddr
	client, err := api.NewClient(cfg)
	if err != nil {
		return fmt.Errorf("consul client: %w", err)
	}
	defer cfg.Transport.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	return fn(ctx, client)
}

// newRolloutCommand builds `switchyard rollout` and its subcommands.
func newRolloutCommand() *cobra.Command {
	cfg := rolloutConfig{ConsulAddr: defaultConsulAddr(), Timeout: 10 * time.Second}
	cmd := &cobra.Command{
		Use:   "rollout",
		Short: "Shift a service's traffic from one subset to another step by step",
		Long: "A rollout moves the traffic of a Consul service from one service-resolver subset\n" +
			"(--from) to another (--to) in steps, through the service's service-splitter.\n\n" + controllerNote,
	}
	f := cmd.PersistentFlags()
	f.StringVar(&cfg.ConsulAddr, "consul-addr", cfg.ConsulAddr, "Consul HTTP address (default: $CONSUL_HTTP_ADDR, else 127.0.0.1:8500); token and TLS come from Consul's own CONSUL_* variables")
	f.DurationVar(&cfg.Timeout, "timeout", cfg.Timeout, "how long to wait for Consul")
	cmd.AddCommand(newRolloutStartCommand(&cfg), newRolloutStatusCommand(&cfg), newRolloutListCommand(&cfg))
	for _, a := range rolloutActions() {
		cmd.AddCommand(newRolloutActionCommand(&cfg, a))
	}
	return cmd
}

// serviceArg checks the one positional argument, a service name that
// becomes a KV key.
func serviceArg(args []string) (string, error) {
	if err := rollout.CheckName(args[0]); err != nil {
		return "", usageError{fmt.Errorf("invalid service name: %w", err)}
	}
	return args[0], nil
}

// checkActor refuses an empty --actor: every history event names one.
func checkActor(actor string) error {
	if err := nonEmpty(strings.TrimSpace(actor)); err != nil {
		return usageError{fmt.Errorf("invalid value for --actor: %w", err)}
	}
	return nil
}

// defaultActor is user@host, the actor of the CLI's history events.
func defaultActor() string {
	name := "unknown"
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown"
	}
	return name + "@" + host
}
