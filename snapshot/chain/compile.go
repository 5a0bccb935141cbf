package chain

import (
	"errors"
	"maps"
	"slices"

	"github.com/switchyard/switchyard/discovery"
)

// maxDepth bounds how many splitters and redirects one route may pass
// through, so that a loop among entries is an error, not a hang.
const maxDepth = 8

// fullWeight is 100 % in hundredths of a percent.
const fullWeight = 10000

// compiler compiles the plan of one service.
type compiler struct {
	cfg     *discovery.ConfigEntries
	exists  func(string) bool
	service string
	errs    []error
}

// Compile returns the routing plan of one service from the config entries,
// where exists reports whether a service name is registered in Consul. A
// service with no entry gets the plain plan: one cluster, one route to it.
// An entry that cannot be applied (on this service, or on a service its
// routes pass through) makes Compile return every such problem, each an
// *EntryError, and no plan.
func Compile(cfg *discovery.ConfigEntries, exists func(string) bool, service string) (*Plan, error) {
	if cfg == nil {
		cfg = &discovery.ConfigEntries{}
	}
	c := &compiler{cfg: cfg, exists: exists, service: service}
	p := &Plan{Service: service, Protocol: cfg.Defaults[service].Protocol, Configured: c.configured()}
	p.Clusters = c.clusters()
	p.Routes = c.routes(p.Protocol)
	if err := errors.Join(c.errs...); err != nil {
		return nil, err
	}
	return p, nil
}

// configured reports whether any entry names the service.
func (c *compiler) configured() bool {
	_, d := c.cfg.Defaults[c.service]
	_, r := c.cfg.Resolvers[c.service]
	_, s := c.cfg.Splitters[c.service]
	_, t := c.cfg.Routers[c.service]
	return d || r || s || t
}

// fail records a problem once: a splitter or redirect that several
// routes pass through is reported once.
func (c *compiler) fail(err error) {
	for _, e := range c.errs {
		if e.Error() == err.Error() {
			return
		}
	}
	c.errs = append(c.errs, err)
}

// clusters returns the clusters the service owns: the whole service, then
// each subset of its resolver in name order.
func (c *compiler) clusters() []Cluster {
	r := c.cfg.Resolvers[c.service]
	c.checkResolver(r)
	base := Cluster{
		Target:         Target{Service: c.service},
		ConnectTimeout: r.ConnectTimeout,
		Upstream:       c.cfg.Defaults[c.service].Upstream,
	}
	if base.ConnectTimeout == 0 {
		base.ConnectTimeout = base.Upstream.ConnectTimeout
	}
	if r.LoadBalancer != nil {
		base.LoadBalancer = *r.LoadBalancer
	}
	whole := base
	whole.Failover = c.failover(r, "*", whole.Target)
	out := []Cluster{whole}
	for _, name := range slices.Sorted(maps.Keys(r.Subsets)) {
		s := r.Subsets[name]
		cl := base
		cl.Target.Subset = name
		cl.OnlyPassing = s.OnlyPassing
		if s.Filter != "" {
			f, err := ParseFilter(s.Filter)
			if err != nil {
				c.fail(entryErr(KindResolver, c.service, "Subsets["+quote(name)+"].Filter", "%v", err))
			}
			cl.Filter = f
		}
		key := name
		if _, ok := r.Failover[name]; !ok {
			key = "*"
		}
		cl.Failover = c.failover(r, key, cl.Target)
		out = append(out, cl)
	}
	return out
}

