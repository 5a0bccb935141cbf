package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/spf13/cobra"

	"github.com/switchyard/switchyard/rollout"
)

// startFlags are the flags of `switchyard rollout start`, as typed.
type startFlags struct {
	To, From     string
	Steps        string
	Interval     time.Duration
	MinHealthy   string
	RequireAck   string
	MaxErrorRate string
	Webhooks     []string
	Actor        string
}

// spec parses the flags into a spec for service; From may still be empty.
func (f startFlags) spec(service string) (rollout.Spec, error) {
	s := rollout.Spec{Service: service, From: f.From, To: f.To, Interval: f.Interval, Webhooks: f.Webhooks}
	var err error
	if s.Steps, err = rollout.ParseSteps(f.Steps); err != nil {
		return s, usageError{fmt.Errorf("invalid value for --steps: %w", err)}
	}
	for _, p := range []struct {
		flag, in string
		out      *float64
	}{{"--min-healthy", f.MinHealthy, &s.MinHealthy}, {"--require-ack", f.RequireAck, &s.RequireAck}, {"--max-error-rate", f.MaxErrorRate, &s.MaxErrorRate}} {
		if *p.out, err = rollout.ParsePercent(p.in); err != nil {
			return s, usageError{fmt.Errorf("invalid value for %s: %w", p.flag, err)}
		}
	}
	return s, nil
}

// newRolloutStartCommand builds `switchyard rollout start <service>`.
func newRolloutStartCommand(cfg *rolloutConfig) *cobra.Command {
	fl := startFlags{Steps: "5,25,50,100", Interval: time.Minute, MinHealthy: "100%", RequireAck: "100%", MaxErrorRate: "0%", Actor: defaultActor()}
	cmd := &cobra.Command{
		Use:   "start <service> --to <subset>",
		Short: "Record a new rollout of a service in Consul KV",
		Long: "Checks that the service is in the Consul catalog and that its service-resolver defines\n" +
			"both subsets, then stores a running rollout that has not applied its first step.\n" +
			"It refuses while another rollout of the service is running or paused.\n\n" + controllerNote,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			service, err := serviceArg(args)
			if err != nil {
				return err
			}
			if err := checkActor(fl.Actor); err != nil {
				return err
			}
			if fl.To == "" {
				return usageError{fmt.Errorf("missing --to: name the subset to roll out")}
			}
			spec, err := fl.spec(service)
			if err != nil {
				return err
			}
			if err := spec.ValidateWithoutFrom(); err != nil {
				return usageError{err}
			}
			return cfg.withConsul(cmd.Context(), func(ctx context.Context, client *api.Client) error {
				return runRolloutStart(ctx, client, spec, fl.Actor, cmd.OutOrStdout(), time.Now())
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&fl.To, "to", "", "the subset to shift traffic to (required)")
	f.StringVar(&fl.From, "from", "", "the subset traffic comes from (default: the service-resolver's DefaultSubset)")
	f.StringVar(&fl.Steps, "steps", fl.Steps, "percentages of traffic to --to, ascending, ending at 100")
	f.DurationVar(&fl.Interval, "interval", fl.Interval, "how long each step holds (1s-24h)")
	f.StringVar(&fl.MinHealthy, "min-healthy", fl.MinHealthy, "gate: share of --to instances that must pass their checks")
	f.StringVar(&fl.RequireAck, "require-ack", fl.RequireAck, "gate: share of the proxies routing the service that must accept a step")
	f.StringVar(&fl.MaxErrorRate, "max-error-rate", fl.MaxErrorRate, "gate: highest error rate of --to over a step (0% turns the gate off)")
	f.StringArrayVar(&fl.Webhooks, "webhook", nil, "gate: an http(s) URL that must answer 2xx before each step; repeat for several")
	f.StringVar(&fl.Actor, "actor", fl.Actor, "who starts the rollout, for the history")
	return cmd
}

// runRolloutStart completes and checks spec against Consul and stores the
// new rollout.
func runRolloutStart(ctx context.Context, client *api.Client, spec rollout.Spec, actor string, stdout io.Writer, now time.Time) error {
	if spec.From == "" {
		r, err := rollout.Resolver(ctx, client, spec.Service)
		if err != nil {
			return err
		}
		if r.DefaultSubset == "" {
			return usageError{fmt.Errorf("missing --from: the service-resolver of %s has no DefaultSubset to default to", spec.Service)}
		}
		spec.From = r.DefaultSubset
	}
	if err := spec.Validate(); err != nil {
		return usageError{err}
	}
	if err := rollout.CheckSubsets(ctx, client, spec); err != nil {
		return err
	}
	if err := rollout.NewStore(client).Create(ctx, rollout.New(spec, now, actor)); err != nil {
		return fmt.Errorf("start the rollout: %w", err)
	}
	_, err := fmt.Fprintf(stdout, "Started the rollout of %s from %s to %s in steps %s, every %s.\n"+
		"It is recorded in Consul KV at %s; the rollout controller of `switchyard serve` applies its steps.\n",
		spec.Service, spec.From, spec.To, stepList(spec.Steps), spec.Interval, rollout.Key(spec.Service))
	return err
}
