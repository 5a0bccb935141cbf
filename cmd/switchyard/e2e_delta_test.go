package main

import (
	"context"
	"maps"
	"slices"
	"testing"

	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/hashicorp/consul/api"

	"github.com/switchyard/switchyard/internal/simenvoy"
)

// startDeltaEnvoy connects a simulated Envoy over delta ADS.
func startDeltaEnvoy(t *testing.T, xdsAddr string, cfg simenvoy.Config) *simenvoy.Envoy {
	t.Helper()
	cfg.Delta = true
	e, err := simenvoy.Start(context.Background(), xdsAddr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

// sentSince returns, per type, how many resources arrived between two states.
func sentSince(before, after simenvoy.State) map[string]int {
	out := map[string]int{}
	for _, typ := range []string{resourcev3.ClusterType, resourcev3.EndpointType, resourcev3.ListenerType, resourcev3.RouteType} {
		out[typ] = after.Received[typ] - before.Received[typ]
	}
	return out
}

// deltaSettled reports whether the proxy holds web and api with their
// endpoints, the HTTP listener and its routes, and nothing is warming.
func deltaSettled(s simenvoy.State) bool {
	_, hasListener := s.Types[resourcev3.ListenerType].Resources["http_10000"]
	return hasListener && len(s.Warming) == 0 && len(s.WarmingListeners) == 0 &&
		slices.Equal(virtualHosts(s), []string{"api", "consul", "web"}) &&
		slices.Equal(endpointAddrs(s, "web"), []string{"127.0.0.1:18081", "127.0.0.1:18082"}) &&
		slices.Equal(endpointAddrs(s, "api"), []string{"127.0.0.1:18083"})
}

// TestDeltaEnvoy follows Consul changes through delta xDS: a health change
// sends one endpoint assignment, a reconnect with initial_resource_versions
// sends nothing again, and a removed service's cluster and endpoints are
// removed and unsubscribed.
func TestDeltaEnvoy(t *testing.T) {
	c := startConsul(t)
	c.register(t, "web", "web-1", 18081)
	c.register(t, "web", "web-2", 18082)
	c.register(t, "api", "api-1", 18083)
	sy := startSwitchyard(t, c.agent.HTTPAddr)
	e := startDeltaEnvoy(t, sy.app.XDSAddr(), simenvoy.Config{NodeID: "edge-1", Cluster: "edge"})
	waitEnvoy(t, e, "listener, routes, clusters and endpoints", deltaSettled)
	if got := e.State().Subscribed[resourcev3.EndpointType]; !slices.Contains(got, "web") || !slices.Contains(got, "api") {
		t.Errorf("EDS subscription = %v", got)
	}

	before := e.State()
	c.setHealth(t, "web-1", api.HealthCritical)
	waitEnvoy(t, e, "web-1 leaves the endpoints", func(s simenvoy.State) bool {
		return slices.Equal(endpointAddrs(s, "web"), []string{"127.0.0.1:18082"})
	})
	want := map[string]int{resourcev3.ClusterType: 0, resourcev3.EndpointType: 1, resourcev3.ListenerType: 0, resourcev3.RouteType: 0}
	if got := sentSince(before, e.State()); !maps.Equal(got, want) {
		t.Errorf("a health change sent %v, want exactly one endpoint assignment", got)
	}

	// Reconnect with everything held: nothing is sent again, and the next
	// change arrives alone.
	held := e.State()
	e.Close()
	e = startDeltaEnvoy(t, sy.app.XDSAddr(), simenvoy.Config{NodeID: "edge-1", Cluster: "edge", Resume: held})
	waitEnvoy(t, e, "wildcard answers after reconnect", func(s simenvoy.State) bool {
		return s.Responses[resourcev3.ClusterType] == 1 && s.Responses[resourcev3.ListenerType] == 1
	})
	c.setHealth(t, "web-1", api.HealthPassing)
	waitEnvoy(t, e, "web-1 back", func(s simenvoy.State) bool {
		return slices.Equal(endpointAddrs(s, "web"), []string{"127.0.0.1:18081", "127.0.0.1:18082"})
	})
	if got := sentSince(simenvoy.State{}, e.State()); !maps.Equal(got, want) {
		t.Errorf("after reconnect the proxy was sent %v, want only the one changed endpoint assignment", got)
	}

	before = e.State()
	c.deregister(t, "api-1")
	waitEnvoy(t, e, "api removed", func(s simenvoy.State) bool {
		_, hasCluster := s.Types[resourcev3.ClusterType].Resources["api"]
		_, hasCLA := s.Types[resourcev3.EndpointType].Resources["api"]
		return !hasCluster && !hasCLA && !slices.Contains(s.Subscribed[resourcev3.EndpointType], "api") &&
			len(s.Warming) == 0
	})
	after := e.State()
	if got := after.Removed[resourcev3.ClusterType] - before.Removed[resourcev3.ClusterType]; got != 1 {
		t.Errorf("clusters removed = %d, want 1", got)
	}
	if n := after.NACKs; len(n) != 0 {
		t.Errorf("simulated Envoy rejected config: %v", n)
	}
}

// TestDeltaGRPCGroup checks that a delta client in the gRPC group is served
// the gRPC flavour: its clusters and endpoints.
func TestDeltaGRPCGroup(t *testing.T) {
	c := startConsul(t)
	c.register(t, "web", "web-1", 18081)
	sy := startSwitchyard(t, c.agent.HTTPAddr)
	e := startDeltaEnvoy(t, sy.app.XDSAddr(), simenvoy.Config{NodeID: "app-1", Cluster: "checkout", UserAgent: "gRPC Go"})
	waitEnvoy(t, e, "gRPC clusters and endpoints", func(s simenvoy.State) bool {
		_, hasListener := s.Types[resourcev3.ListenerType].Resources["web"]
		return hasListener && slices.Equal(endpointAddrs(s, "web"), []string{"127.0.0.1:18081"})
	})
	c.setHealth(t, "web-1", api.HealthCritical)
	waitEnvoy(t, e, "web-1 leaves", func(s simenvoy.State) bool { return len(endpointAddrs(s, "web")) == 0 })
	if n := e.State().NACKs; len(n) != 0 {
		t.Errorf("simulated client rejected config: %v", n)
	}
}
