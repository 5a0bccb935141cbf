package snapshot

import (
	"github.com/switchyard/switchyard/discovery"
	"github.com/switchyard/switchyard/fleet"
)

// fleetScope returns, in their order, the services a fleet sees: those
// its profile matches, every service their routes and failovers send to,
// and the services its TCP listeners forward to. plans are the plans of
// the whole catalog.
func fleetScope(services []discovery.Service, p *fleet.Profile, plans planSet) []discovery.Service {
	in := map[string]bool{}
	for _, svc := range services {
		if p.Match(svc.Name, svc.Tags, svc.Meta) {
			in[svc.Name] = true
			addTargets(in, plans, svc.Name)
		}
	}
	for _, l := range p.Listeners {
		if l.Protocol == fleet.ProtocolTCP {
			in[l.Service] = true
			addTargets(in, plans, l.Service)
		}
	}
	out := make([]discovery.Service, 0, len(in))
	for _, svc := range services {
		if in[svc.Name] {
			out = append(out, svc)
		}
	}
	return out
}

// addTargets adds the services a service's plan sends requests to, its
// failovers included. Plans are flattened: the targets of a splitter's
// splits are final, so one level is enough.
func addTargets(in map[string]bool, plans planSet, service string) {
	p := plans.plan(service)
	if p == nil {
		return
	}
	for _, s := range p.Routed() {
		in[s.Target.Service] = true
	}
	for _, c := range p.Clusters {
		for _, f := range c.Failover {
			in[f.Service] = true
		}
	}
}

// scopedModel returns the model a fleet's builder follows: only the
// services in its scope. Changed is kept whole: a name outside the scope
// is one the builder holds nothing of, and costs it nothing.
func scopedModel(m discovery.Model, p *fleet.Profile, plans planSet) discovery.Model {
	m.Services = fleetScope(m.Services, p, plans)
	return m
}
