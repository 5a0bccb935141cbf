package snapshot

import (
	"maps"
	"slices"

	"github.com/switchyard/switchyard/discovery"
)

// publishFleets brings every fleet to the model: profiles and certificates
// are synced from its fleet inputs, deleted fleets are handed back to the
// default state, and each fleet's changes go to the sink. A fleet that
// fails keeps what it was last sent; the others go on. Only Run's
// goroutine calls it.
func (p *Publisher) publishFleets(m discovery.Model) {
	remover, ok := p.cfg.Sink.(FleetRemover)
	if !ok {
		return
	}
	for _, cluster := range p.fleets.sync(m.Fleets) {
		remover.RemoveFleet(cluster)
		p.log.Info("fleet profile deleted; its proxies get what every other Envoy gets", "fleet", cluster)
	}
	plans := p.builders[FlavourEnvoy].plans
	errs, builds := map[string]string{}, map[string]built{}
	for _, cluster := range slices.Sorted(maps.Keys(p.fleets.targets)) {
		t := p.fleets.targets[cluster]
		u, b, err := p.fleets.build(cluster, t, m, plans)
		builds[cluster] = b
		if err == nil && u != nil {
			if err = p.cfg.Sink.Publish(*u); err == nil {
				p.fleets.accepted(t, u)
				p.removals = p.removals || len(t.held) > 0
				p.metrics.fleetPublishes.WithLabelValues(cluster).Inc()
				p.log.Info("fleet published", "fleet", cluster, "clusters", b.clusters, "changes", len(u.Changes),
					"cds", u.Versions.Clusters, "lds", u.Versions.Listeners, "sds", u.Versions.Secrets)
			}
		}
		if err != nil {
			errs[cluster] = err.Error()
			p.metrics.fleetFailures.WithLabelValues(cluster).Inc()
			p.log.Error("fleet not published; its proxies keep what they were sent last", "fleet", cluster, "error", err)
		}
	}
	p.recordFleets(p.fleets.status(errs, builds), certStatuses(p.fleets.certs))
}

// recordFleets notes the fleets' and certificates' statuses, logging each
// rejection when it first appears or changes and when it clears.
func (p *Publisher) recordFleets(fleets map[string]FleetStatus, certs map[string]CertStatus) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for cluster, st := range fleets {
		old := p.status.Fleets[cluster]
		switch {
		case st.Rejected != "" && st.Rejected != old.Rejected:
			p.log.Warn("fleet profile rejected; the fleet keeps its last good profile", "fleet", cluster,
				"index", st.RejectedIndex, "in_force_index", st.Index, "error", st.Rejected)
		case st.Rejected == "" && old.Rejected != "":
			p.log.Info("fleet profile in force again", "fleet", cluster, "index", st.Index)
		}
		if st.Rejected != "" {
			p.metrics.fleetRejected.WithLabelValues(cluster).Set(1)
		} else {
			p.metrics.fleetRejected.DeleteLabelValues(cluster)
		}
	}
	for cluster := range p.status.Fleets {
		if _, ok := fleets[cluster]; !ok {
			p.metrics.fleetRejected.DeleteLabelValues(cluster)
		}
	}
	p.status.Fleets, p.status.Certs = fleets, certs
	p.secretHashes = map[string]string{}
	for name, c := range p.fleets.certs {
		if c.good {
			p.secretHashes[name] = c.hash
		}
	}
}
