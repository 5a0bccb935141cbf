package xds

import (
	"cmp"
	"slices"
	"sync"
	"time"

	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
)

// maxLoadClusters bounds the clusters the load table keeps: a client can
// name any cluster it likes in a report, and the table never forgets one.
const maxLoadClusters = 1 << 16

// ClusterLoad is what clients reported of one cluster since this server started, summed over every client and locality.
type ClusterLoad struct {
	Cluster     string    `json:"cluster"`
	ServiceName string    `json:"service_name,omitempty"` // cluster_service_name
	Success     uint64    `json:"success"`
	Error       uint64    `json:"error"`
	Issued      uint64    `json:"issued"`
	Dropped     uint64    `json:"dropped"`
	InProgress  uint64    `json:"in_progress"` // sum over reporters of their latest value
	Reporters   int       `json:"reporters"`   // streams currently reporting it
	LastReport  time.Time `json:"last_report,omitzero"`
}

// loadKey names what a report counts: a cluster and its EDS service name.
type loadKey struct{ cluster, service string }

// loadReporter is one load reporting stream's share of the table: the
// in-progress count it last reported of each cluster it has reported.
type loadReporter struct {
	inProgress map[loadKey]uint64
}

// loadDelta is what one report adds to one cluster, for the metrics.
type loadDelta struct {
	cluster                 string
	success, error, dropped uint64
}

// loadTable sums the load reports of every stream, per cluster. Clients
// send the counts since their previous report, so the sums only grow; the
// in-progress count is a gauge, each stream's latest value.
type loadTable struct {
	max int

	mu      sync.Mutex
	entries map[loadKey]*ClusterLoad
}

// newLoadTable returns an empty table keeping at most max clusters.
func newLoadTable(max int) *loadTable {
	return &loadTable{max: max, entries: map[loadKey]*ClusterLoad{}}
}

// newReporter returns the share of a stream that has reported nothing.
func (t *loadTable) newReporter() *loadReporter {
	return &loadReporter{inProgress: map[loadKey]uint64{}}
}

// record adds one report of r's stream, received at now. A cluster the
// stream reported before and leaves out of this report has nothing in
// progress (gRPC clients leave out the clusters with nothing to report).
// It returns what the report added per cluster kept, and how many cluster
// entries it dropped because the table is full.
func (t *loadTable) record(r *loadReporter, stats []*endpointv3.ClusterStats, now time.Time) ([]loadDelta, int) {
	reported := make(map[loadKey]uint64, len(stats))
	var deltas []loadDelta
	dropped := 0
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, cs := range stats {
		key := loadKey{cluster: cs.GetClusterName(), service: cs.GetClusterServiceName()}
		e := t.entry(key)
		if e == nil {
			dropped++
			continue
		}
		if _, ok := r.inProgress[key]; !ok {
			r.inProgress[key] = 0
			e.Reporters++
		}
		d := loadDelta{cluster: key.cluster, dropped: cs.GetTotalDroppedRequests()}
		for _, l := range cs.GetUpstreamLocalityStats() {
			d.success += l.GetTotalSuccessfulRequests()
			d.error += l.GetTotalErrorRequests()
			e.Issued += l.GetTotalIssuedRequests()
			reported[key] += l.GetTotalRequestsInProgress()
		}
		e.Success += d.success
		e.Error += d.error
		e.Dropped += d.dropped
		e.LastReport = now
		deltas = append(deltas, d)
	}
	for key, old := range r.inProgress {
		e := t.entries[key]
		e.InProgress = e.InProgress - old + reported[key]
		r.inProgress[key] = reported[key]
	}
	return deltas, dropped
}

// entry returns the entry of key, created if the table has room; nil if
// it has none.
func (t *loadTable) entry(key loadKey) *ClusterLoad {
	if e, ok := t.entries[key]; ok {
		return e
	}
	if len(t.entries) >= t.max {
		return nil
	}
	e := &ClusterLoad{Cluster: key.cluster, ServiceName: key.service}
	t.entries[key] = e
	return e
}

// close takes a closed stream's reporter out: its counts stay, its
// in-progress values and its place among the reporters go.
func (t *loadTable) close(r *loadReporter) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for key, v := range r.inProgress {
		e := t.entries[key]
		e.InProgress -= v
		e.Reporters--
	}
	clear(r.inProgress)
}

// loads returns a copy of every entry, sorted by cluster then service name.
func (t *loadTable) loads() []ClusterLoad {
	t.mu.Lock()
	out := make([]ClusterLoad, 0, len(t.entries))
	for _, e := range t.entries {
		out = append(out, *e)
	}
	t.mu.Unlock()
	slices.SortFunc(out, func(a, b ClusterLoad) int {
		return cmp.Or(cmp.Compare(a.Cluster, b.Cluster), cmp.Compare(a.ServiceName, b.ServiceName))
	})
	return out
}
