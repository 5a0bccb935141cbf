package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// newFleetDiffCommand shows what applying a profile would change for the
// proxies of a fleet, as one replica serves them now.
func newFleetDiffCommand() *cobra.Command {
	var cfg fleetConfig
	var adminAddr string
	cmd := &cobra.Command{
		Use:   "diff <cluster> <file>",
		Short: "Show which resources each proxy of a fleet would gain, lose or change if a profile were applied",
		Long: "Posts the profile to a running replica, which translates it over the catalog it serves\n" +
			"and compares the result with what the fleet's proxies are served now (the default\n" +
			"Envoy resources when the fleet has no profile). Nothing is applied.",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			cluster, err := clusterArg(args[0])
			if err != nil {
				return err
			}
			data, err := os.ReadFile(args[1])
			if err != nil {
				return fmt.Errorf("read fleet profile: %w", err)
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), cfg.Timeout)
			defer cancel()
			addr := adminAddr
			if addr == "" {
				replicas, err := findReplicas(ctx, cfg.ConsulAddr)
				if err != nil || len(replicas) == 0 {
					return fmt.Errorf("find a switchyard replica in Consul (or pass --admin-addr): %v", err)
				}
				addr = replicas[0]
			}
			d, err := fetchFleetDiff(ctx, addr, cluster, data)
			if err != nil {
				return err
			}
			renderFleetDiff(cmd.OutOrStdout(), d)
			return nil
		},
	}
	addConsulFlags(cmd, &cfg)
	cmd.Flags().StringVar(&adminAddr, "admin-addr", "", "admin address (host:port) of the replica to ask (default: the first registered in Consul)")
	return cmd
}

// fetchFleetDiff posts a profile to a replica's diff endpoint.
func fetchFleetDiff(ctx context.Context, addr, cluster string, profile []byte) (fleetDiff, error) {
	var d fleetDiff
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/v1/fleets/"+cluster+"/diff", bytes.NewReader(profile))
	if err != nil {
		return d, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return d, fmt.Errorf("ask %s: %w", addr, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return d, fmt.Errorf("read %s's answer: %w", addr, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		_ = json.Unmarshal(body, &e)
		return d, fmt.Errorf("fleet %q: %s", cluster, e.Error)
	}
	if err := json.Unmarshal(body, &d); err != nil {
		return d, fmt.Errorf("decode %s's answer: %w", addr, err)
	}
	return d, nil
}

// renderFleetDiff writes a diff: which proxies it concerns, then one line
// per resource gained (+), lost (-) or changed (~).
func renderFleetDiff(w io.Writer, d fleetDiff) {
	against := "its profile in force"
	if !d.InForce {
		against = "the default Envoy resources (no profile in force)"
	}
	fmt.Fprintf(w, "fleet %q, against %s\n", d.Cluster, against)
	proxies := "none connected"
	if len(d.Proxies) > 0 {
		proxies = strings.Join(d.Proxies, ", ")
	}
	fmt.Fprintf(w, "each of its proxies (%s) would:\n", proxies)
	signs := map[string]string{"gain": "+", "lose": "-", "change": "~"}
	counts := map[string]int{}
	for _, c := range d.Changes {
		fmt.Fprintf(w, "  %s %s %s\n", signs[c.Change], c.Type, c.Name)
		counts[c.Change]++
	}
	fmt.Fprintf(w, "%d to gain, %d to lose, %d to change, %d unchanged\n", counts["gain"], counts["lose"], counts["change"], d.Unchanged)
}
