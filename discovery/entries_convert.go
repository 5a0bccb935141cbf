package discovery

import (
	"math"
	"time"

	"github.com/hashicorp/consul/api"
)

// configEntriesFrom converts one answer of /v1/config/<kind> into plain
// entries keyed by name. Values are kept as Consul stores them, because the
// translation is what validates them; entries of other kinds, and nil ones,
// are ignored. Nothing of the answer is aliased, so the result can be shared
// by models while the api values are dropped. A kind without entries has a
// nil map, so that equal answers compare equal.
func configEntriesFrom(list []api.ConfigEntry) ConfigEntries {
	var out ConfigEntries
	for _, e := range list {
		switch e := e.(type) {
		case *api.ServiceConfigEntry:
			if e != nil {
				out.Defaults = put(out.Defaults, e.Name, serviceDefaultsFrom(e))
			}
		case *api.ServiceResolverConfigEntry:
			if e != nil {
				out.Resolvers = put(out.Resolvers, e.Name, serviceResolverFrom(e))
			}
		case *api.ServiceSplitterConfigEntry:
			if e != nil {
				out.Splitters = put(out.Splitters, e.Name, serviceSplitterFrom(e))
			}
		case *api.ServiceRouterConfigEntry:
			if e != nil {
				out.Routers = put(out.Routers, e.Name, serviceRouterFrom(e))
			}
		}
	}
	return out
}

// put sets m[name] to v, making m first if it is nil, and returns m.
func put[V any](m map[string]V, name string, v V) map[string]V {
	if m == nil {
		m = make(map[string]V)
	}
	m[name] = v
	return m
}

// serviceDefaultsFrom converts a service-defaults entry.
func serviceDefaultsFrom(e *api.ServiceConfigEntry) ServiceDefaults {
	d := ServiceDefaults{Name: e.Name, Protocol: e.Protocol, Meta: cloneMap(e.Meta)}
	if e.UpstreamConfig != nil && e.UpstreamConfig.Defaults != nil {
		d.Upstream = upstreamDefaultsFrom(e.UpstreamConfig.Defaults)
	}
	return d
}

// upstreamDefaultsFrom converts UpstreamConfig.Defaults.
func upstreamDefaultsFrom(u *api.UpstreamConfig) UpstreamDefaults {
	out := UpstreamDefaults{
		ConnectTimeout:     time.Duration(u.ConnectTimeoutMs) * time.Millisecond,
		PassiveHealthCheck: passiveHealthCheckFrom(u.PassiveHealthCheck),
	}
	if u.Limits != nil {
		out.MaxConnections = clonePtr(u.Limits.MaxConnections)
		out.MaxPendingRequests = clonePtr(u.Limits.MaxPendingRequests)
		out.MaxConcurrentRequests = clonePtr(u.Limits.MaxConcurrentRequests)
	}
	return out
}

// passiveHealthCheckFrom converts outlier detection settings; nil stays nil.
func passiveHealthCheckFrom(p *api.PassiveHealthCheck) *PassiveHealthCheck {
	if p == nil {
		return nil
	}
	return &PassiveHealthCheck{
		Interval:                p.Interval,
		MaxFailures:             p.MaxFailures,
		EnforcingConsecutive5xx: clonePtr(p.EnforcingConsecutive5xx),
		MaxEjectionPercent:      clonePtr(p.MaxEjectionPercent),
		BaseEjectionTime:        clonePtr(p.BaseEjectionTime),
	}
}

// serviceResolverFrom converts a service-resolver entry.
func serviceResolverFrom(e *api.ServiceResolverConfigEntry) ServiceResolver {
	return ServiceResolver{
		Name:           e.Name,
		DefaultSubset:  e.DefaultSubset,
		Subsets:        convertMap(e.Subsets, subsetFrom),
		Redirect:       redirectFrom(e.Redirect),
		Failover:       convertMap(e.Failover, failoverFrom),
		ConnectTimeout: e.ConnectTimeout,
		RequestTimeout: e.RequestTimeout,
		LoadBalancer:   loadBalancerFrom(e.LoadBalancer),
	}
}

// subsetFrom converts one resolver subset.
func subsetFrom(s api.ServiceResolverSubset) ResolverSubset {
	return ResolverSubset{Filter: s.Filter, OnlyPassing: s.OnlyPassing}
}

// redirectFrom converts a resolver redirect; nil stays nil.
func redirectFrom(r *api.ServiceResolverRedirect) *ResolverRedirect {
	if r == nil {
		return nil
	}
	return &ResolverRedirect{
		Service: r.Service, ServiceSubset: r.ServiceSubset,
		Datacenter: r.Datacenter, Namespace: r.Namespace, Partition: r.Partition, Peer: r.Peer,
	}
}

// failoverFrom converts one resolver failover.
func failoverFrom(f api.ServiceResolverFailover) ResolverFailover {
	return ResolverFailover{
		Service:       f.Service,
		ServiceSubset: f.ServiceSubset,
		Datacenters:   cloneSlice(f.Datacenters),
		Targets:       convertSlice(f.Targets, failoverTargetFrom),
	}
}

// failoverTargetFrom converts one failover target.
func failoverTargetFrom(t api.ServiceResolverFailoverTarget) FailoverTarget {
	return FailoverTarget{
		Service: t.Service, ServiceSubset: t.ServiceSubset,
		Datacenter: t.Datacenter, Namespace: t.Namespace, Partition: t.Partition, Peer: t.Peer,
	}
}

