package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/spf13/cobra"

	"github.com/switchyard/switchyard/rollout"
)

// splitShare is one split of the service-splitter as Consul holds it now.
type splitShare struct {
	Subset  string  `json:"subset,omitempty"`
	Service string  `json:"service,omitempty"`
	Weight  float32 `json:"weight"`
}

// rolloutStatus is what `switchyard rollout status` shows: the stored
// state and, beside it, the service-splitter as it is in Consul now, which
// until the controller exists may differ from the state's step.
type rolloutStatus struct {
	rollout.State
	// Splitter is nil when the service has no service-splitter.
	Splitter []splitShare `json:"splitter"`
	// Leader is the replica id of the rollout controller that holds the
	// leader lock and so drives the rollout; empty when none holds it.
	Leader string `json:"leader"`
}

// newRolloutStatusCommand builds `switchyard rollout status <service>`.
func newRolloutStatusCommand(cfg *rolloutConfig) *cobra.Command {
	output := "table"
	cmd := &cobra.Command{
		Use:   "status <service>",
		Short: "Show a rollout: spec, phase, step, weights and history",
		Long:  "Shows the rollout stored in Consul KV and the service's service-splitter as it is now.\n\n" + controllerNote,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			service, err := serviceArg(args)
			if err != nil {
				return err
			}
			if err := oneOf(output, "table", "json"); err != nil {
				return usageError{fmt.Errorf("invalid value for --output: %w", err)}
			}
			return cfg.withConsul(cmd.Context(), func(ctx context.Context, client *api.Client) error {
				st, err := fetchRolloutStatus(ctx, client, service)
				if err != nil {
					return err
				}
				if output == "json" {
					return renderJSON(cmd.OutOrStdout(), st)
				}
				return renderRolloutStatus(cmd.OutOrStdout(), st, time.Now())
			})
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", output, "output format: table or json")
	return cmd
}

// newRolloutListCommand builds `switchyard rollout list`.
func newRolloutListCommand(cfg *rolloutConfig) *cobra.Command {
	output := "table"
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List every rollout stored in Consul KV, finished ones included",
		Long:  "Lists the rollouts stored under switchyard/rollouts/ in Consul KV, one line each.\n\n" + controllerNote,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := oneOf(output, "table", "json"); err != nil {
				return usageError{fmt.Errorf("invalid value for --output: %w", err)}
			}
			return cfg.withConsul(cmd.Context(), func(ctx context.Context, client *api.Client) error {
				list, err := rollout.NewStore(client).List(ctx)
				if err != nil {
					return err
				}
				if output == "json" {
					return renderJSON(cmd.OutOrStdout(), list)
				}
				return renderRolloutList(cmd.OutOrStdout(), list, time.Now())
			})
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", output, "output format: table or json")
	return cmd
}

// fetchRolloutStatus reads the rollout and the service's splitter.
func fetchRolloutStatus(ctx context.Context, client *api.Client, service string) (rolloutStatus, error) {
	st, _, err := rollout.NewStore(client).Get(ctx, service)
	if err != nil {
		return rolloutStatus{}, err
	}
	out := rolloutStatus{State: st}
	if holder, held, err := rollout.Leader(ctx, client); err != nil {
		return rolloutStatus{}, err
	} else if held {
		out.Leader = orDash(holder)
	}
	entry, _, err := client.ConfigEntries().Get(api.ServiceSplitter, service, (&api.QueryOptions{}).WithContext(ctx))
	var se api.StatusError
	switch {
	case errors.As(err, &se) && se.Code == http.StatusNotFound:
		return out, nil
	case err != nil:
		return rolloutStatus{}, fmt.Errorf("read the service-splitter of %s: %w", service, err)
	}
	if sp, ok := entry.(*api.ServiceSplitterConfigEntry); ok {
		out.Splitter = []splitShare{}
		for _, s := range sp.Splits {
			out.Splitter = append(out.Splitter, splitShare{Subset: s.ServiceSubset, Service: s.Service, Weight: s.Weight})
		}
	}
	return out, nil
}
