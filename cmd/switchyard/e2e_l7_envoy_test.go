package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	aggregatev3 "github.com/envoyproxy/go-control-plane/envoy/extensions/clusters/aggregate/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/hashicorp/consul/api"

	"github.com/switchyard/switchyard/internal/simenvoy"
)

// describeRoutes prints the routes of one virtual host of a route
// configuration, one line each: the match ("prefix=/", "path=...",
// "regex=...", then "name=value" per exact header match) and where it
// sends requests ("cluster" or "cluster:weight ...").
func describeRoutes(s simenvoy.State, routeConfig, vhost string) []string {
	var out []string
	for _, r := range vhostRoutes(s, routeConfig, vhost) {
		out = append(out, describeMatch(r.GetMatch())+" → "+describeAction(r.GetRoute()))
	}
	return out
}

// vhostRoutes returns the routes of one virtual host of a route
// configuration the simulated Envoy accepted, nil if it has none.
func vhostRoutes(s simenvoy.State, routeConfig, vhost string) []*routev3.Route {
	rc, ok := s.Types[resourcev3.RouteType].Resources[routeConfig].(*routev3.RouteConfiguration)
	if !ok {
		return nil
	}
	for _, vh := range rc.GetVirtualHosts() {
		if vh.GetName() == vhost {
			return vh.GetRoutes()
		}
	}
	return nil
}

// describeMatch prints a route match for describeRoutes.
func describeMatch(m *routev3.RouteMatch) string {
	var parts []string
	switch {
	case m.GetPrefix() != "":
		parts = append(parts, "prefix="+m.GetPrefix())
	case m.GetPath() != "":
		parts = append(parts, "path="+m.GetPath())
	case m.GetSafeRegex() != nil:
		parts = append(parts, "regex="+m.GetSafeRegex().GetRegex())
	}
	for _, h := range m.GetHeaders() {
		parts = append(parts, h.GetName()+"="+h.GetStringMatch().GetExact())
	}
	return strings.Join(parts, " ")
}

// describeAction prints a route action for describeRoutes.
func describeAction(a *routev3.RouteAction) string {
	if c := a.GetCluster(); c != "" {
		return c
	}
	var parts []string
	for _, wc := range a.GetWeightedClusters().GetClusters() {
		parts = append(parts, fmt.Sprintf("%s:%d", wc.GetName(), wc.GetWeight().GetValue()))
	}
	return strings.Join(parts, " ")
}

// envoyCluster returns a cluster the simulated Envoy accepted, or nil.
func envoyCluster(s simenvoy.State, name string) *clusterv3.Cluster {
	c, _ := s.Types[resourcev3.ClusterType].Resources[name].(*clusterv3.Cluster)
	return c
}

// clusterLimits checks a cluster's circuit breakers and outlier detection
// against web's service-defaults, returning what differs.
func clusterLimits(c *clusterv3.Cluster) error {
	th := c.GetCircuitBreakers().GetThresholds()
	if len(th) != 1 || th[0].GetMaxConnections().GetValue() != 100 || th[0].GetMaxPendingRequests().GetValue() != 50 || th[0].GetMaxRequests().GetValue() != 200 {
		return fmt.Errorf("cluster %s: circuit breakers %v, want max connections 100, pending 50, requests 200", c.GetName(), th)
	}
	od := c.GetOutlierDetection()
	if od.GetConsecutive_5Xx().GetValue() != 5 || od.GetInterval().AsDuration() != 10*time.Second || od.GetEnforcingConsecutive_5Xx().GetValue() != 100 {
		return fmt.Errorf("cluster %s: outlier detection %v, want 5 consecutive 5xx every 10s, enforcing 100 %%", c.GetName(), od)
	}
	return nil
}

// aggregateMembers returns the clusters of an aggregate cluster, in order.
func aggregateMembers(c *clusterv3.Cluster) []string {
	cfg := &aggregatev3.ClusterConfig{}
	if err := c.GetClusterType().GetTypedConfig().UnmarshalTo(cfg); err != nil {
		return nil
	}
	return cfg.GetClusters()
}

// envoyAckedAll reports whether the simulated Envoy holds, for every type,
// the version /status says is in force for the Envoy flavour.
func envoyAckedAll(t *testing.T, adminAddr string, s simenvoy.State) bool {
	t.Helper()
	var st adminStatus
	adminJSON(t, adminAddr, "/status", &st)
	inForce := st.Versions["envoy"]
	held := versions(s)
	return inForce["cds"] != "" && held[resourcev3.ClusterType] == inForce["cds"] &&
		held[resourcev3.EndpointType] == inForce["eds"] &&
		held[resourcev3.ListenerType] == inForce["lds"] && held[resourcev3.RouteType] == inForce["rds"]
}

