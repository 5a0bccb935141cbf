// Package chain compiles Consul's L7 config entries (service-defaults,
// service-resolver, service-splitter, service-router) into one plain
// routing plan per service: the clusters the service owns, and its routes
// in order, each a weighted list of targets. It follows Consul's own
// discovery-chain rules (a split or route to another service goes through
// that service's splitter, then its resolver; redirects are followed; the
// default subset applies when none is named) without importing Consul or
// go-control-plane, so that the snapshot package can turn a plan into the
// resources of any flavour.
package chain

import (
	"time"

	"github.com/switchyard/switchyard/discovery"
)

// Target is what one cluster serves: a service, or one subset of it.
type Target struct {
	Service string
	// Subset is empty for the whole service.
	Subset string
}

// String returns "service" or "service/subset", as errors name targets.
func (t Target) String() string {
	if t.Subset == "" {
		return t.Service
	}
	return t.Service + "/" + t.Subset
}

// Cluster is the compiled settings of the cluster of one target, taken
// from the target service's own resolver and service-defaults.
type Cluster struct {
	Target Target
	// Filter selects the subset's instances; nil selects every instance.
	Filter *Filter
	// OnlyPassing leaves out instances whose checks warn.
	OnlyPassing    bool
	ConnectTimeout time.Duration
	// LoadBalancer is the resolver's policy; the zero value is round robin.
	LoadBalancer discovery.LoadBalancer
	// Upstream holds the circuit breakers and outlier detection of the
	// service's service-defaults.
	Upstream discovery.UpstreamDefaults
	// Failover lists, in order, where requests go when the target has no
	// healthy instance; empty when there is no failover.
	Failover []Target
}

// Route is one compiled route: requests that match go to Splits, which
// carry weights in hundredths of a percent.
type Route struct {
	// Match is nil for the default route, which matches everything.
	Match  *discovery.HTTPMatch
	Splits []WeightedTarget
	// PrefixRewrite, RequestTimeout and the retry fields come from the
	// router's destination; RequestTimeout falls back to the resolver's.
	PrefixRewrite         string
	RequestTimeout        time.Duration
	IdleTimeout           time.Duration
	NumRetries            uint32
	RetryOnConnectFailure bool
	RetryOnStatusCodes    []uint32
	RetryOn               []string
	// HashPolicies are the hash policies of the resolver of the route's
	// first target, for hashing load balancers.
	HashPolicies []discovery.HashPolicy
	// RequestHeaders and ResponseHeaders are the router destination's
	// header changes; nil changes nothing.
	RequestHeaders, ResponseHeaders *discovery.HeaderModifiers
}

// WeightedTarget is one share of a route.
type WeightedTarget struct {
	Target Target
	// Weight is in hundredths of a percent; a route's weights sum to
	// 10000, give or take rounding in nested splits.
	Weight int
	// Failover is set when the target's resolver gives it failover
	// targets, so the route goes through its failover cluster.
	Failover bool
	// RequestHeaders and ResponseHeaders are the split's header changes
	// (of the splitter that gave the share; nil for none).
	RequestHeaders, ResponseHeaders *discovery.HeaderModifiers
}

// Plan is the compiled routing of one service.
type Plan struct {
	Service string
	// Protocol is the service-defaults protocol, empty when undeclared.
	Protocol string
	// Clusters are the clusters the service owns: the whole service
	// first, then each resolver subset in name order.
	Clusters []Cluster
	// Routes are the router's routes in declared order, then the default
	// route, which is always last.
	Routes []Route
	// Configured is set when any config entry applies to the service; a
	// plan without one routes everything to the whole service.
	Configured bool
	// Warm lists shares (their weights unused) of other services' targets
	// that gRPC clients should build without sending them traffic yet,
	// because the next plan of the service routes to them (see Routed).
	Warm []WeightedTarget
}

// Routed returns the shares of a plan's routes, each target once, in
// route order.
func (p *Plan) Routed() []WeightedTarget {
	var out []WeightedTarget
	seen := map[Target]bool{}
	for _, r := range p.Routes {
		for _, s := range r.Splits {
			if !seen[s.Target] {
				seen[s.Target] = true
				out = append(out, s)
			}
		}
	}
	return out
}

// Cluster returns the plan's cluster of a target, and false if the plan
// does not own it.
func (p *Plan) Cluster(t Target) (Cluster, bool) {
	for _, c := range p.Clusters {
		if c.Target == t {
			return c, true
		}
	}
	return Cluster{}, false
}

// The views name the discovery types validation reads, to keep its
// signatures short.
type (
	resolverView   = discovery.ServiceResolver
	hashPolicyView = discovery.HashPolicy
	splitterView   = discovery.ServiceSplitter
	matchView      = discovery.HTTPMatch
	headerView     = discovery.HeaderMatch
)
