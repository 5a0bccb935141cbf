package xds

import (
	"github.com/prometheus/client_golang/prometheus"
)

// fleetCollector reports, at each scrape, the connected proxies by kind,
// group and sync state, and the resources each kind of client is served.
type fleetCollector struct {
	srv       *Server
	proxies   *prometheus.Desc
	resources *prometheus.Desc
}

// newFleetCollector returns the collector of a server.
func newFleetCollector(srv *Server) *fleetCollector {
	return &fleetCollector{
		srv: srv,
		proxies: prometheus.NewDesc("switchyard_xds_proxies",
			"Connected xDS streams by client kind, group and sync state (see /v1/proxies).",
			[]string{"kind", "group", "state"}, nil),
		resources: prometheus.NewDesc("switchyard_xds_resources",
			"Resources served to each kind of client (every group of a kind is served the same), by type.",
			[]string{"kind", "type"}, nil),
	}
}

// Describe sends the collector's descriptions.
func (c *fleetCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.proxies
	ch <- c.resources
}

// Collect counts the proxies and resources now.
func (c *fleetCollector) Collect(ch chan<- prometheus.Metric) {
	type key struct{ kind, group, state string }
	counts := map[key]int{}
	for _, p := range c.srv.Proxies() {
		counts[key{p.Kind, p.Group, string(p.State)}]++
	}
	for k, n := range counts {
		ch <- prometheus.MustNewConstMetric(c.proxies, prometheus.GaugeValue, float64(n), k.kind, k.group, k.state)
	}
	for _, kind := range []Kind{KindEnvoy, KindGRPC} {
		for _, tr := range c.srv.Resources(kind) {
			ch <- prometheus.MustNewConstMetric(c.resources, prometheus.GaugeValue, float64(len(tr.Resources)), kind.String(), tr.Type)
		}
	}
}
