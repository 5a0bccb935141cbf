package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/hashicorp/consul/api"
	"github.com/spf13/cobra"

	"github.com/switchyard/switchyard/fleet"
)

// fleetListEntry is one line of `switchyard fleet list`.
type fleetListEntry struct {
	Cluster     string `json:"cluster"`
	ModifyIndex uint64 `json:"modify_index"`
	// Listeners is every port the fleet's proxies listen on, as
	// protocol:port; see fleetPorts.
	Listeners []string `json:"listeners"`
	Valid     bool     `json:"valid"`
	// Problem is the first problem of an invalid profile.
	Problem string `json:"problem,omitempty"`
}

// fleetGetOutput is `switchyard fleet get --json`.
type fleetGetOutput struct {
	Cluster     string `json:"cluster"`
	ModifyIndex uint64 `json:"modify_index"`
	// Profile is the parsed profile, with defaults filled in; null when
	// the stored value is invalid, and Problems says why.
	Profile  *fleet.Profile `json:"profile"`
	Problems []string       `json:"problems,omitempty"`
	// Raw is the stored value as it is.
	Raw string `json:"raw"`
}

// newFleetListCommand builds `switchyard fleet list`.
func newFleetListCommand() *cobra.Command {
	var cfg fleetConfig
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the fleet profiles stored in Consul KV, valid or not",
		Long: "Lists the profiles stored under " + fleet.KeyPrefix + " in Consul KV, sorted by cluster:\n" +
			"the modify index to pass to apply --index, the ports of the fleet and whether the\n" +
			"stored profile is valid (a value written past `fleet apply` may not be).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cfg.withConsul(cmd.Context(), func(ctx context.Context, client *api.Client) error {
				stored, err := fleetStore{client}.list(ctx)
				if err != nil {
					return err
				}
				entries := make([]fleetListEntry, 0, len(stored))
				for _, sf := range stored {
					entries = append(entries, listEntry(sf))
				}
				if asJSON {
					return renderJSON(cmd.OutOrStdout(), entries)
				}
				return renderFleetList(cmd.OutOrStdout(), entries)
			})
		},
	}
	addConsulFlags(cmd, &cfg)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON rather than a table")
	return cmd
}

// newFleetGetCommand builds `switchyard fleet get <cluster>`.
func newFleetGetCommand() *cobra.Command {
	var cfg fleetConfig
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "get <cluster>",
		Short: "Print a stored fleet profile as stored, and its modify index on stderr",
		Long: "Prints the profile of the fleet whose proxies have node.cluster <cluster>, byte for\n" +
			"byte as stored at " + fleet.KeyPrefix + "<cluster>, and \"# modify index N\" on stderr: the\n" +
			"index to pass to apply --index. --json prints the cluster, the index, the parsed\n" +
			"profile and the raw value as one object.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cluster, err := clusterArg(args[0])
			if err != nil {
				return err
			}
			return cfg.withConsul(cmd.Context(), func(ctx context.Context, client *api.Client) error {
				sf, err := fleetStore{client}.get(ctx, cluster)
				if err != nil {
					return err
				}
				return renderFleetGet(cmd.OutOrStdout(), cmd.ErrOrStderr(), sf, asJSON)
			})
		},
	}
	addConsulFlags(cmd, &cfg)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object: cluster, modify_index, profile (parsed), raw")
	return cmd
}

// checkStored parses a stored profile and returns it with its problems:
// those of the key's name first, since the fleet it names cannot exist.
// A profile that cannot be decoded at all comes back empty.
func checkStored(sf storedFleet) (fleet.Profile, []string) {
	var problems []string
	if err := fleet.CheckCluster(sf.Cluster); err != nil {
		problems = append(problems, "key name: "+err.Error())
	}
	p, err := fleet.Parse(sf.Raw)
	if err != nil {
		problems = append(problems, strings.Split(err.Error(), "\n")...)
	}
	return p, problems
}

// listEntry summarises a stored profile.
func listEntry(sf storedFleet) fleetListEntry {
	p, problems := checkStored(sf)
	e := fleetListEntry{Cluster: sf.Cluster, ModifyIndex: sf.ModifyIndex, Listeners: fleetPorts(p), Valid: len(problems) == 0}
	if !e.Valid {
		e.Problem = problems[0]
	}
	return e
}

// fleetPorts lists every port of a profile as protocol:port, in the
// profile's order: each listener, followed by its redirect port, then the
// health endpoint's own port. Envoy binds all of them.
func fleetPorts(p fleet.Profile) []string {
	out := []string{}
	for _, l := range p.Listeners {
		out = append(out, l.Protocol+":"+strconv.Itoa(l.Port))
		if l.RedirectHTTPPort != 0 {
			out = append(out, fleet.ProtocolHTTP+":"+strconv.Itoa(l.RedirectHTTPPort))
		}
	}
	if p.Health != nil && p.Health.Port != 0 {
		out = append(out, fleet.ProtocolHTTP+":"+strconv.Itoa(p.Health.Port))
	}
	return out
}

// renderFleetList writes the list as a table.
func renderFleetList(w io.Writer, entries []fleetListEntry) error {
	if len(entries) == 0 {
		_, err := fmt.Fprintf(w, "No fleet profiles stored in Consul KV (%s).\n", fleet.KeyPrefix)
		return err
	}
	tw := newTabWriter(w)
	fmt.Fprintln(tw, "CLUSTER\tINDEX\tLISTENERS\tSTATUS")
	for _, e := range entries {
		status := "valid"
		if !e.Valid {
			status = "INVALID: " + e.Problem
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", e.Cluster, e.ModifyIndex, orDash(strings.Join(e.Listeners, " ")), status)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write fleet list: %w", err)
	}
	return nil
}

// renderFleetGet writes a stored profile: its bytes on stdout and its
// index (and problems, if any) as comments on stderr, or one JSON object.
func renderFleetGet(stdout, stderr io.Writer, sf storedFleet, asJSON bool) error {
	p, problems := checkStored(sf)
	if asJSON {
		out := fleetGetOutput{Cluster: sf.Cluster, ModifyIndex: sf.ModifyIndex, Problems: problems, Raw: string(sf.Raw)}
		if len(problems) == 0 {
			out.Profile = &p
		}
		return renderJSON(stdout, out)
	}
	if _, err := stdout.Write(sf.Raw); err != nil {
		return fmt.Errorf("write fleet profile: %w", err)
	}
	fmt.Fprintf(stderr, "# modify index %d\n", sf.ModifyIndex)
	for _, problem := range problems {
		fmt.Fprintf(stderr, "# INVALID: %s\n", problem)
	}
	return nil
}