// TestL7SimulatedEnvoy checks what an Envoy is served for web's L7 entries
// (http protocol, circuit breakers and outlier detection in
// service-defaults, subsets with a failover, an 80/20 split, a header
// route and a path route to another service): weighted clusters, header
// and path routes, subset and aggregate clusters with their endpoints, and
// the limits on every web cluster. The simulated Envoy runs every resource
// through ValidateAll and Envoy's own semantic checks and ACKs each
// version in force, also after the split changes.
func TestL7SimulatedEnvoy(t *testing.T) {
	c := startConsul(t)
	for id, port := range map[string]int{"web-1": 18081, "web-2": 18082, "web-3": 18083} {
		c.registerMeta(t, "web", id, port, map[string]string{"version": webVersions[id]})
	}
	c.registerMeta(t, "other", "other-1", 18091, map[string]string{"version": "v1"})
	c.setEntry(t, &api.ServiceConfigEntry{
		Kind: api.ServiceDefaults, Name: "web", Protocol: "http",
		UpstreamConfig: &api.UpstreamConfiguration{Defaults: &api.UpstreamConfig{
			Limits:             &api.UpstreamLimits{MaxConnections: ptr(100), MaxPendingRequests: ptr(50), MaxConcurrentRequests: ptr(200)},
			PassiveHealthCheck: &api.PassiveHealthCheck{Interval: 10 * time.Second, MaxFailures: 5, EnforcingConsecutive5xx: ptr(uint32(100))},
		}},
	})
	c.setEntry(t, &api.ServiceConfigEntry{Kind: api.ServiceDefaults, Name: "other", Protocol: "http"})
	r := webResolver()
	r.Failover = map[string]api.ServiceResolverFailover{"v1": {ServiceSubset: "v2"}}
	c.setEntry(t, r)
	c.setEntry(t, webSplit(80, 20))
	c.setEntry(t, webRouter(
		httpRoute(api.ServiceRouteHTTPMatch{Header: []api.ServiceRouteHTTPMatchHeader{{Name: "x-canary", Exact: "true"}}}, api.ServiceRouteDestination{ServiceSubset: "v2"}),
		httpRoute(api.ServiceRouteHTTPMatch{PathPrefix: "/other/"}, api.ServiceRouteDestination{Service: "other"}),
	))
	sy := startSwitchyard(t, c.agent.HTTPAddr)
	e := startSimEnvoy(t, sy.app.XDSAddr(), "edge-1")

	routes := func(v1, v2 int) []string {
		return []string{
			"prefix=/ x-canary=true → web~v2",
			"prefix=/other/ → other",
			fmt.Sprintf("prefix=/ → web~v1~failover:%d web~v2:%d", v1, v2),
		}
	}
	waitEnvoy(t, e, "web's routes, clusters and endpoints", func(s simenvoy.State) bool {
		return slices.Equal(describeRoutes(s, "http_10000", "web"), routes(8000, 2000)) &&
			slices.Equal(endpointAddrs(s, "web~v1"), []string{"127.0.0.1:18081", "127.0.0.1:18082"}) &&
			slices.Equal(endpointAddrs(s, "web~v2"), []string{"127.0.0.1:18083"}) &&
			slices.Equal(endpointAddrs(s, "other"), []string{"127.0.0.1:18091"}) &&
			envoyCluster(s, "web~v1~failover") != nil && len(s.Warming) == 0
	})
	s := e.State()
	t.Logf("web's routes: %q", describeRoutes(s, "http_10000", "web"))
	t.Logf("clusters: %v", slices.Sorted(maps.Keys(s.Types[resourcev3.ClusterType].Resources)))
	for _, name := range []string{"web", "web~v1", "web~v2"} {
		if err := clusterLimits(envoyCluster(s, name)); err != nil {
			t.Error(err)
		}
	}
	if got := aggregateMembers(envoyCluster(s, "web~v1~failover")); !slices.Equal(got, []string{"web~v1", "web~v2"}) {
		t.Errorf("web~v1~failover aggregates %v, want [web~v1 web~v2]", got)
	}
	if oc := envoyCluster(s, "other"); oc.GetCircuitBreakers() != nil || oc.GetOutlierDetection() != nil {
		t.Errorf("other got web's limits: %v %v", oc.GetCircuitBreakers(), oc.GetOutlierDetection())
	}
	// The versions in force are recorded just after the update goes out,
	// so the Envoy may ACK them first: poll rather than wait on the
	// Envoy's own changes alone.
	waitUntil(t, "every version in force ACKed", func() bool { return envoyAckedAll(t, sy.app.AdminAddr(), e.State()) })

	before := e.State()
	c.setEntry(t, webSplit(50, 50))
	waitUntil(t, "the new split", func() bool {
		s := e.State()
		return slices.Equal(describeRoutes(s, "http_10000", "web"), routes(5000, 5000)) && envoyAckedAll(t, sy.app.AdminAddr(), s)
	})
	after := e.State()
	t.Logf("responses (cds, eds, lds, rds): %v before the split change, %v after", responseCounts(before), responseCounts(after))
	if after.Types[resourcev3.RouteType].Version == before.Types[resourcev3.RouteType].Version {
		t.Error("route version did not move with the split")
	}
	if n := after.NACKs; len(n) != 0 {
		t.Errorf("simulated Envoy rejected config: %v (last: %v)", n, after.LastNACK)
	}
}

// responseCounts lists how many CDS, EDS, LDS and RDS responses a
// simulated Envoy received, in that order.
func responseCounts(s simenvoy.State) []int {
	return []int{s.Responses[resourcev3.ClusterType], s.Responses[resourcev3.EndpointType],
		s.Responses[resourcev3.ListenerType], s.Responses[resourcev3.RouteType]}
}

// ptr returns a pointer to v.
func ptr[T any](v T) *T {
	return &v
}
