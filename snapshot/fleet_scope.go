package snapshot

import (
	"maps"
	"slices"

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

// scoper follows which services a fleet's profile matches. Given a delta
// model it matches only the changed services, so a publish costs a fleet
// the size of its scope, not of the catalog; a model that is not a delta,
// or a new profile, is matched in full.
type scoper struct {
	profile *fleet.Profile
	matched map[string]bool
}

// scopedModel returns the model a fleet's builder follows: the services in
// the fleet's scope (see fleetScope), sorted by name. Changed is kept
// whole: a name outside the scope is one the builder holds nothing of, and
// costs it nothing. A delta model's services are sorted by name
// (discovery guarantees it), which is trusted here, as memoBuilder does.
func (sc *scoper) scopedModel(m discovery.Model, p *fleet.Profile, plans planSet) discovery.Model {
	if sc.matched == nil || sc.profile != p || !m.Delta {
		sc.profile, sc.matched = p, map[string]bool{}
		for _, svc := range m.Services {
			if p.Match(svc.Name, svc.Tags, svc.Meta) {
				sc.matched[svc.Name] = true
			}
		}
	} else {
		for _, name := range m.Changed {
			svc, ok := serviceNamed(m.Services, name)
			if ok && p.Match(svc.Name, svc.Tags, svc.Meta) {
				sc.matched[name] = true
			} else {
				delete(sc.matched, name)
			}
		}
	}
	in := maps.Clone(sc.matched)
	for name := range sc.matched {
		addTargets(in, plans, name)
	}
	for _, l := range p.Listeners {
		if l.Protocol == fleet.ProtocolTCP {
			in[l.Service] = true
			addTargets(in, plans, l.Service)
		}
	}
	services := make([]discovery.Service, 0, len(in))
	for _, name := range slices.Sorted(maps.Keys(in)) {
		if svc, ok := serviceNamed(m.Services, name); ok {
			services = append(services, *svc)
		}
	}
	m.Services = services
	return m
}

// serviceNamed finds a service in services sorted by name.
func serviceNamed(services []discovery.Service, name string) (*discovery.Service, bool) {
	i, ok := slices.BinarySearchFunc(services, name, compareServiceName)
	if !ok {
		return nil, false
	}
	return &services[i], true
}
