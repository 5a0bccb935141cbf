package snapshot

import "time"

// recordDrops logs and counts what one pass of the drop guard did, and
// puts the drops it holds in the services' status.
func (p *Publisher) recordDrops(rep guardReport) {
	for _, ev := range rep.events {
		p.metrics.dropEvents.WithLabelValues(ev.kind.String()).Inc()
		d := ev.drop
		switch ev.kind {
		case dropHeld:
			p.log.Warn("endpoint drop held; the endpoints in force keep serving until it is confirmed",
				"service", ev.service, "from", d.From, "to", d.To, "until", d.Until.Format(time.RFC3339Nano))
		case dropApplied:
			p.log.Warn("held endpoint drop persisted and is applied",
				"service", ev.service, "from", d.From, "to", d.To, "held", time.Since(d.Since).Round(time.Millisecond).String())
		case dropRecovered:
			p.log.Info("endpoints recovered; held drop cleared",
				"service", ev.service, "from", d.From, "to", d.To, "held", time.Since(d.Since).Round(time.Millisecond).String())
		}
	}
	p.metrics.dropsHeld.Set(float64(len(rep.holds)))
	p.mu.Lock()
	defer p.mu.Unlock()
	next := make(map[string]ServiceStatus, len(p.status.Services)+len(rep.holds))
	for name, st := range p.status.Services {
		st.HeldDrop = nil
		if st.Rejected != "" || len(st.Downgrades) > 0 {
			next[name] = st
		}
	}
	for name, d := range rep.holds {
		st := next[name]
		st.HeldDrop = &d
		next[name] = st
	}
	p.status.Services = next
}
