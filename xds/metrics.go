package xds

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the xDS server's Prometheus metrics.
type metrics struct {
	streams   prometheus.Gauge
	groups    prometheus.Gauge
	responses *prometheus.CounterVec
	acks      *prometheus.CounterVec
	nacks     *prometheus.CounterVec

	deltaResponses *prometheus.CounterVec
	deltaAcks      *prometheus.CounterVec
	deltaNacks     *prometheus.CounterVec

	encodes   prometheus.Counter
	applyTime prometheus.Histogram
	woken     prometheus.Histogram
	// rejections counts rejections, state of the world and delta, by
	// type and group.
	rejections *prometheus.CounterVec
	// groupResponses counts responses, state of the world and delta, by
	// type and group.
	groupResponses *prometheus.CounterVec
	// convergence times each change from its observation in Consul to
	// each proxy's acknowledgement.
	convergence prometheus.Histogram
}

// observeConvergence records one proxy's convergence on one change.
func (m *metrics) observeConvergence(d time.Duration) {
	m.convergence.Observe(d.Seconds())
}

// newMetrics creates the metrics and registers them if reg is not nil.
func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		streams: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "switchyard_xds_streams",
			Help: "Open xDS streams.",
		}),
		groups: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "switchyard_xds_groups",
			Help: "Client groups (kind and node.cluster) with at least one stream open.",
		}),
		responses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchyard_xds_responses_total",
			Help: "xDS responses sent, by type.",
		}, []string{"type"}),
		acks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchyard_xds_acks_total",
			Help: "xDS responses acknowledged by clients, by type.",
		}, []string{"type"}),
		nacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchyard_xds_nacks_total",
			Help: "xDS responses rejected by clients, by type.",
		}, []string{"type"}),
		deltaResponses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchyard_xds_delta_responses_total",
			Help: "Delta xDS responses sent, by type.",
		}, []string{"type"}),
		deltaAcks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchyard_xds_delta_acks_total",
			Help: "Delta xDS responses acknowledged by clients, by type.",
		}, []string{"type"}),
		deltaNacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchyard_xds_delta_nacks_total",
			Help: "Delta xDS responses rejected by clients, by type.",
		}, []string{"type"}),
		encodes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchyard_xds_resources_encoded_total",
			Help: "Resource versions encoded; each is encoded once, however many streams it is sent on.",
		}),
		applyTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "switchyard_xds_apply_seconds",
			Help:    "Time to put an update in force: encode what changed and mark the streams subscribed to it.",
			Buckets: prometheus.ExponentialBuckets(0.00001, 4, 10),
		}),
		woken: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "switchyard_xds_update_streams",
			Help:    "Streams woken by one update.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 9),
		}),
		convergence: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "switchyard_xds_convergence_seconds",
			Help:    "Time from a Consul change being observed to a proxy acknowledging every response it caused, one observation per proxy per change (changes that reach a proxy together count once).",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}),
		groupResponses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchyard_xds_group_responses_total",
			Help: "Responses sent (state of the world or delta), by type and group.",
		}, []string{"type", "group"}),
		rejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchyard_xds_rejections_total",
			Help: "Responses a client rejected (state of the world or delta), by type and group.",
		}, []string{"type", "group"}),
	}
	if reg != nil {
		reg.MustRegister(m.streams, m.groups, m.responses, m.acks, m.nacks,
			m.deltaResponses, m.deltaAcks, m.deltaNacks, m.encodes, m.applyTime, m.woken, m.rejections, m.convergence, m.groupResponses)
	}
	return m
}
