package snapshot

import "github.com/prometheus/client_golang/prometheus"

// metrics are the publisher's Prometheus metrics.
type metrics struct {
	publishes   *prometheus.CounterVec
	unchanged   *prometheus.CounterVec
	failures    *prometheus.CounterVec
	warnings    *prometheus.CounterVec
	lastPublish *prometheus.GaugeVec
	buildTime   prometheus.Histogram
	rejected    prometheus.Gauge
	downgrades  *prometheus.GaugeVec
	// byService are rejected (1) and downgrade counts by service.
	rejectedBy   *prometheus.GaugeVec
	downgradesBy *prometheus.GaugeVec
	// dropsHeld counts the services whose drop is held, dropEvents the
	// drops held, applied and recovered.
	dropsHeld  prometheus.Gauge
	dropEvents *prometheus.CounterVec
	// fleetRejected is 1 for each fleet whose stored profile or a
	// certificate it serves is rejected; fleetFailures counts the fleets'
	// failed builds and publishes; fleetPublishes their publishes.
	fleetRejected  *prometheus.GaugeVec
	fleetFailures  *prometheus.CounterVec
	fleetPublishes *prometheus.CounterVec
}

// newMetrics creates the metrics and registers them if reg is not nil.
func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		publishes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchyard_snapshot_publishes_total",
			Help: "Snapshots published, by flavour.",
		}, []string{"flavour"}),
		unchanged: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchyard_snapshot_unchanged_total",
			Help: "Rebuilds that produced the versions already published, so nothing was pushed.",
		}, []string{"flavour"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchyard_snapshot_failures_total",
			Help: "Rebuilds rejected by translation or validation; the last good snapshot stayed in force.",
		}, []string{"flavour"}),
		warnings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchyard_snapshot_warnings_total",
			Help: "Parts of a model that could not be expressed (such as a virtual host whose domains were taken), by flavour.",
		}, []string{"flavour"}),
		lastPublish: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "switchyard_snapshot_last_publish_timestamp_seconds",
			Help: "Unix time of the last published snapshot, by flavour.",
		}, []string{"flavour"}),
		buildTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "switchyard_snapshot_build_seconds",
			Help:    "Time to translate, validate and version one flavour.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		rejected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "switchyard_config_entries_rejected_services",
			Help: "Services whose L7 config entries cannot be applied; each keeps its last good routing (see /status).",
		}),
		downgrades: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "switchyard_config_entry_downgrades",
			Help: "Config-entry settings a flavour cannot express, each mapped to the nearest equivalent or left out, by flavour (see /status).",
		}, []string{"flavour"}),
		rejectedBy: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "switchyard_config_entry_rejected",
			Help: "1 for each service whose L7 config entries cannot be applied (the reason is in /status).",
		}, []string{"service"}),
		downgradesBy: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "switchyard_config_entry_service_downgrades",
			Help: "Config-entry settings of a service that a flavour cannot express, by service and flavour.",
		}, []string{"service", "flavour"}),
		dropsHeld: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "switchyard_endpoint_drops_held",
			Help: "Services whose drop of endpoints is held back by the drop guard (which ones: held_drop in /v1/services).",
		}),
		dropEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchyard_endpoint_drops_total",
			Help: "Drops of endpoints the drop guard held, applied after the confirmation window, or saw recover while held, by result.",
		}, []string{"result"}),
	}
	m.fleetRejected = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "switchyard_fleet_profile_rejected",
		Help: "1 for each fleet whose stored profile, or a certificate it serves, is rejected; the last good one stays in force.",
	}, []string{"fleet"})
	m.fleetFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "switchyard_fleet_failures_total",
		Help: "Fleet builds or publishes that failed; the fleet's last published resources stay in force.",
	}, []string{"fleet"})
	m.fleetPublishes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "switchyard_fleet_publishes_total",
		Help: "Updates published to the proxies of a fleet.",
	}, []string{"fleet"})
	if reg != nil {
		reg.MustRegister(m.publishes, m.unchanged, m.failures, m.warnings, m.lastPublish, m.buildTime, m.rejected, m.downgrades,
			m.rejectedBy, m.downgradesBy, m.dropsHeld, m.dropEvents, m.fleetRejected, m.fleetFailures, m.fleetPublishes)
	}
	return m
}
