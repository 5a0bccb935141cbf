package snapshot

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"

	"github.com/switchyard/switchyard/discovery"
	"github.com/switchyard/switchyard/envoy"
	"github.com/switchyard/switchyard/snapshot/chain"
)

// addPlanUpstreams appends the clusters and endpoint assignments a
// service owns under its plan: one per target (the whole service, then
// each subset), and an aggregate failover cluster per target that has
// failover targets. It returns what the flavour cannot express, each
// mapped to the nearest thing it can or left out.
func addPlanUpstreams(res *Resources, svc discovery.Service, p *chain.Plan, opts Options) []string {
	if !configured(p) {
		addUpstream(res, svc, opts)
		return nil
	}
	var notes []string
	for _, c := range p.Clusters {
		name := SubsetClusterName(c.Target.Service, c.Target.Subset)
		instances, err := selectInstances(svc, c)
		if err != nil {
			notes = append(notes, fmt.Sprintf("cluster %q: %v; instances it fails on get no traffic", name, err))
		}
		copts, n := clusterOptions(name, c, p.Protocol, opts.Flavour)
		notes = append(notes, n...)
		addCluster(res, copts, instances, opts)
		if len(c.Failover) > 0 {
			members := []string{name}
			for _, t := range c.Failover {
				members = append(members, SubsetClusterName(t.Service, t.Subset))
			}
			res.Clusters = append(res.Clusters, envoy.AggregateCluster(FailoverClusterName(c.Target.Service, c.Target.Subset), members))
		}
	}
	return notes
}

// selectInstances returns the instances of a service a cluster serves:
// those its subset filter selects, only passing ones if it says so.
func selectInstances(svc discovery.Service, c chain.Cluster) ([]discovery.Instance, error) {
	if c.Filter == nil && !c.OnlyPassing {
		return svc.Instances, nil
	}
	var out []discovery.Instance
	var firstErr error
	for i := range svc.Instances {
		in := &svc.Instances[i]
		if c.OnlyPassing && in.Health != discovery.HealthPassing {
			continue
		}
		ok, err := c.Filter.Match(svc.Name, svc.Datacenter, in)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		if ok {
			out = append(out, *in)
		}
	}
	return out, firstErr
}

// clusterOptions maps a compiled cluster's settings to the envoy package's
// options for a flavour, with a note for each setting the flavour cannot
// take.
func clusterOptions(name string, c chain.Cluster, protocol string, flavour Flavour) (envoy.ClusterOptions, []string) {
	opts := envoy.ClusterOptions{Name: name, ConnectTimeout: c.ConnectTimeout}
	var notes []string
	note := func(format string, args ...any) {
		notes = append(notes, fmt.Sprintf("cluster %q: gRPC clients: ", name)+fmt.Sprintf(format, args...))
	}
	if flavour == FlavourEnvoy {
		opts.Protocol = upstreamProtocol(protocol)
	}
	lb := c.LoadBalancer
	opts.LB = envoy.LoadBalancing{ChoiceCount: lb.LeastRequestChoiceCount, MinRingSize: lb.RingHashMinimumRingSize, MaxRingSize: lb.RingHashMaximumRingSize}
	switch lb.Policy {
	case "least_request":
		opts.LB.Policy = envoy.LBLeastRequest
	case "ring_hash":
		opts.LB.Policy = envoy.LBRingHash
	case "maglev":
		opts.LB.Policy = envoy.LBMaglev
		if flavour == FlavourGRPC {
			opts.LB.Policy = envoy.LBRingHash
			note("LoadBalancer.Policy maglev is served as ring_hash")
		}
	case "random":
		opts.LB.Policy = envoy.LBRandom
		if flavour == FlavourGRPC {
			opts.LB.Policy = envoy.LBRoundRobin
			note("LoadBalancer.Policy random is served as round_robin")
		}
	}
	up := c.Upstream
	if up.MaxConnections != nil || up.MaxPendingRequests != nil || up.MaxConcurrentRequests != nil {
		cb := &envoy.CircuitBreakers{MaxRequests: uint32Ptr(up.MaxConcurrentRequests)}
		if flavour == FlavourEnvoy {
			cb.MaxConnections, cb.MaxPendingRequests = uint32Ptr(up.MaxConnections), uint32Ptr(up.MaxPendingRequests)
		} else if up.MaxConnections != nil || up.MaxPendingRequests != nil {
			note("Limits.MaxConnections and Limits.MaxPendingRequests are left out (only MaxConcurrentRequests applies)")
		}
		if cb.MaxConnections != nil || cb.MaxPendingRequests != nil || cb.MaxRequests != nil {
			opts.CircuitBreakers = cb
		}
	}
	if ph := up.PassiveHealthCheck; ph != nil {
		if flavour == FlavourEnvoy {
			od := &envoy.OutlierDetection{Interval: ph.Interval, Consecutive5xx: ph.MaxFailures,
				EnforcingConsecutive5xx: ph.EnforcingConsecutive5xx, MaxEjectionPercent: ph.MaxEjectionPercent}
			if ph.BaseEjectionTime != nil {
				od.BaseEjectionTime = *ph.BaseEjectionTime
			}
			opts.OutlierDetection = od
		} else {
			note("PassiveHealthCheck is left out (gRPC clients ignore consecutive-5xx outlier detection)")
		}
	}
	return opts, notes
}

