package xds

import (
	"github.com/prometheus/client_golang/prometheus"
)

// lrsMetrics are the load reporting service's Prometheus metrics.
type lrsMetrics struct {
	streams prometheus.Gauge
	reports prometheus.Counter
	// requests counts the requests clients reported, by cluster and
	// result (success, error, dropped).
	requests *prometheus.CounterVec
	// droppedClusters counts the cluster entries of reports left out
	// because the table already holds maxLoadClusters clusters.
	droppedClusters prometheus.Counter
}

// newLRSMetrics creates the metrics and registers them if reg is not nil.
func newLRSMetrics(reg prometheus.Registerer) *lrsMetrics {
	m := &lrsMetrics{
		streams: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "switchyard_lrs_streams",
			Help: "Open load reporting (LRS) streams.",
		}),
		reports: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchyard_lrs_reports_total",
			Help: "Load reports received (the first request of a stream, which names the node, counts only if it carries stats).",
		}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchyard_lrs_requests_total",
			Help: "Requests clients reported in load reports, by cluster and result (success, error, dropped).",
		}, []string{"cluster", "result"}),
		droppedClusters: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchyard_lrs_dropped_clusters_total",
			Help: "Cluster entries of load reports left out because Switchyard already keeps the most clusters it will (65,536).",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.streams, m.reports, m.requests, m.droppedClusters)
	}
	return m
}

// observe counts one report: what it added per cluster, and the cluster
// entries left out.
func (m *lrsMetrics) observe(deltas []loadDelta, dropped int) {
	m.reports.Inc()
	m.droppedClusters.Add(float64(dropped))
	for _, d := range deltas {
		for result, n := range map[string]uint64{"success": d.success, "error": d.error, "dropped": d.dropped} {
			if n > 0 {
				m.requests.WithLabelValues(d.cluster, result).Add(float64(n))
			}
		}
	}
}
