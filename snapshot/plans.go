package snapshot

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/switchyard/switchyard/discovery"
	"github.com/switchyard/switchyard/snapshot/chain"
)

// planSet is the routing plan of every service that has config entries;
// a service without one has a nil plan, and routes everything to itself.
type planSet struct {
	plans map[string]*chain.Plan
	// rejected holds, by service, why its entries cannot be applied now;
	// such a service keeps its last good plan (see planner).
	rejected map[string]error
	// unsettled is set when some plan is a warming step, to be followed
	// by the plan itself on the next compile.
	unsettled bool
}

// plan returns a service's plan, nil when it routes plainly.
func (ps planSet) plan(service string) *chain.Plan {
	return ps.plans[service]
}

// configured reports whether a plan is one of config entries rather than
// nil, the plain routing of a service without any.
func configured(p *chain.Plan) bool {
	return p != nil && p.Configured
}

// planner compiles the plans of a catalog's services and remembers the
// last good plan of each, so that an entry that cannot be applied leaves
// the service's routing as it was. It is not safe for concurrent use.
type planner struct {
	last map[string]*chain.Plan
	// warmFirst makes a plan that starts routing to another service's
	// target go out in two steps (see warmStep); given is what compile
	// last returned for each service.
	warmFirst bool
	given     map[string]*chain.Plan
}

// newPlanner returns a planner that remembers nothing yet; with warmFirst
// it warms new targets before routing to them, for gRPC clients.
func newPlanner(warmFirst bool) *planner {
	return &planner{last: map[string]*chain.Plan{}, warmFirst: warmFirst, given: map[string]*chain.Plan{}}
}

// compile plans every registered service that has config entries. A
// service whose entries are rejected keeps its last good plan while every
// target that plan routes to still exists, else it routes plainly; either
// way the rejection is reported.
func (pl *planner) compile(cfg *discovery.ConfigEntries, services []discovery.Service) planSet {
	ps := planSet{plans: map[string]*chain.Plan{}, rejected: map[string]error{}}
	exists := registeredFunc(services)
	for _, name := range cfg.Names() {
		if !exists(name) {
			continue
		}
		p, err := chain.Compile(cfg, exists, name)
		if err == nil {
			pl.last[name] = p
			ps.plans[name] = p
			continue
		}
		ps.rejected[name] = err
		if last, ok := pl.last[name]; ok && stillRoutable(last, cfg, exists) {
			ps.plans[name] = last
		}
	}
	for name := range pl.last {
		if _, ok := ps.plans[name]; !ok {
			delete(pl.last, name)
		}
	}
	if pl.warmFirst {
		pl.warm(&ps, cfg, exists)
	}
	return ps
}

// warm replaces, for each service whose plan starts routing to a target
// of another service that its previous plan neither routed to nor warmed,
// the plan by a warming step: the previous routes, the new clusters, and
// the new targets warmed. A gRPC client builds only the clusters its
// routes reference, and fails RPCs picked for one it has not built yet;
// the step lets it build them first. The planner then reports the set
// unsettled, and the next compile gives the plan itself.
func (pl *planner) warm(ps *planSet, cfg *discovery.ConfigEntries, exists func(string) bool) {
	for name, p := range ps.plans {
		prev, ok := pl.given[name]
		if !ok || prev == p {
			continue
		}
		if fresh := newTargets(prev, p); len(fresh) > 0 && stillRoutable(prev, cfg, exists) {
			ps.plans[name] = warmStep(prev, p, fresh)
			ps.unsettled = true
		}
	}
	pl.given = maps.Clone(ps.plans)
}

// newTargets lists the targets of other services next routes to that
// prev neither routes to nor warms.
func newTargets(prev, next *chain.Plan) []chain.WeightedTarget {
	known := map[string]bool{}
	for _, s := range append(prev.Routed(), prev.Warm...) {
		known[splitClusterName(s)] = true
	}
	var out []chain.WeightedTarget
	for _, s := range next.Routed() {
		if s.Target.Service != next.Service && !known[splitClusterName(s)] {
			out = append(out, s)
		}
	}
	return out
}

// warmStep returns next's clusters with prev's routes, the clusters prev's
// routes still need, and fresh warmed.
func warmStep(prev, next *chain.Plan, fresh []chain.WeightedTarget) *chain.Plan {
	step := *next
	step.Routes = prev.Routes
	step.Warm = append(slices.Clone(prev.Warm), fresh...)
	for _, s := range prev.Routed() {
		t := s.Target
		if t.Service != next.Service {
			continue
		}
		if _, ok := step.Cluster(t); ok {
			continue
		}
		if c, ok := prev.Cluster(t); ok {
			step.Clusters = append(slices.Clone(step.Clusters), c)
		}
	}
	return &step
}

// registeredFunc returns a lookup of the service names of a model.
func registeredFunc(services []discovery.Service) func(string) bool {
	if slices.IsSortedFunc(services, compareServices) {
		return func(name string) bool {
			_, ok := slices.BinarySearchFunc(services, name, compareServiceName)
			return ok
		}
	}
	set := make(map[string]bool, len(services))
	for _, s := range services {
		set[s.Name] = true
	}
	return func(name string) bool { return set[name] }
}

// stillRoutable reports whether every target a plan routes to still
// exists: the service is registered and, for another service's subset,
// that service's resolver still defines it.
func stillRoutable(p *chain.Plan, cfg *discovery.ConfigEntries, exists func(string) bool) bool {
	for _, r := range p.Routes {
		for _, s := range r.Splits {
			t := s.Target
			if !exists(t.Service) {
				return false
			}
			if t.Subset == "" || t.Service == p.Service {
				continue
			}
			if _, ok := cfg.Resolvers[t.Service].Subsets[t.Subset]; !ok {
				return false
			}
		}
	}
	return true
}

// rejectionWarnings lists the rejections of a plan set, one line each,
// in service order.
func (ps planSet) rejectionWarnings() []string {
	var out []string
	for _, name := range slices.Sorted(maps.Keys(ps.rejected)) {
		for _, line := range strings.Split(ps.rejected[name].Error(), "\n") {
			out = append(out, fmt.Sprintf("service %q: config entry rejected, last good routing kept: %s", name, line))
		}
	}
	return out
}