// uint32Ptr converts an optional non-negative int.
func uint32Ptr(v *int) *uint32 {
	if v == nil {
		return nil
	}
	u := uint32(max(*v, 0))
	return &u
}

// upstreamProtocol is the protocol Envoy speaks to a service's hosts:
// HTTP/2 for http2 and grpc, HTTP/1.1 for http, else what the client spoke.
func upstreamProtocol(protocol string) envoy.UpstreamProtocol {
	switch protocol {
	case "http2", "grpc":
		return envoy.UpstreamHTTP2
	case "http":
		return envoy.UpstreamHTTP1
	default:
		return envoy.UpstreamDownstream
	}
}

// planRoutes translates a configured plan's routes for a flavour, with a
// note for each setting the flavour cannot take.
func planRoutes(p *chain.Plan, flavour Flavour) ([]*routev3.Route, []string) {
	var notes []string
	specs := make([]envoy.RouteSpec, 0, len(p.Routes))
	for i, r := range p.Routes {
		match := routeMatch(r.Match)
		action, n := routeAction(r, flavour)
		keep := true
		if flavour == FlavourGRPC {
			var mn []string
			match, keep, mn = grpcMatch(match)
			n = append(mn, n...)
		}
		for _, s := range n {
			notes = append(notes, fmt.Sprintf("route %d: gRPC clients: %s", i, s))
		}
		if keep {
			spec := envoy.RouteSpec{Match: match, Action: action}
			if flavour == FlavourEnvoy {
				spec.RequestHeaders, spec.ResponseHeaders = headerModifiers(r.RequestHeaders), headerModifiers(r.ResponseHeaders)
			}
			specs = append(specs, spec)
		}
	}
	if flavour == FlavourGRPC {
		if warm, ok := warmRoute(p); ok {
			specs = append(specs, warm)
		}
	}
	return envoy.Routes(specs), notes
}

// warmRoute returns, for gRPC clients, a route that matches nothing and
// references every cluster the service owns, and every target the plan
// warms, that no other route sends to. A gRPC client only builds the clusters its routes reference, and a
// route that starts sending to one it has not built fails RPCs picked for
// it until it has ("unknown cluster selected for RPC"); with every subset
// always referenced, shifting weights between them never meets a cluster
// the client does not have yet.
func warmRoute(p *chain.Plan) (envoy.RouteSpec, bool) {
	used := map[string]bool{}
	for _, r := range p.Routes {
		for _, s := range r.Splits {
			used[splitClusterName(s)] = true
		}
	}
	var names []string
	for _, c := range p.Clusters {
		names = append(names, SubsetClusterName(c.Target.Service, c.Target.Subset))
		if len(c.Failover) > 0 {
			names = append(names, FailoverClusterName(c.Target.Service, c.Target.Subset))
		}
	}
	for _, s := range p.Warm {
		names = append(names, splitClusterName(s))
	}
	var clusters []envoy.WeightedCluster
	for _, n := range names {
		if !used[n] {
			used[n] = true
			clusters = append(clusters, envoy.WeightedCluster{Name: n, Weight: 1})
		}
	}
	if len(clusters) == 0 {
		return envoy.RouteSpec{}, false
	}
	return envoy.RouteSpec{Match: envoy.RouteMatch{NeverMatches: true}, Action: envoy.RouteAction{Clusters: clusters}}, true
}

// splitClusterName is the cluster a route's share goes to: the target's,
// or its failover cluster when it has one.
func splitClusterName(s chain.WeightedTarget) string {
	if s.Failover {
		return FailoverClusterName(s.Target.Service, s.Target.Subset)
	}
	return SubsetClusterName(s.Target.Service, s.Target.Subset)
}

