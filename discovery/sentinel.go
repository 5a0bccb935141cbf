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
	// sentinelEndpoint labels the sentinel's queries in metrics.
	sentinelEndpoint = "sentinel"
	// sentinelTimeout bounds each of its reads: Consul answers a plain
	// read at once, so a slower one means Consul is not answering.
	sentinelTimeout = 2 * time.Second
)

// indexSentinel checks, every Config.IndexCheck, that Consul answers and
// that its indexes did not go backwards; blocking queries alone notice
// neither in time.
//
//   - A snapshot restore (or the agent now talking to another cluster)
//     sends the indexes back, and a query already waiting above the
//     restored index waits out its wait time: the agent's streaming health
//     views do not wake on a restore at all.
//   - A Consul that stops answering (partitioned, paused) leaves the
//     blocking queries waiting without an error, so nothing would say
//     Consul is failing.
//
// The sentinel reads the services and checks tables' indexes with a short
// timeout; a failed read counts as a failing query in Status, and when an
// index went backwards it ends the epoch: every watch's query in flight or
// in backoff starts again at once with a plain read. (Ending the epoch
// each time Consul answers again after failing would speed up recovery,
// but cancelling every blocking query at once under load left a watch
// waiting for a connection that never came: not done.)
type indexSentinel struct {
	src        *ConsulSource
	datacenter string
	epoch      *epoch
	// last are the indexes of the last answers, by path; failures counts
	// the failed checks in a row.
	last     map[string]uint64
	failures int
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
		s.check(ctx)
	}
}

// check reads both indexes and acts on what they say.
func (s *indexSentinel) check(ctx context.Context) {
	back, err := s.read(ctx)
	if ctx.Err() != nil {
		return
	}
	if err == nil && s.failures > 0 {
		s.src.log.InfoContext(ctx, "consul answers the index sentinel again", "failed_checks", s.failures)
		s.failures = 0
	}
	switch {
	case err != nil:
		s.failures++
		s.src.queryFailed(sentinelEndpoint, sentinelServicesPath, err, s.src.cfg.IndexCheck, s.failures)
	case back:
		s.src.metrics.indexResets.Inc()
		s.src.log.WarnContext(ctx, "consul's index went backwards (a snapshot restore, or another cluster): every watch reads afresh")
		s.epoch.abandon()
	}
}

// read reads both indexes, reporting whether either is lower than at the
// last read, or the first error.
func (s *indexSentinel) read(ctx context.Context) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, sentinelTimeout)
	defer cancel()
	q := (&api.QueryOptions{Datacenter: s.datacenter, Filter: sentinelFilter}).WithContext(ctx)
	reads := []struct {
		path string
		read func() (*api.QueryMeta, error)
	}{
		{sentinelServicesPath, func() (*api.QueryMeta, error) {
			_, meta, err := s.src.cfg.Client.Catalog().Services(q)
			return meta, err
		}},
		{sentinelChecksPath, func() (*api.QueryMeta, error) {
			_, meta, err := s.src.cfg.Client.Health().State(api.HealthAny, q)
			return meta, err
		}},
	}
	back := false
	for _, r := range reads {
		sent := time.Now()
		meta, err := r.read()
		if err != nil {
			return false, err
		}
		s.src.querySucceeded(sentinelEndpoint, sentinelServicesPath, meta, time.Since(sent))
		if prev, ok := s.last[r.path]; ok && meta.LastIndex < prev {
			back = true
		}
		s.last[r.path] = meta.LastIndex
	}
	s.src.metrics.index.Set(float64(max(s.last[sentinelServicesPath], s.last[sentinelChecksPath])))
	return back, nil
}
