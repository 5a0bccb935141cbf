package xds

import "github.com/prometheus/client_golang/prometheus"

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
			Help: "Client groups (kind and node.cluster) seen since start.",
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
	}
	if reg != nil {
		reg.MustRegister(m.streams, m.groups, m.responses, m.acks, m.nacks,
			m.deltaResponses, m.deltaAcks, m.deltaNacks)
	}
	return m
}
