package discovery

import (
	"context"
	"hash/fnv"
	"maps"
	"slices"

	"github.com/hashicorp/consul/api"
)

// detectorPath is the catalog-wide query the change detector blocks on. It is
// an internal endpoint (the one Consul's UI uses): measured on Consul 1.14,
// it is the only catalog-wide blocking query that wakes on every change
// Switchyard models, and it carries the ModifyIndex of every instance and
// check. /v1/health/state/any misses writes without a check change (address,
// port, meta, weights, instances without checks); /v1/catalog/services wakes
// on those but cannot say which service changed. It needs node:read and
// service:read.
const detectorPath = "/v1/internal/ui/nodes"

// dumpNode is the part of one node of the detector's answer that change
// detection reads.
type dumpNode struct {
	Node     string
	Address  string
	Meta     map[string]string
	Services []struct {
		ID, Service string
		ModifyIndex uint64
	}
	Checks []struct {
		CheckID, ServiceID, ServiceName string
		ModifyIndex                     uint64
	}
}

// fingerprints maps each service name to a number that changes whenever one
// of its instances, their checks, or the node fields and node checks they
// inherit change. It is a sum of hashes, so the order Consul lists things in
// does not matter.
func fingerprints(nodes []dumpNode) map[string]uint64 {
	fp := make(map[string]uint64)
	for _, n := range nodes {
		nodeHash := hashOf("node", n.Node, n.Address)
		for k, v := range n.Meta {
			nodeHash += hashOf("meta", k, v)
		}
		for _, c := range n.Checks {
			if c.ServiceID == "" {
				nodeHash += hashOf("nodecheck", c.CheckID, c.ModifyIndex)
			}
		}
		for _, s := range n.Services {
			fp[s.Service] += nodeHash + hashOf("svc", n.Node, s.ID, s.ModifyIndex)
		}
		for _, c := range n.Checks {
			if c.ServiceID != "" {
				fp[c.ServiceName] += hashOf("check", n.Node, c.CheckID, c.ModifyIndex)
			}
		}
	}
	return fp
}

// hashOf hashes the printed parts, each followed by a separator.
func hashOf(parts ...any) uint64 {
	h := fnv.New64a()
	for _, p := range parts {
		switch v := p.(type) {
		case string:
			h.Write([]byte(v))
		case uint64:
			var b [8]byte
			for i := range b {
				b[i] = byte(v >> (8 * i))
			}
			h.Write(b[:])
		}
		h.Write([]byte{0})
	}
	return h.Sum64()
}

// changedServices lists the names whose fingerprint differs between prev and
// next, including names only one of them has.
func changedServices(prev, next map[string]uint64) []string {
	var out []string
	for name, v := range next {
		if old, ok := prev[name]; !ok || old != v {
			out = append(out, name)
		}
	}
	for name := range prev {
		if _, ok := next[name]; !ok {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// detectorWatch watches the whole catalog for changes and delivers the
// per-service fingerprints each time they differ.
func (ws *watchSet) detectorWatch() *blockingWatch[map[string]uint64] {
	return &blockingWatch[map[string]uint64]{
		endpoint:   "detector",
		path:       detectorPath,
		datacenter: ws.src.cfg.Datacenter,
		fetch: func(q *api.QueryOptions) (map[string]uint64, *api.QueryMeta, error) {
			var nodes []dumpNode
			meta, err := ws.src.cfg.Client.Raw().Query(detectorPath, &nodes, q)
			if err != nil {
				return nil, nil, err
			}
			if err := filteredEmpty(detectorPath, len(nodes), meta); err != nil {
				return nil, nil, err
			}
			return fingerprints(nodes), meta, nil
		},
		equal: maps.Equal[map[string]uint64, map[string]uint64],
		deliver: func(ctx context.Context, fp map[string]uint64) {
			select {
			case ws.detectCh <- fp:
			case <-ctx.Done():
			}
		},
		observer: ws.src, epoch: ws.epoch,
		cfg: ws.src.cfg,
	}
}
