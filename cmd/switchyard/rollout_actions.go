package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/spf13/cobra"

	"github.com/switchyard/switchyard/rollout"
)

// casAttempts is how often an action re-reads and retries after losing a
// check-and-set on the rollout's state to another writer.
const casAttempts = 3

// rolloutAction is one of pause, resume, promote and abort.
type rolloutAction struct {
	name, short, long string
	// hasReason adds --reason.
	hasReason bool
	// apply is the state transition.
	apply func(s *rollout.State, at time.Time, actor, reason string) error
	// writesSplitter says the action writes the final splitter itself.
	writesSplitter bool
	// done is the past tense for the confirmation.
	done string
}

// rolloutActions are the actions that change a stored rollout.
func rolloutActions() []rolloutAction {
	return []rolloutAction{
		{name: "pause", short: "Record that a rollout holds at its current step", hasReason: true, done: "Paused",
			long:  "Marks the rollout paused, with --reason in its history.",
			apply: func(s *rollout.State, at time.Time, actor, reason string) error { return s.Pause(at, actor, reason) }},
		{name: "resume", short: "Record that a paused rollout continues", done: "Resumed",
			long:  "Marks a paused rollout running again, from the step it is at.",
			apply: func(s *rollout.State, at time.Time, actor, _ string) error { return s.Resume(at, actor) }},
		{name: "promote", short: "Send all traffic to --to now and end the rollout", done: "Promoted", writesSplitter: true,
			long:  "Writes the service-splitter with 100% to --to (check-and-set on its ModifyIndex), then\nmarks the rollout succeeded.",
			apply: func(s *rollout.State, at time.Time, actor, _ string) error { return s.Promote(at, actor) }},
		{name: "abort", short: "Send all traffic back to --from now and end the rollout", hasReason: true, done: "Aborted", writesSplitter: true,
			long:  "Writes the service-splitter with 100% to --from (check-and-set on its ModifyIndex), then\nmarks the rollout aborted, with --reason in its history.",
			apply: func(s *rollout.State, at time.Time, actor, reason string) error { return s.Abort(at, actor, reason) }},
	}
}

// newRolloutActionCommand builds `switchyard rollout <action> <service>`.
func newRolloutActionCommand(cfg *rolloutConfig, a rolloutAction) *cobra.Command {
	actor, reason := defaultActor(), ""
	cmd := &cobra.Command{
		Use:   a.name + " <service>",
		Short: a.short,
		Long:  a.long + "\n\n" + controllerNote,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			service, err := serviceArg(args)
			if err != nil {
				return err
			}
			if err := checkActor(actor); err != nil {
				return err
			}
			return cfg.withConsul(cmd.Context(), func(ctx context.Context, client *api.Client) error {
				return runRolloutAction(ctx, client, a, service, actor, reason, cmd.OutOrStdout(), time.Now())
			})
		},
	}
	cmd.Flags().StringVar(&actor, "actor", actor, "who acts, for the history")
	if a.hasReason {
		cmd.Flags().StringVar(&reason, "reason", "", "why, for the history")
	}
	return cmd
}

// runRolloutAction reads the rollout, applies the action and writes it
// back with check-and-set, re-reading when another writer got there first.
// An action that writes the splitter does so before the state: if the state
// write then fails, running the action again is safe.
func runRolloutAction(ctx context.Context, client *api.Client, a rolloutAction, service, actor, reason string, stdout io.Writer, now time.Time) error {
	store := rollout.NewStore(client)
	for attempt := 1; ; attempt++ {
		st, index, err := store.Get(ctx, service)
		if err != nil {
			return err
		}
		if err := a.apply(&st, now, actor, reason); err != nil {
			return err
		}
		if a.writesSplitter {
			if err := rollout.WriteSplitter(ctx, client, st.Spec, st.Weight()); err != nil {
				return err
			}
		}
		err = store.Update(ctx, st, index)
		if errors.Is(err, rollout.ErrConflict) && attempt < casAttempts {
			continue
		}
		if err != nil {
			return err
		}
		return printActionDone(stdout, a, st)
	}
}

// printActionDone confirms what the action did, and what it did not.
func printActionDone(w io.Writer, a rolloutAction, st rollout.State) error {
	if a.writesSplitter {
		_, err := fmt.Fprintf(w, "%s the rollout of %s: the service-splitter now sends %s.\n", a.done, st.Spec.Service, weights(st.Spec, st.Weight()))
		return err
	}
	_, err := fmt.Fprintf(w, "%s the rollout of %s at %s (recorded in Consul KV; the rollout controller of `switchyard serve` acts on it at its next tick).\n",
		a.done, st.Spec.Service, stepText(st))
	return err
}