// routeMatch translates a router match; nil matches everything.
func routeMatch(m *discovery.HTTPMatch) envoy.RouteMatch {
	if m == nil {
		return envoy.RouteMatch{}
	}
	out := envoy.RouteMatch{PathExact: m.PathExact, PathPrefix: m.PathPrefix, PathRegex: m.PathRegex, Methods: slices.Clone(m.Methods),
		CaseInsensitive: m.CaseInsensitive}
	for _, h := range m.Header {
		out.Headers = append(out.Headers, envoy.HeaderMatch{Name: h.Name, Present: h.Present || h.Exact == "" && h.Prefix == "" && h.Suffix == "" && h.Regex == "",
			Exact: h.Exact, Prefix: h.Prefix, Suffix: h.Suffix, Regex: h.Regex, Invert: h.Invert})
	}
	for _, q := range m.QueryParam {
		out.QueryParams = append(out.QueryParams, envoy.QueryParamMatch{Name: q.Name, Present: q.Present || q.Exact == "" && q.Regex == "", Exact: q.Exact, Regex: q.Regex})
	}
	return out
}

// grpcMatch adapts a match to gRPC clients, which do not see the :method
// pseudo-header (every call is a POST) and skip routes that match query
// parameters. It reports whether the route can match a gRPC call at all.
func grpcMatch(m envoy.RouteMatch) (envoy.RouteMatch, bool, []string) {
	var notes []string
	if len(m.Methods) > 0 {
		if !slices.Contains(m.Methods, "POST") {
			return m, false, []string{"left out: its Methods never match a gRPC call (always POST)"}
		}
		m.Methods = nil
		notes = append(notes, "Methods match every gRPC call (always POST)")
	}
	if len(m.QueryParams) > 0 {
		notes = append(notes, "QueryParam matches are not supported; gRPC clients skip the route")
	}
	return m, true, notes
}

// grpcRetryOn are the retry conditions gRPC clients accept.
func grpcRetryOn(cond string) bool {
	switch cond {
	case "cancelled", "deadline-exceeded", "internal", "resource-exhausted", "unavailable":
		return true
	}
	return false
}

// routeAction translates where a route sends requests and how.
func routeAction(r chain.Route, flavour Flavour) (envoy.RouteAction, []string) {
	var notes []string
	a := envoy.RouteAction{PrefixRewrite: r.PrefixRewrite}
	splitHeaders := false
	for _, s := range r.Splits {
		wc := envoy.WeightedCluster{Name: splitClusterName(s), Weight: uint32(s.Weight)}
		if flavour == FlavourEnvoy {
			wc.RequestHeaders, wc.ResponseHeaders = headerModifiers(s.RequestHeaders), headerModifiers(s.ResponseHeaders)
		}
		splitHeaders = splitHeaders || s.RequestHeaders != nil || s.ResponseHeaders != nil
		a.Clusters = append(a.Clusters, wc)
	}
	if flavour == FlavourEnvoy {
		a.IdleTimeout = r.IdleTimeout
		a.Timeout = r.RequestTimeout
		a.Retry = envoyRetry(r)
		a.HashPolicies = hashPolicies(r.HashPolicies, flavour, &notes)
		return a, notes
	}
	a.MaxStreamDuration = r.RequestTimeout
	if r.IdleTimeout != 0 {
		notes = append(notes, "IdleTimeout is left out")
	}
	if splitHeaders || r.RequestHeaders != nil || r.ResponseHeaders != nil {
		notes = append(notes, "header modifiers (RequestHeaders, ResponseHeaders) are left out")
	}
	if r.PrefixRewrite != "" {
		a.PrefixRewrite = ""
		notes = append(notes, "PrefixRewrite is left out")
	}
	a.Retry = grpcRetry(r, &notes)
	a.HashPolicies = hashPolicies(r.HashPolicies, flavour, &notes)
	return a, notes
}

// envoyRetry is Consul's retry mapping for Envoy: the conditions named,
// connect-failure, and retriable-status-codes with the codes.
func envoyRetry(r chain.Route) *envoy.RetryPolicy {
	on := slices.Clone(r.RetryOn)
	if r.RetryOnConnectFailure {
		on = append(on, "connect-failure")
	}
	if len(r.RetryOnStatusCodes) > 0 {
		on = append(on, "retriable-status-codes")
	}
	if len(on) == 0 && r.NumRetries == 0 {
		return nil
	}
	return &envoy.RetryPolicy{NumRetries: r.NumRetries, RetryOn: on, RetriableStatusCodes: slices.Clone(r.RetryOnStatusCodes)}
}

