package main

import (
	"context"
	"fmt"
	"io"

	"github.com/hashicorp/consul/api"
	"github.com/spf13/cobra"

	"github.com/switchyard/switchyard/fleet"
)

// casNote explains --index in the help of apply and delete.
const casNote = "The write is a check-and-set on the key's modify index: with --index N it succeeds\n" +
	"only if the stored profile is still at index N (for apply, 0 means no profile may be stored\n" +
	"yet); without --index, against the index this command reads first, so that a write by\n" +
	"someone else in between is still refused. `switchyard fleet get` and `list` show the index."

// newFleetApplyCommand builds `switchyard fleet apply <cluster> <file>`.
func newFleetApplyCommand() *cobra.Command {
	var cfg fleetConfig
	var index uint64
	cmd := &cobra.Command{
		Use:   "apply <cluster> <file>",
		Short: "Validate a fleet profile file and store it in Consul KV (check-and-set)",
		Long: "Checks the profile file as `switchyard fleet validate` does and, only if it is valid,\n" +
			"stores its bytes at " + fleet.KeyPrefix + "<cluster>, where <cluster> is the node.cluster of the\n" +
			"fleet's proxies. Names and globs that match no service of the catalog are warned about,\n" +
			"not refused. Prints the new modify index.\n\n" + casNote,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			cluster, err := clusterArg(args[0])
			if err != nil {
				return err
			}
			if err := cfg.validate(); err != nil {
				return err
			}
			var given *uint64
			if cmd.Flags().Changed("index") {
				given = &index
			}
			return runFleetApply(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), cfg, cluster, args[1], given)
		},
	}
	addConsulFlags(cmd, &cfg)
	cmd.Flags().Uint64Var(&index, "index", 0, "the modify index the stored profile must be at (0: none may be stored); default: the index read first")
	return cmd
}

// runFleetApply validates the file at path and stores it as cluster's
// profile over index, or over the index read first when index is nil.
func runFleetApply(ctx context.Context, stdout, stderr io.Writer, cfg fleetConfig, cluster, path string, index *uint64) error {
	p, data, err := readFleetProfile(stderr, path)
	if err != nil {
		return err
	}
	return cfg.withConsul(ctx, func(ctx context.Context, client *api.Client) error {
		store := fleetStore{client}
		var over uint64
		if index != nil {
			over = *index
		} else if over, err = store.currentIndex(ctx, cluster); err != nil {
			return err
		}
		if services, err := catalogServices(ctx, client); err != nil {
			fmt.Fprintf(stderr, "%s: warning: %v; service names not checked\n", path, err)
		} else {
			printFleetWarnings(stderr, path, p, services)
		}
		stored, err := store.put(ctx, cluster, data, over)
		if err != nil {
			return err
		}
		if stored == over {
			// Consul leaves a key written with its own value as it was.
			_, err = fmt.Fprintf(stdout, "fleet %q: unchanged (identical) at %s, modify index %d\n", cluster, fleet.Key(cluster), stored)
			return err
		}
		_, err = fmt.Fprintf(stdout, "fleet %q: stored at %s, modify index %d\n", cluster, fleet.Key(cluster), stored)
		return err
	})
}

// newFleetDeleteCommand builds `switchyard fleet delete <cluster>`.
func newFleetDeleteCommand() *cobra.Command {
	var cfg fleetConfig
	var index uint64
	cmd := &cobra.Command{
		Use:   "delete <cluster>",
		Short: "Delete a stored fleet profile from Consul KV (check-and-set)",
		Long:  "Deletes the profile stored at " + fleet.KeyPrefix + "<cluster>.\n\n" + casNote,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cluster, err := clusterArg(args[0])
			if err != nil {
				return err
			}
			var given *uint64
			if cmd.Flags().Changed("index") {
				if index == 0 {
					return usageError{fmt.Errorf("invalid value for --index: 0 means no profile is stored; give the index of the profile to delete")}
				}
				given = &index
			}
			return cfg.withConsul(cmd.Context(), func(ctx context.Context, client *api.Client) error {
				return runFleetDelete(ctx, cmd.OutOrStdout(), fleetStore{client}, cluster, given)
			})
		},
	}
	addConsulFlags(cmd, &cfg)
	cmd.Flags().Uint64Var(&index, "index", 0, "the modify index the stored profile must be at; default: the index read first")
	return cmd
}

// runFleetDelete deletes cluster's profile over index, or over the index
// read first when index is nil.
func runFleetDelete(ctx context.Context, stdout io.Writer, store fleetStore, cluster string, index *uint64) error {
	// Read first even with --index: Consul's delete-cas of an absent key
	// succeeds, and deleting nothing must not say it deleted something.
	sf, err := store.get(ctx, cluster)
	if err != nil {
		return err
	}
	over := sf.ModifyIndex
	if index != nil {
		over = *index
	}
	if err := store.delete(ctx, cluster, over); err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "fleet %q: deleted %s (it was at modify index %d)\n", cluster, fleet.Key(cluster), over)
	return err
}