// loadBalancerFrom converts a resolver's load balancer; nil stays nil.
func loadBalancerFrom(lb *api.LoadBalancer) *LoadBalancer {
	if lb == nil {
		return nil
	}
	out := &LoadBalancer{Policy: lb.Policy, HashPolicies: convertSlice(lb.HashPolicies, hashPolicyFrom)}
	if lb.LeastRequestConfig != nil {
		out.LeastRequestChoiceCount = lb.LeastRequestConfig.ChoiceCount
	}
	if lb.RingHashConfig != nil {
		out.RingHashMinimumRingSize = lb.RingHashConfig.MinimumRingSize
		out.RingHashMaximumRingSize = lb.RingHashConfig.MaximumRingSize
	}
	return out
}

// hashPolicyFrom converts one hash policy.
func hashPolicyFrom(p api.HashPolicy) HashPolicy {
	out := HashPolicy{Field: p.Field, FieldValue: p.FieldValue, SourceIP: p.SourceIP, Terminal: p.Terminal}
	if p.CookieConfig != nil {
		out.CookieSession = p.CookieConfig.Session
		out.CookieTTL = p.CookieConfig.TTL
		out.CookiePath = p.CookieConfig.Path
	}
	return out
}

// serviceSplitterFrom converts a service-splitter entry.
func serviceSplitterFrom(e *api.ServiceSplitterConfigEntry) ServiceSplitter {
	return ServiceSplitter{Name: e.Name, Splits: convertSlice(e.Splits, splitFrom)}
}

// splitFrom converts one split. Consul's weight is a float32 percentage
// with two decimals; rounding its hundredths undoes the float32 error, so
// 33.33 becomes 3333 and not 3332.
func splitFrom(s api.ServiceSplit) Split {
	return Split{
		Weight:  int(math.Round(float64(s.Weight) * 100)),
		Service: s.Service, ServiceSubset: s.ServiceSubset,
		Namespace: s.Namespace, Partition: s.Partition,
		RequestHeaders:  headerModifiersFrom(s.RequestHeaders),
		ResponseHeaders: headerModifiersFrom(s.ResponseHeaders),
	}
}

// headerModifiersFrom converts header modifiers, nil staying nil.
func headerModifiersFrom(m *api.HTTPHeaderModifiers) *HeaderModifiers {
	if m == nil || len(m.Add) == 0 && len(m.Set) == 0 && len(m.Remove) == 0 {
		return nil
	}
	return &HeaderModifiers{Add: cloneMap(m.Add), Set: cloneMap(m.Set), Remove: cloneSlice(m.Remove)}
}

// serviceRouterFrom converts a service-router entry.
func serviceRouterFrom(e *api.ServiceRouterConfigEntry) ServiceRouter {
	return ServiceRouter{Name: e.Name, Routes: convertSlice(e.Routes, routeFrom)}
}

// routeFrom converts one route; a missing match or destination is the zero
// value, which matches everything and routes to the router's own service.
func routeFrom(r api.ServiceRoute) Route {
	var out Route
	if r.Match != nil && r.Match.HTTP != nil {
		out.Match = httpMatchFrom(r.Match.HTTP)
	}
	if r.Destination != nil {
		out.Destination = destinationFrom(r.Destination)
	}
	return out
}

// httpMatchFrom converts a route's HTTP match.
func httpMatchFrom(m *api.ServiceRouteHTTPMatch) HTTPMatch {
	return HTTPMatch{
		PathExact:       m.PathExact,
		PathPrefix:      m.PathPrefix,
		PathRegex:       m.PathRegex,
		CaseInsensitive: m.CaseInsensitive,
		Header:          convertSlice(m.Header, headerMatchFrom),
		QueryParam:      convertSlice(m.QueryParam, queryParamMatchFrom),
		Methods:         cloneSlice(m.Methods),
	}
}

// headerMatchFrom converts one header match.
func headerMatchFrom(h api.ServiceRouteHTTPMatchHeader) HeaderMatch {
	return HeaderMatch{
		Name: h.Name, Present: h.Present,
		Exact: h.Exact, Prefix: h.Prefix, Suffix: h.Suffix, Regex: h.Regex,
		Invert: h.Invert,
	}
}

// queryParamMatchFrom converts one query parameter match.
func queryParamMatchFrom(q api.ServiceRouteHTTPMatchQueryParam) QueryParamMatch {
	return QueryParamMatch{Name: q.Name, Present: q.Present, Exact: q.Exact, Regex: q.Regex}
}

// destinationFrom converts a route's destination.
func destinationFrom(d *api.ServiceRouteDestination) RouteDestination {
	return RouteDestination{
		Service:               d.Service,
		ServiceSubset:         d.ServiceSubset,
		Namespace:             d.Namespace,
		Partition:             d.Partition,
		PrefixRewrite:         d.PrefixRewrite,
		RequestTimeout:        d.RequestTimeout,
		IdleTimeout:           d.IdleTimeout,
		RequestHeaders:        headerModifiersFrom(d.RequestHeaders),
		ResponseHeaders:       headerModifiersFrom(d.ResponseHeaders),
		NumRetries:            d.NumRetries,
		RetryOnConnectFailure: d.RetryOnConnectFailure,
		RetryOnStatusCodes:    cloneSlice(d.RetryOnStatusCodes),
		RetryOn:               cloneSlice(d.RetryOn),
	}
}

// convertSlice converts each element of s with f, returning nil for an
// empty s so that equal contents compare equal.
func convertSlice[A, B any](s []A, f func(A) B) []B {
	if len(s) == 0 {
		return nil
	}
	out := make([]B, len(s))
	for i, v := range s {
		out[i] = f(v)
	}
	return out
}

// convertMap converts each value of m with f, returning nil for an empty m
// so that equal contents compare equal.
func convertMap[A, B any](m map[string]A, f func(A) B) map[string]B {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]B, len(m))
	for k, v := range m {
		out[k] = f(v)
	}
	return out
}

// clonePtr returns a pointer to a copy of *p, nil for nil.
func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}