// grpcRetry keeps the retry conditions gRPC clients understand; a connect
// failure is what gRPC calls unavailable.
func grpcRetry(r chain.Route, notes *[]string) *envoy.RetryPolicy {
	var on, dropped []string
	for _, c := range r.RetryOn {
		if grpcRetryOn(c) {
			on = append(on, c)
		} else {
			dropped = append(dropped, c)
		}
	}
	if r.RetryOnConnectFailure && !slices.Contains(on, "unavailable") {
		on = append(on, "unavailable")
		*notes = append(*notes, "RetryOnConnectFailure is served as retry on unavailable")
	}
	if len(dropped) > 0 {
		*notes = append(*notes, "RetryOn "+strings.Join(dropped, ",")+" left out (not gRPC status names)")
	}
	if len(r.RetryOnStatusCodes) > 0 {
		*notes = append(*notes, "RetryOnStatusCodes left out (HTTP status retries do not apply)")
	}
	if len(on) == 0 {
		return nil
	}
	return &envoy.RetryPolicy{NumRetries: max(r.NumRetries, 1), RetryOn: on}
}

// hashPolicies translates a resolver's hash policies; gRPC clients hash on
// headers only, so they get those alone.
func hashPolicies(in []discovery.HashPolicy, flavour Flavour, notes *[]string) []envoy.HashPolicy {
	var out []envoy.HashPolicy
	for _, h := range in {
		p := envoy.HashPolicy{Terminal: h.Terminal}
		switch {
		case h.SourceIP:
			p.SourceIP = true
		case h.Field == "header":
			p.Header = h.FieldValue
		case h.Field == "cookie":
			p.Cookie = &envoy.CookieHash{Name: h.FieldValue, TTL: h.CookieTTL, Path: h.CookiePath}
			if h.CookieSession {
				p.Cookie.TTL = 0
			}
		case h.Field == "query_parameter":
			p.QueryParameter = h.FieldValue
		}
		if flavour == FlavourGRPC && p.Header == "" {
			*notes = append(*notes, fmt.Sprintf("hash policy on %s left out (only headers apply)", hashInput(h)))
			continue
		}
		out = append(out, p)
	}
	return out
}

// hashInput names what a hash policy hashes, for notes.
func hashInput(h discovery.HashPolicy) string {
	if h.SourceIP {
		return "source IP"
	}
	return h.Field + " " + h.FieldValue
}

// addTCPListener appends, for a service whose protocol is tcp, the Envoy
// TCP proxy listener on the port its service meta names, sending every
// connection to where its default route goes (its one target: a splitter
// or router needs an HTTP protocol). It notes a missing or unusable port.
// A fleet gets the listeners of its profile only.
func addTCPListener(res *Resources, svc discovery.Service, p *chain.Plan, opts Options) []string {
	if !configured(p) || p.Protocol != "tcp" || opts.Fleet != nil {
		return nil
	}
	raw, ok := svc.Meta[TCPPortMetaKey]
	if !ok {
		return []string{fmt.Sprintf("protocol tcp: no TCP listener, the service meta has no %q", TCPPortMetaKey)}
	}
	port, err := strconv.ParseUint(raw, 10, 16)
	if err != nil || port == 0 || uint32(port) == opts.ListenerPort {
		return []string{fmt.Sprintf("protocol tcp: no TCP listener, service meta %s=%q is not a free port (1-65535, not the HTTP listener's %d)", TCPPortMetaKey, raw, opts.ListenerPort)}
	}
	def := p.Routes[len(p.Routes)-1]
	if len(def.Splits) == 0 {
		return nil
	}
	cluster := splitClusterName(def.Splits[0])
	address := opts.ListenerAddress
	if address == "" {
		address = "0.0.0.0"
	}
	name := TCPListenerName(svc.Name)
	res.Listeners = append(res.Listeners, envoy.TCPProxyListener(name, address, uint32(port), name, cluster))
	return nil
}

// headerModifiers converts Consul's header modifiers; nil changes nothing.
func headerModifiers(m *discovery.HeaderModifiers) envoy.HeaderModifiers {
	if m == nil {
		return envoy.HeaderModifiers{}
	}
	return envoy.HeaderModifiers{Add: m.Add, Set: m.Set, Remove: m.Remove}
}