// failover compiles the resolver's failover entry key for target t.
func (c *compiler) failover(r discovery.ServiceResolver, key string, t Target) []Target {
	f, ok := r.Failover[key]
	if !ok {
		return nil
	}
	field := "Failover[" + quote(key) + "]"
	if len(f.Datacenters) > 0 {
		c.fail(entryErr(KindResolver, c.service, field+".Datacenters", "failover to other datacenters is not supported"))
		return nil
	}
	targets := f.Targets
	if len(targets) == 0 && (f.Service != "" || f.ServiceSubset != "") {
		targets = []discovery.FailoverTarget{{Service: f.Service, ServiceSubset: f.ServiceSubset}}
	}
	if len(targets) == 0 {
		c.fail(entryErr(KindResolver, c.service, field, "failover names no target"))
		return nil
	}
	var out []Target
	for i, ft := range targets {
		tf := field
		if len(f.Targets) > 0 {
			tf = field + ".Targets[" + itoa(i) + "]"
		}
		if ft.Datacenter != "" || ft.Peer != "" || ft.Partition != "" || ft.Namespace != "" {
			c.fail(entryErr(KindResolver, c.service, tf, "failover to another datacenter, peer, partition or namespace is not supported"))
			continue
		}
		to := Target{Service: ft.Service, Subset: ft.ServiceSubset}
		if to.Service == "" {
			to.Service = c.service
		}
		if err := c.checkTarget(to); err != "" {
			c.fail(entryErr(KindResolver, c.service, tf, "%s", err))
			continue
		}
		if to == t {
			c.fail(entryErr(KindResolver, c.service, tf, "target %s fails over to itself", t))
			continue
		}
		out = append(out, to)
	}
	return out
}

// checkTarget returns why a target cannot receive traffic, or "".
func (c *compiler) checkTarget(t Target) string {
	if !c.exists(t.Service) {
		return "service " + quote(t.Service) + " is not registered in Consul"
	}
	if t.Subset == "" {
		return ""
	}
	if _, ok := c.cfg.Resolvers[t.Service].Subsets[t.Subset]; !ok {
		return "subset " + quote(t.Subset) + " is not defined by service-resolver " + quote(t.Service)
	}
	return ""
}

// routes compiles the router's routes, then the default route.
func (c *compiler) routes(protocol string) []Route {
	router, hasRouter := c.cfg.Routers[c.service]
	_, hasSplitter := c.cfg.Splitters[c.service]
	if protocol == "tcp" && (hasRouter || hasSplitter) {
		c.fail(entryErr(KindDefaults, c.service, "Protocol", "protocol tcp does not allow a service-router or service-splitter; use http, http2 or grpc"))
	}
	var out []Route
	for i, rt := range router.Routes {
		field := "Routes[" + itoa(i) + "]"
		match := rt.Match
		c.checkMatch(field+".Match.HTTP", match)
		out = append(out, c.route(&match, rt.Destination, field+".Destination"))
	}
	return append(out, c.route(nil, discovery.RouteDestination{}, ""))
}

// route compiles one route to a destination.
func (c *compiler) route(match *discovery.HTTPMatch, d discovery.RouteDestination, field string) Route {
	if d.Namespace != "" || d.Partition != "" {
		c.fail(entryErr(KindRouter, c.service, field, "destinations in other namespaces or partitions are not supported"))
	}
	svc := d.Service
	if svc == "" {
		svc = c.service
	}
	kind, entry := KindRouter, c.service
	if field == "" {
		kind, field = KindSplitter, "Splits"
	}
	r := Route{
		Match:                 match,
		Splits:                c.splitOrResolve(svc, d.ServiceSubset, fullWeight, 0, kind, entry, field),
		PrefixRewrite:         d.PrefixRewrite,
		RequestTimeout:        d.RequestTimeout,
		IdleTimeout:           d.IdleTimeout,
		RequestHeaders:        d.RequestHeaders,
		ResponseHeaders:       d.ResponseHeaders,
		NumRetries:            d.NumRetries,
		RetryOnConnectFailure: d.RetryOnConnectFailure,
		RetryOnStatusCodes:    slices.Clone(d.RetryOnStatusCodes),
		RetryOn:               slices.Clone(d.RetryOn),
	}
	if len(r.Splits) > 0 {
		first := c.cfg.Resolvers[r.Splits[0].Target.Service]
		if r.RequestTimeout == 0 {
			r.RequestTimeout = first.RequestTimeout
		}
		if first.LoadBalancer != nil {
			r.HashPolicies = slices.Clone(first.LoadBalancer.HashPolicies)
		}
	}
	return r
}

