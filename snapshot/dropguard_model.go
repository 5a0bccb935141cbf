package snapshot

import (
	"slices"

	"github.com/switchyard/switchyard/discovery"
)

// references answers whether another listed service's config entries
// route to a service: a split, a router destination, a redirect or a
// failover target. It is computed on first use, since most passes never
// ask.
type references struct {
	cfg    *discovery.ConfigEntries
	lookup func(string) (*discovery.Service, bool)
	names  map[string]bool
}

// newReferences returns the references of the entries of the services
// lookup finds.
func newReferences(cfg *discovery.ConfigEntries, lookup func(string) (*discovery.Service, bool)) references {
	return references{cfg: cfg, lookup: lookup}
}

// has reports whether a service other than name routes to name.
func (r *references) has(name string) bool {
	if r.cfg == nil {
		return false
	}
	if r.names == nil {
		r.names = r.collect()
	}
	return r.names[name]
}

// collect lists every service the entries of listed services route to,
// leaving out a service's references to itself.
func (r *references) collect() map[string]bool {
	out := map[string]bool{}
	add := func(from, to string) {
		if to != "" && to != from {
			out[to] = true
		}
	}
	listed := func(name string) bool {
		_, ok := r.lookup(name)
		return ok
	}
	for from, s := range r.cfg.Splitters {
		if listed(from) {
			for _, sp := range s.Splits {
				add(from, sp.Service)
			}
		}
	}
	for from, rt := range r.cfg.Routers {
		if listed(from) {
			for _, route := range rt.Routes {
				add(from, route.Destination.Service)
			}
		}
	}
	for from, res := range r.cfg.Resolvers {
		if !listed(from) {
			continue
		}
		if res.Redirect != nil {
			add(from, res.Redirect.Service)
		}
		for _, f := range res.Failover {
			add(from, f.Service)
			for _, t := range f.Targets {
				add(from, t.Service)
			}
		}
	}
	return out
}

// serviceLookup returns a lookup of services by name: a binary search
// when they are sorted by name (as discovery's are), else a map.
func serviceLookup(services []discovery.Service) func(string) (*discovery.Service, bool) {
	if slices.IsSortedFunc(services, compareServices) {
		return func(name string) (*discovery.Service, bool) {
			i, ok := slices.BinarySearchFunc(services, name, compareServiceName)
			if !ok {
				return nil, false
			}
			return &services[i], true
		}
	}
	byName := make(map[string]*discovery.Service, len(services))
	for i := range services {
		if _, dup := byName[services[i].Name]; !dup {
			byName[services[i].Name] = &services[i]
		}
	}
	return func(name string) (*discovery.Service, bool) {
		s, ok := byName[name]
		return s, ok
	}
}

// withReplaced returns services, in a new slice, with the services named
// in replaced put in their place (added if absent, left out if nil),
// sorted by name.
func withReplaced(services []discovery.Service, replaced map[string]*discovery.Service) []discovery.Service {
	out := make([]discovery.Service, 0, len(services)+len(replaced))
	for i := range services {
		if _, ok := replaced[services[i].Name]; !ok {
			out = append(out, services[i])
		}
	}
	for _, svc := range replaced {
		if svc != nil {
			out = append(out, *svc)
		}
	}
	slices.SortStableFunc(out, compareServices)
	return out
}
