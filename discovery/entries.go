package discovery

import (
	"maps"
	"slices"
	"time"
)

// The L7 config entries are Consul's own (`consul config write`), copied
// into plain structs with the fields Switchyard applies. Their values are
// kept as Consul stores them, unvalidated: deciding what can be applied is
// the translation's job, which rejects an entry per service with an error
// naming the field.

// ConfigEntries are the service-defaults, service-resolver, service-splitter
// and service-router entries of one datacenter, each map keyed by the
// entry's name (the service it configures). A nil map holds no entry.
type ConfigEntries struct {
	Defaults  map[string]ServiceDefaults
	Resolvers map[string]ServiceResolver
	Splitters map[string]ServiceSplitter
	Routers   map[string]ServiceRouter
}

// Names returns every service name that has at least one entry, sorted.
func (c *ConfigEntries) Names() []string {
	if c == nil {
		return nil
	}
	seen := map[string]struct{}{}
	for n := range c.Defaults {
		seen[n] = struct{}{}
	}
	for n := range c.Resolvers {
		seen[n] = struct{}{}
	}
	for n := range c.Splitters {
		seen[n] = struct{}{}
	}
	for n := range c.Routers {
		seen[n] = struct{}{}
	}
	return slices.Sorted(maps.Keys(seen))
}

// ServiceDefaults is a service-defaults entry.
type ServiceDefaults struct {
	Name string
	// Protocol is "tcp", "http", "http2" or "grpc"; empty means Consul's
	// default (tcp), which Switchyard treats as "not declared".
	Protocol string
	// Upstream is UpstreamConfig.Defaults: how callers reach this service.
	Upstream UpstreamDefaults
	// Meta is the entry's meta.
	Meta map[string]string
}

// UpstreamDefaults is the part of UpstreamConfig.Defaults Switchyard
// applies to the clusters of a service. Zero means unset.
type UpstreamDefaults struct {
	ConnectTimeout time.Duration
	// Limits are circuit breakers; nil fields are unset.
	MaxConnections        *int
	MaxPendingRequests    *int
	MaxConcurrentRequests *int
	// PassiveHealthCheck is outlier detection; nil when unset.
	PassiveHealthCheck *PassiveHealthCheck
}

// PassiveHealthCheck is Consul's outlier detection setting.
type PassiveHealthCheck struct {
	Interval                time.Duration
	MaxFailures             uint32
	EnforcingConsecutive5xx *uint32
	MaxEjectionPercent      *uint32
	BaseEjectionTime        *time.Duration
}

// ServiceResolver is a service-resolver entry.
type ServiceResolver struct {
	Name          string
	DefaultSubset string
	// Subsets are keyed by subset name.
	Subsets map[string]ResolverSubset
	// Redirect is nil when unset.
	Redirect *ResolverRedirect
	// Failover is keyed by subset name, "*" for any subset.
	Failover       map[string]ResolverFailover
	ConnectTimeout time.Duration
	RequestTimeout time.Duration
	// LoadBalancer is nil when unset.
	LoadBalancer *LoadBalancer
}

// ResolverSubset is one named subset: the instances Filter (Consul's
// bexpr filter language) selects, only passing ones if OnlyPassing.
type ResolverSubset struct {
	Filter      string
	OnlyPassing bool
}

// ResolverRedirect sends every request for the service elsewhere.
// Datacenter, Namespace, Partition and Peer are kept so that a redirect
// Switchyard cannot follow is reported rather than silently ignored.
type ResolverRedirect struct {
	Service, ServiceSubset                 string
	Datacenter, Namespace, Partition, Peer string
}

// ResolverFailover lists where requests go when a subset has no healthy
// instance: Targets if set, else Service/ServiceSubset, in order.
type ResolverFailover struct {
	Service, ServiceSubset string
	Datacenters            []string
	Targets                []FailoverTarget
}

// FailoverTarget is one failover destination.
type FailoverTarget struct {
	Service, ServiceSubset                 string
	Datacenter, Namespace, Partition, Peer string
}

// LoadBalancer is a resolver's load-balancing policy.
type LoadBalancer struct {
	// Policy is "", "round_robin", "least_request", "ring_hash", "maglev"
	// or "random"; others are kept for the translation to reject.
	Policy string
	// LeastRequestChoiceCount is LeastRequestConfig.ChoiceCount; 0 if unset.
	LeastRequestChoiceCount uint32
	// RingHashMinimumRingSize and RingHashMaximumRingSize are
	// RingHashConfig's; 0 if unset.
	RingHashMinimumRingSize uint64
	RingHashMaximumRingSize uint64
	HashPolicies            []HashPolicy
}

// HashPolicy is one input to a hashing load balancer.
type HashPolicy struct {
	// Field is "header", "cookie" or "query_parameter" (empty with
	// SourceIP); FieldValue names the header, cookie or parameter.
	Field, FieldValue string
	// Cookie options, for Field "cookie".
	CookieSession bool
	CookieTTL     time.Duration
	CookiePath    string
	SourceIP      bool
	Terminal      bool
}

// ServiceSplitter is a service-splitter entry.
type ServiceSplitter struct {
	Name   string
	Splits []Split
}

// Split is one weighted share. Weight is Consul's percentage with two
// decimals kept, as hundredths of a percent: 33.33 % is 3333, and the
// weights of an entry sum to 10000.
type Split struct {
	Weight                 int
	Service, ServiceSubset string
	Namespace, Partition   string
	// RequestHeaders and ResponseHeaders change the headers of this
	// share's requests and responses; nil changes nothing.
	RequestHeaders, ResponseHeaders *HeaderModifiers
}

// HeaderModifiers are Consul's HTTPHeaderModifiers: headers to append,
// to set (replacing) and to remove.
type HeaderModifiers struct {
	Add, Set map[string]string
	Remove   []string
}

// ServiceRouter is a service-router entry.
type ServiceRouter struct {
	Name   string
	Routes []Route
}

// Route is one router rule: a match and where matching requests go.
type Route struct {
	Match       HTTPMatch
	Destination RouteDestination
}

// HTTPMatch is a route's Match.HTTP; the zero value matches everything.
type HTTPMatch struct {
	PathExact, PathPrefix, PathRegex string
	// CaseInsensitive matches the path without regard to case.
	CaseInsensitive bool
	Header          []HeaderMatch
	QueryParam      []QueryParamMatch
	Methods         []string
}

// HeaderMatch matches one request header; exactly one of Present, Exact,
// Prefix, Suffix and Regex is expected to be set.
type HeaderMatch struct {
	Name                         string
	Present                      bool
	Exact, Prefix, Suffix, Regex string
	Invert                       bool
}

// QueryParamMatch matches one query parameter.
type QueryParamMatch struct {
	Name         string
	Present      bool
	Exact, Regex string
}

// RouteDestination is where a route sends matching requests; an empty
// Service means the router's own service.
type RouteDestination struct {
	Service, ServiceSubset string
	Namespace, Partition   string
	PrefixRewrite          string
	RequestTimeout         time.Duration
	IdleTimeout            time.Duration
	NumRetries             uint32
	RetryOnConnectFailure  bool
	RetryOnStatusCodes     []uint32
	RetryOn                []string
	// RequestHeaders and ResponseHeaders change the headers of the
	// route's requests and responses; nil changes nothing.
	RequestHeaders, ResponseHeaders *HeaderModifiers
}
