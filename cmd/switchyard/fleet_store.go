package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/spf13/cobra"

	"github.com/switchyard/switchyard/fleet"
)

// fleetConfig is what the fleet commands that talk to Consul are told:
// the flags and the client of the rollout commands.
type fleetConfig struct{ rolloutConfig }

// addConsulFlags adds --consul-addr and --timeout, as `switchyard rollout`
// has them, to one fleet command: validate needs no Consul.
func addConsulFlags(cmd *cobra.Command, cfg *fleetConfig) {
	cfg.ConsulAddr = defaultConsulAddr()
	cfg.Timeout = 10 * time.Second
	f := cmd.Flags()
	f.StringVar(&cfg.ConsulAddr, "consul-addr", cfg.ConsulAddr, "Consul HTTP address (default: $CONSUL_HTTP_ADDR, else 127.0.0.1:8500); token and TLS come from Consul's own CONSUL_* variables")
	f.DurationVar(&cfg.Timeout, "timeout", cfg.Timeout, "how long to wait for Consul")
}

// clusterArg checks a positional argument naming a fleet.
func clusterArg(arg string) (string, error) {
	if err := fleet.CheckCluster(arg); err != nil {
		return "", usageError{fmt.Errorf("invalid fleet name (the node.cluster of its proxies): %w", err)}
	}
	return arg, nil
}

// storedFleet is one profile as Consul KV holds it.
type storedFleet struct {
	Cluster     string
	ModifyIndex uint64
	Raw         []byte
}

// errFleetNotFound is a fleet with no stored profile.
var errFleetNotFound = errors.New("no profile stored")

// staleIndexError is a lost check-and-set: the profile is no longer at
// the index the write was made against.
type staleIndexError struct {
	cluster string
	verb    string // apply or delete, the command to run again
	given   uint64
	// current is the profile's index now; 0 when none is stored.
	current uint64
}

// Error names the cluster, both indexes and what to do.
func (e staleIndexError) Error() string {
	if e.current == 0 {
		return fmt.Sprintf("fleet %q: stale index %d: no profile is stored; run \"switchyard fleet apply %s <file> --index 0\" to create it",
			e.cluster, e.given, e.cluster)
	}
	return fmt.Sprintf("fleet %q: stale index %d: the stored profile is at index %d; run \"switchyard fleet get %s\" and %s again",
		e.cluster, e.given, e.current, e.cluster, e.verb)
}

// fleetStore reads and writes profiles in Consul KV, every write a
// check-and-set on the key's ModifyIndex.
type fleetStore struct {
	client *api.Client
}

// get returns cluster's stored profile, or errFleetNotFound.
func (s fleetStore) get(ctx context.Context, cluster string) (storedFleet, error) {
	pair, _, err := s.client.KV().Get(fleet.Key(cluster), (&api.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return storedFleet{}, fmt.Errorf("read %s: %w", fleet.Key(cluster), err)
	}
	if pair == nil {
		return storedFleet{}, fmt.Errorf("fleet %q: %w (key %s)", cluster, errFleetNotFound, fleet.Key(cluster))
	}
	return storedFleet{Cluster: cluster, ModifyIndex: pair.ModifyIndex, Raw: pair.Value}, nil
}

// currentIndex is cluster's ModifyIndex, 0 when no profile is stored.
func (s fleetStore) currentIndex(ctx context.Context, cluster string) (uint64, error) {
	st, err := s.get(ctx, cluster)
	if errors.Is(err, errFleetNotFound) {
		return 0, nil
	}
	return st.ModifyIndex, err
}

// list returns every stored profile, sorted by cluster. Deeper keys are
// someone else's and skipped; a key whose name is no fleet name is kept,
// for list to show as invalid.
func (s fleetStore) list(ctx context.Context) ([]storedFleet, error) {
	pairs, _, err := s.client.KV().List(fleet.KeyPrefix, (&api.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", fleet.KeyPrefix, err)
	}
	out := []storedFleet{}
	for _, p := range pairs {
		name := strings.TrimPrefix(p.Key, fleet.KeyPrefix)
		if name == "" || strings.Contains(name, "/") {
			continue
		}
		out = append(out, storedFleet{Cluster: name, ModifyIndex: p.ModifyIndex, Raw: p.Value})
	}
	slices.SortFunc(out, func(a, b storedFleet) int { return strings.Compare(a.Cluster, b.Cluster) })
	return out, nil
}

// put stores data as cluster's profile if its ModifyIndex is still index
// (0: if none is stored), and returns the new ModifyIndex. It writes in a
// one-operation transaction because a transaction answers with the
// written entry: a plain CAS does not say the new index, and reading it
// back could return a later writer's.
func (s fleetStore) put(ctx context.Context, cluster string, data []byte, index uint64) (uint64, error) {
	op := &api.KVTxnOp{Verb: api.KVCAS, Key: fleet.Key(cluster), Value: data, Index: index}
	entry, err := s.txn(ctx, cluster, "apply", index, op)
	if err != nil {
		return 0, err
	}
	return entry.ModifyIndex, nil
}

// delete removes cluster's profile if its ModifyIndex is still index.
func (s fleetStore) delete(ctx context.Context, cluster string, index uint64) error {
	_, err := s.txn(ctx, cluster, "delete", index, &api.KVTxnOp{Verb: api.KVDeleteCAS, Key: fleet.Key(cluster), Index: index})
	return err
}

// txn runs one KV operation; a check-and-set that fails is a
// staleIndexError carrying the index of the profile now.
func (s fleetStore) txn(ctx context.Context, cluster, verb string, index uint64, op *api.KVTxnOp) (*api.KVPair, error) {
	ok, resp, _, err := s.client.Txn().Txn(api.TxnOps{{KV: op}}, (&api.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", verb, op.Key, err)
	}
	if !ok {
		current, err := s.currentIndex(ctx, cluster)
		if err != nil {
			return nil, err
		}
		if current == index && resp != nil && len(resp.Errors) > 0 {
			// Not a lost race: Consul refused the write for another reason.
			return nil, fmt.Errorf("%s %s: %s", verb, op.Key, resp.Errors[0].What)
		}
		return nil, staleIndexError{cluster: cluster, verb: verb, given: index, current: current}
	}
	if len(resp.Results) == 0 || resp.Results[0].KV == nil {
		return &api.KVPair{}, nil // a delete answers with no entry
	}
	return resp.Results[0].KV, nil
}

// catalogServices returns the names of the services in the catalog.
func catalogServices(ctx context.Context, client *api.Client) ([]string, error) {
	services, _, err := client.Catalog().Services((&api.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("read the catalog's services: %w", err)
	}
	names := make([]string, 0, len(services))
	for name := range services {
		names = append(names, name)
	}
	slices.Sort(names)
	return names, nil
}
