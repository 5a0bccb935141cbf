package discovery

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the source's Prometheus collectors. They always exist, so the
// code that updates them needs no nil checks; they are registered only when
// Config.Registerer is set.
type metrics struct {
	requests    *prometheus.CounterVec
	lastSuccess prometheus.Gauge
	watches     prometheus.Gauge
	aclFiltered prometheus.Counter
	promotions  prometheus.Counter
	indexResets prometheus.Counter
	index       prometheus.Gauge
	queryTime   *prometheus.HistogramVec
}

// newMetrics creates the collectors and registers them with reg, if any,
// with the switchyard_consul_connections gauge when conns is set.
func newMetrics(reg prometheus.Registerer, conns *ConnCounter) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchyard_consul_requests_total",
			Help: "Consul queries made by discovery, by endpoint (catalog, health, detector, read, config, kv) and result (ok, error).",
		}, []string{"endpoint", "result"}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "switchyard_consul_last_success_timestamp_seconds",
			Help: "Unix time of the last query Consul answered.",
		}),
		watches: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "switchyard_consul_watches",
			Help: "Blocking-query watches running, each holding one connection to Consul.",
		}),
		aclFiltered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchyard_consul_acl_filtered_total",
			Help: "Consul answers whose results were filtered by ACLs.",
		}),
		queryTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "switchyard_consul_query_seconds",
			Help:    "Time Consul took to answer a query, by endpoint: for blocking watches how long they waited for a change (at most the wait time), for targeted reads the read's latency.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 10),
		}, []string{"endpoint"}),
		indexResets: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchyard_consul_index_resets_total",
			Help: "Times Consul's indexes went backwards (a snapshot restore) and every watch read afresh.",
		}),
		index: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "switchyard_consul_index",
			Help: "The higher of the Consul services and checks tables' indexes at the index sentinel's last read.",
		}),
		promotions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchyard_consul_watch_promotions_total",
			Help: "Services past the watch budget given a watch of their own because they changed twice within a minute.",
		}),
	}
	if reg == nil {
		return m, nil
	}
	collectors := []prometheus.Collector{m.requests, m.lastSuccess, m.watches, m.aclFiltered, m.promotions, m.indexResets, m.index, m.queryTime}
	if conns != nil {
		collectors = append(collectors, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "switchyard_consul_connections",
			Help: "HTTP connections open to Consul, counted where they are dialled and closed.",
		}, func() float64 { return float64(conns.Open()) }))
	}
	for _, c := range collectors {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("discovery: register metrics: %w", err)
		}
	}
	return m, nil
}
