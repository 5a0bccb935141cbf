package discovery

import (
	"context"
	"time"

	"github.com/hashicorp/consul/api"
)

// The sentinel's queries: plain reads whose answers are filtered down to
// nothing, for their X-Consul-Index headers alone (the services and the
// checks tables' indexes).
const (
	sentinelServicesPath = "/v1/catalog/services"
	sentinelChecksPath   = "/v1/health/state/any"
	sentinelFilter       = `ServiceName == "switchyard-index-sentinel-matches-nothing"`
)

// indexSentinel notices that Consul's indexes went backwards — a snapshot
// restore, or the agent now talking to another cluster — which blocking
// queries alone do not: a query already waiting above the restored index
// waits out its wait time (the agent's streaming health views do not wake
// on a restore at all). Every Config.IndexCheck it reads the services
// and checks tables' indexes; when one is lower than before, it abandons
// the epoch, so every watch starts again with a plain read.
type indexSentinel struct {
	src        *ConsulSource
	datacenter string
	epoch      *epoch
	// last are the indexes of the last answer, by path.
	last map[string]uint64
}

// run checks at once, then every Config.IndexCheck until ctx is done.
func (s *indexSentinel) run(ctx context.Context) {
	t := time.NewTicker(s.src.cfg.IndexCheck)
	defer t.Stop()
	for first := true; ; first = false {
		if !first {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
		if s.wentBackwards(ctx) {
			s.src.metrics.indexResets.Inc()
			s.src.log.WarnContext(ctx, "consul's index went backwards (a snapshot restore, or another cluster): every watch reads afresh")
			s.epoch.abandon()
		}
	}
}

// wentBackwards reads both indexes and reports whether either is lower
// than the last read's. A failed read says nothing; the watches report
// Consul's failures.
func (s *indexSentinel) wentBackwards(ctx context.Context) bool {
	q := (&api.QueryOptions{Datacenter: s.datacenter, Filter: sentinelFilter}).WithContext(ctx)
	reads := map[string]func() (*api.QueryMeta, error){
		sentinelServicesPath: func() (*api.QueryMeta, error) {
			_, meta, err := s.src.cfg.Client.Catalog().Services(q)
			return meta, err
		},
		sentinelChecksPath: func() (*api.QueryMeta, error) {
			_, meta, err := s.src.cfg.Client.Health().State(api.HealthAny, q)
			return meta, err
		},
	}
	back := false
	for path, read := range reads {
		meta, err := read()
		if err != nil {
			continue
		}
		if prev, ok := s.last[path]; ok && meta.LastIndex < prev {
			back = true
		}
		s.last[path] = meta.LastIndex
	}
	s.src.metrics.index.Set(float64(max(s.last[sentinelServicesPath], s.last[sentinelChecksPath])))
	return back
}