// splitOrResolve sends weight of traffic for a service (and subset) to
// that service's splitter if it has one and no subset is named, else to
// its resolver, as Consul's discovery chain does. kind, entry and field
// name what sent it there, for errors.
func (c *compiler) splitOrResolve(svc, subset string, weight, depth int, kind, entry, field string) []WeightedTarget {
	if depth > maxDepth {
		c.fail(entryErr(kind, entry, field, "splitters and redirects nest deeper than %d (a loop?)", maxDepth))
		return nil
	}
	sp, ok := c.cfg.Splitters[svc]
	if !ok || subset != "" {
		t, ok := c.resolve(svc, subset, 0, kind, entry, field)
		if !ok {
			return nil
		}
		return []WeightedTarget{{Target: t, Weight: weight, Failover: c.hasFailover(t)}}
	}
	if !c.checkSplitter(sp) {
		return nil
	}
	var out []WeightedTarget
	for i, s := range sp.Splits {
		if s.Weight == 0 {
			continue
		}
		w := weight * s.Weight / fullWeight
		to := s.Service
		if to == "" {
			to = svc
		}
		sf := "Splits[" + itoa(i) + "]"
		if s.Namespace != "" || s.Partition != "" {
			c.fail(entryErr(KindSplitter, svc, sf, "splits to other namespaces or partitions are not supported"))
			continue
		}
		if to == svc || s.ServiceSubset != "" {
			if t, ok := c.resolve(to, s.ServiceSubset, 0, KindSplitter, svc, sf); ok {
				out = addWeight(out, WeightedTarget{Target: t, Weight: w, Failover: c.hasFailover(t),
					RequestHeaders: s.RequestHeaders, ResponseHeaders: s.ResponseHeaders})
			}
			continue
		}
		for _, wt := range c.splitOrResolve(to, "", w, depth+1, KindSplitter, svc, sf) {
			if wt.RequestHeaders == nil && wt.ResponseHeaders == nil {
				wt.RequestHeaders, wt.ResponseHeaders = s.RequestHeaders, s.ResponseHeaders
			}
			out = addWeight(out, wt)
		}
	}
	return out
}

// addWeight adds a share to its target's, appending it if new.
func addWeight(out []WeightedTarget, wt WeightedTarget) []WeightedTarget {
	for i := range out {
		if out[i].Target == wt.Target {
			out[i].Weight += wt.Weight
			return out
		}
	}
	return append(out, wt)
}

// hasFailover reports whether a target's resolver gives it failover
// targets (for its subset, or for every subset).
func (c *compiler) hasFailover(t Target) bool {
	f := c.cfg.Resolvers[t.Service].Failover
	if _, ok := f[t.Subset]; ok && t.Subset != "" {
		return true
	}
	_, ok := f["*"]
	return ok
}

// resolve returns the target a service and subset resolve to, following
// redirects and applying the default subset; false after recording why
// there is none.
func (c *compiler) resolve(svc, subset string, depth int, kind, entry, field string) (Target, bool) {
	if depth > maxDepth {
		c.fail(entryErr(kind, entry, field, "redirects nest deeper than %d (a loop?)", maxDepth))
		return Target{}, false
	}
	r := c.cfg.Resolvers[svc]
	if rd := r.Redirect; rd != nil {
		if rd.Datacenter != "" || rd.Peer != "" || rd.Partition != "" || rd.Namespace != "" {
			c.fail(entryErr(KindResolver, svc, "Redirect", "redirects to another datacenter, peer, partition or namespace are not supported"))
			return Target{}, false
		}
		to := rd.Service
		if to == "" {
			to = svc
		}
		if to == svc && rd.ServiceSubset == subset {
			c.fail(entryErr(KindResolver, svc, "Redirect", "redirects to itself"))
			return Target{}, false
		}
		return c.resolve(to, rd.ServiceSubset, depth+1, KindResolver, svc, "Redirect")
	}
	if subset == "" {
		subset = r.DefaultSubset
	}
	t := Target{Service: svc, Subset: subset}
	if why := c.checkTarget(t); why != "" {
		c.fail(entryErr(kind, entry, field, "%s", why))
		return Target{}, false
	}
	return t, true
}
