package discovery

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/consul/api"
)

// ptr returns a pointer to v.
func ptr[T any](v T) *T {
	return &v
}

func TestConfigEntriesFrom(t *testing.T) {
	tests := []struct {
		name string
		list []api.ConfigEntry
		want ConfigEntries
	}{{
		name: "nothing",
	}, {
		name: "other kinds and nil entries are ignored",
		list: []api.ConfigEntry{
			&api.ProxyConfigEntry{Kind: api.ProxyDefaults, Name: api.ProxyConfigGlobal},
			&api.IngressGatewayConfigEntry{Kind: api.IngressGateway, Name: "in"},
			(*api.ServiceConfigEntry)(nil), (*api.ServiceResolverConfigEntry)(nil),
			(*api.ServiceSplitterConfigEntry)(nil), (*api.ServiceRouterConfigEntry)(nil), nil,
		},
	}, {
		name: "service-defaults, every field",
		list: []api.ConfigEntry{&api.ServiceConfigEntry{
			Kind: api.ServiceDefaults, Name: "web", Namespace: "team-a", Partition: "p1", Protocol: "http",
			Meta: map[string]string{"owner": "pay"},
			UpstreamConfig: &api.UpstreamConfiguration{Defaults: &api.UpstreamConfig{
				ConnectTimeoutMs: 1500,
				Limits:           &api.UpstreamLimits{MaxConnections: ptr(10), MaxPendingRequests: ptr(20), MaxConcurrentRequests: ptr(30)},
				PassiveHealthCheck: &api.PassiveHealthCheck{
					Interval: 10 * time.Second, MaxFailures: 5,
					EnforcingConsecutive5xx: ptr[uint32](80), MaxEjectionPercent: ptr[uint32](50),
					BaseEjectionTime: ptr(30 * time.Second),
				},
			}},
		}},
		want: ConfigEntries{Defaults: map[string]ServiceDefaults{"web": {
			Name: "web", Protocol: "http", Meta: map[string]string{"owner": "pay"},
			Upstream: UpstreamDefaults{
				ConnectTimeout: 1500 * time.Millisecond,
				MaxConnections: ptr(10), MaxPendingRequests: ptr(20), MaxConcurrentRequests: ptr(30),
				PassiveHealthCheck: &PassiveHealthCheck{
					Interval: 10 * time.Second, MaxFailures: 5,
					EnforcingConsecutive5xx: ptr[uint32](80), MaxEjectionPercent: ptr[uint32](50),
					BaseEjectionTime: ptr(30 * time.Second),
				},
			},
		}}},
	}, {
		name: "service-defaults, only a protocol; upstream config without defaults",
		list: []api.ConfigEntry{
			&api.ServiceConfigEntry{Kind: api.ServiceDefaults, Name: "a", Protocol: "grpc", Meta: map[string]string{}},
			&api.ServiceConfigEntry{Kind: api.ServiceDefaults, Name: "b",
				UpstreamConfig: &api.UpstreamConfiguration{Overrides: []*api.UpstreamConfig{{Name: "x", ConnectTimeoutMs: 1}}}},
			&api.ServiceConfigEntry{Kind: api.ServiceDefaults, Name: "c",
				UpstreamConfig: &api.UpstreamConfiguration{Defaults: &api.UpstreamConfig{Limits: &api.UpstreamLimits{}}}},
		},
		want: ConfigEntries{Defaults: map[string]ServiceDefaults{
			"a": {Name: "a", Protocol: "grpc"},
			"b": {Name: "b"},
			"c": {Name: "c"},
		}},
	}, {
		name: "service-resolver, every field",
		list: []api.ConfigEntry{&api.ServiceResolverConfigEntry{
			Kind: api.ServiceResolver, Name: "web", DefaultSubset: "v1",
			Subsets: map[string]api.ServiceResolverSubset{
				"v1": {Filter: "Service.Meta.version == v1"},
				"v2": {Filter: "Service.Meta.version == v2", OnlyPassing: true},
			},
			Redirect: &api.ServiceResolverRedirect{
				Service: "web2", ServiceSubset: "s", Datacenter: "dc2", Namespace: "ns", Partition: "pt", Peer: "peer", SamenessGroup: "sg",
			},
			Failover: map[string]api.ServiceResolverFailover{
				"*": {Service: "backup", ServiceSubset: "b1", Datacenters: []string{"dc2", "dc3"}},
				"v2": {Targets: []api.ServiceResolverFailoverTarget{
					{Service: "t", ServiceSubset: "ts", Datacenter: "dc4", Namespace: "tn", Partition: "tp", Peer: "tpeer"},
					{Service: "u"},
				}},
			},
			ConnectTimeout: 2 * time.Second,
			RequestTimeout: 15 * time.Second,
			LoadBalancer: &api.LoadBalancer{
				Policy:             "ring_hash",
				RingHashConfig:     &api.RingHashConfig{MinimumRingSize: 1024, MaximumRingSize: 8192},
				LeastRequestConfig: &api.LeastRequestConfig{ChoiceCount: 3},
				HashPolicies: []api.HashPolicy{
					{Field: "header", FieldValue: "x-user", Terminal: true},
					{Field: "cookie", FieldValue: "session", CookieConfig: &api.CookieConfig{Session: true, TTL: time.Minute, Path: "/app"}},
					{SourceIP: true},
				},
			},
		}},
		want: ConfigEntries{Resolvers: map[string]ServiceResolver{"web": {
			Name: "web", DefaultSubset: "v1",
			Subsets: map[string]ResolverSubset{
				"v1": {Filter: "Service.Meta.version == v1"},
				"v2": {Filter: "Service.Meta.version == v2", OnlyPassing: true},
			},
			Redirect: &ResolverRedirect{Service: "web2", ServiceSubset: "s", Datacenter: "dc2", Namespace: "ns", Partition: "pt", Peer: "peer"},
			Failover: map[string]ResolverFailover{
				"*": {Service: "backup", ServiceSubset: "b1", Datacenters: []string{"dc2", "dc3"}},
				"v2": {Targets: []FailoverTarget{
					{Service: "t", ServiceSubset: "ts", Datacenter: "dc4", Namespace: "tn", Partition: "tp", Peer: "tpeer"},
					{Service: "u"},
				}},
			},
			ConnectTimeout: 2 * time.Second,
			RequestTimeout: 15 * time.Second,
			LoadBalancer: &LoadBalancer{
				Policy:                  "ring_hash",
				LeastRequestChoiceCount: 3,
				RingHashMinimumRingSize: 1024, RingHashMaximumRingSize: 8192,
				HashPolicies: []HashPolicy{
					{Field: "header", FieldValue: "x-user", Terminal: true},
					{Field: "cookie", FieldValue: "session", CookieSession: true, CookieTTL: time.Minute, CookiePath: "/app"},
					{SourceIP: true},
				},
			},
		}}},
	}, {
		name: "service-resolver, empty collections become nil",
		list: []api.ConfigEntry{&api.ServiceResolverConfigEntry{
			Kind: api.ServiceResolver, Name: "web",
			Subsets:      map[string]api.ServiceResolverSubset{},
			Failover:     map[string]api.ServiceResolverFailover{"*": {Datacenters: []string{}, Targets: []api.ServiceResolverFailoverTarget{}}},
			LoadBalancer: &api.LoadBalancer{Policy: "random", HashPolicies: []api.HashPolicy{}},
		}},
		want: ConfigEntries{Resolvers: map[string]ServiceResolver{"web": {
			Name: "web", Failover: map[string]ResolverFailover{"*": {}}, LoadBalancer: &LoadBalancer{Policy: "random"},
		}}},
	}, {
		name: "service-splitter, weights in hundredths of a percent",
		list: []api.ConfigEntry{&api.ServiceSplitterConfigEntry{
			Kind: api.ServiceSplitter, Name: "web",
			Splits: []api.ServiceSplit{
				{Weight: 33.33, Service: "web", ServiceSubset: "v1"},
				{Weight: 33.33, ServiceSubset: "v2", Namespace: "ns", Partition: "pt"},
				{Weight: 33.34, Service: "other", RequestHeaders: &api.HTTPHeaderModifiers{Set: map[string]string{"x": "y"}}},
				{Weight: 0.01},
				{Weight: 0},
				{Weight: 100},
				{Weight: 12.5},
			},
		}},
		want: ConfigEntries{Splitters: map[string]ServiceSplitter{"web": {
			Name: "web",
			Splits: []Split{
				{Weight: 3333, Service: "web", ServiceSubset: "v1"},
				{Weight: 3333, ServiceSubset: "v2", Namespace: "ns", Partition: "pt"},
				{Weight: 3334, Service: "other", RequestHeaders: &HeaderModifiers{Set: map[string]string{"x": "y"}}},
				{Weight: 1},
				{Weight: 0},
				{Weight: 10000},
				{Weight: 1250},
			},
		}}},
	}, {
		name: "service-router, every field",
		list: []api.ConfigEntry{&api.ServiceRouterConfigEntry{
			Kind: api.ServiceRouter, Name: "web",
			Routes: []api.ServiceRoute{{
				Match: &api.ServiceRouteMatch{HTTP: &api.ServiceRouteHTTPMatch{
					PathExact: "/exact", PathPrefix: "/prefix", PathRegex: "/re.*", CaseInsensitive: true,
					Header: []api.ServiceRouteHTTPMatchHeader{
						{Name: "x-present", Present: true},
						{Name: "x-exact", Exact: "e", Invert: true},
						{Name: "x-affix", Prefix: "p", Suffix: "s"},
						{Name: "x-regex", Regex: "r+"},
					},
					QueryParam: []api.ServiceRouteHTTPMatchQueryParam{
						{Name: "debug", Present: true},
						{Name: "v", Exact: "2"},
						{Name: "id", Regex: "[0-9]+"},
					},
					Methods: []string{"GET", "PUT"},
				}},
				Destination: &api.ServiceRouteDestination{
					Service: "api", ServiceSubset: "v2", Namespace: "ns", Partition: "pt",
					PrefixRewrite: "/", RequestTimeout: 3 * time.Second, IdleTimeout: 9 * time.Second, NumRetries: 4,
					RetryOnConnectFailure: true, RetryOnStatusCodes: []uint32{503, 504}, RetryOn: []string{"reset", "5xx"},
					RequestHeaders:  &api.HTTPHeaderModifiers{Add: map[string]string{"x-a": "1"}, Remove: []string{"x-r"}},
					ResponseHeaders: &api.HTTPHeaderModifiers{Set: map[string]string{"x-s": "2"}},
				},
			}, {
				Match:       &api.ServiceRouteMatch{},
				Destination: &api.ServiceRouteDestination{ServiceSubset: "v1", RetryOnStatusCodes: []uint32{}},
			}, {}},
		}},
		want: ConfigEntries{Routers: map[string]ServiceRouter{"web": {
			Name: "web",
			Routes: []Route{{
				Match: HTTPMatch{
					PathExact: "/exact", PathPrefix: "/prefix", PathRegex: "/re.*", CaseInsensitive: true,
					Header: []HeaderMatch{
						{Name: "x-present", Present: true},
						{Name: "x-exact", Exact: "e", Invert: true},
						{Name: "x-affix", Prefix: "p", Suffix: "s"},
						{Name: "x-regex", Regex: "r+"},
					},
					QueryParam: []QueryParamMatch{
						{Name: "debug", Present: true},
						{Name: "v", Exact: "2"},
						{Name: "id", Regex: "[0-9]+"},
					},
					Methods: []string{"GET", "PUT"},
				},
				Destination: RouteDestination{
					Service: "api", ServiceSubset: "v2", Namespace: "ns", Partition: "pt",
					PrefixRewrite: "/", RequestTimeout: 3 * time.Second, IdleTimeout: 9 * time.Second, NumRetries: 4,
					RetryOnConnectFailure: true, RetryOnStatusCodes: []uint32{503, 504}, RetryOn: []string{"reset", "5xx"},
					RequestHeaders:  &HeaderModifiers{Add: map[string]string{"x-a": "1"}, Remove: []string{"x-r"}},
					ResponseHeaders: &HeaderModifiers{Set: map[string]string{"x-s": "2"}},
				},
			}, {
				Destination: RouteDestination{ServiceSubset: "v1"},
			}, {}},
		}}},
	}, {
		name: "one of each kind, several names",
		list: []api.ConfigEntry{
			&api.ServiceConfigEntry{Kind: api.ServiceDefaults, Name: "web", Protocol: "http"},
			&api.ServiceConfigEntry{Kind: api.ServiceDefaults, Name: "api", Protocol: "http2"},
			&api.ServiceResolverConfigEntry{Kind: api.ServiceResolver, Name: "web", DefaultSubset: "v1"},
			&api.ServiceSplitterConfigEntry{Kind: api.ServiceSplitter, Name: "web"},
			&api.ServiceRouterConfigEntry{Kind: api.ServiceRouter, Name: "web"},
		},
		want: ConfigEntries{
			Defaults:  map[string]ServiceDefaults{"web": {Name: "web", Protocol: "http"}, "api": {Name: "api", Protocol: "http2"}},
			Resolvers: map[string]ServiceResolver{"web": {Name: "web", DefaultSubset: "v1"}},
			Splitters: map[string]ServiceSplitter{"web": {Name: "web"}},
			Routers:   map[string]ServiceRouter{"web": {Name: "web"}},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, configEntriesFrom(tt.list)); diff != "" {
				t.Fatalf("entries (-want +got):\n%s", diff)
			}
		})
	}
}

// TestConfigEntriesDoNotAliasInput changes every map, slice and pointer of
// the api values after conversion: the plain entries must not move.
func TestConfigEntriesDoNotAliasInput(t *testing.T) {
	defaults := &api.ServiceConfigEntry{
		Kind: api.ServiceDefaults, Name: "web", Meta: map[string]string{"k": "v"},
		UpstreamConfig: &api.UpstreamConfiguration{Defaults: &api.UpstreamConfig{
			Limits:             &api.UpstreamLimits{MaxConnections: ptr(1)},
			PassiveHealthCheck: &api.PassiveHealthCheck{MaxEjectionPercent: ptr[uint32](1), BaseEjectionTime: ptr(time.Second)},
		}},
	}
	resolver := &api.ServiceResolverConfigEntry{
		Kind: api.ServiceResolver, Name: "web",
		Subsets:      map[string]api.ServiceResolverSubset{"v1": {Filter: "a"}},
		Failover:     map[string]api.ServiceResolverFailover{"*": {Datacenters: []string{"dc2"}}},
		LoadBalancer: &api.LoadBalancer{HashPolicies: []api.HashPolicy{{Field: "header"}}},
	}
	router := &api.ServiceRouterConfigEntry{Kind: api.ServiceRouter, Name: "web", Routes: []api.ServiceRoute{{
		Match:       &api.ServiceRouteMatch{HTTP: &api.ServiceRouteHTTPMatch{Methods: []string{"GET"}}},
		Destination: &api.ServiceRouteDestination{RetryOnStatusCodes: []uint32{503}, RetryOn: []string{"reset"}},
	}}}
	got := configEntriesFrom([]api.ConfigEntry{defaults, resolver, router})
	want := configEntriesFrom([]api.ConfigEntry{defaults, resolver, router})

	defaults.Meta["k"] = "changed"
	*defaults.UpstreamConfig.Defaults.Limits.MaxConnections = 9
	*defaults.UpstreamConfig.Defaults.PassiveHealthCheck.MaxEjectionPercent = 9
	*defaults.UpstreamConfig.Defaults.PassiveHealthCheck.BaseEjectionTime = 9
	resolver.Subsets["v1"] = api.ServiceResolverSubset{Filter: "changed"}
	resolver.Failover["*"].Datacenters[0] = "changed"
	resolver.LoadBalancer.HashPolicies[0].Field = "changed"
	router.Routes[0].Match.HTTP.Methods[0] = "changed"
	router.Routes[0].Destination.RetryOnStatusCodes[0] = 1
	router.Routes[0].Destination.RetryOn[0] = "changed"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("entries changed with the api values they came from (-before +after):\n%s", diff)
	}
}
