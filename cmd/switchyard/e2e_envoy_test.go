package main

import (
	"context"
	"maps"
	"net"
	"slices"
	"strconv"
	"testing"
	"time"

	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/hashicorp/consul/api"

	"github.com/switchyard/switchyard/internal/simenvoy"
)

// startSimEnvoy connects a simulated Envoy in cluster "edge".
func startSimEnvoy(t *testing.T, xdsAddr, nodeID string) *simenvoy.Envoy {
	t.Helper()
	e, err := simenvoy.Start(context.Background(), xdsAddr, simenvoy.Config{NodeID: nodeID, Cluster: "edge"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

// waitEnvoy waits until cond holds for what the simulated Envoy accepted.
func waitEnvoy(t *testing.T, e *simenvoy.Envoy, what string, cond func(simenvoy.State) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := e.Wait(ctx, cond); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// endpointAddrs lists the endpoint addresses ("ip:port") of one cluster as
// the simulated Envoy accepted them.
func endpointAddrs(s simenvoy.State, cluster string) []string {
	cla, ok := s.Types[resourcev3.EndpointType].Resources[cluster].(*endpointv3.ClusterLoadAssignment)
	if !ok {
		return nil
	}
	var out []string
	for _, lle := range cla.GetEndpoints() {
		for _, ep := range lle.GetLbEndpoints() {
			sa := ep.GetEndpoint().GetAddress().GetSocketAddress()
			out = append(out, net.JoinHostPort(sa.GetAddress(), strconv.Itoa(int(sa.GetPortValue()))))
		}
	}
	slices.Sort(out)
	return out
}

// virtualHosts lists the virtual host names of the Envoy HTTP route.
func virtualHosts(s simenvoy.State) []string {
	rc, ok := s.Types[resourcev3.RouteType].Resources["http_10000"].(*routev3.RouteConfiguration)
	if !ok {
		return nil
	}
	var out []string
	for _, vh := range rc.GetVirtualHosts() {
		out = append(out, vh.GetName())
	}
	return out
}

// versions returns the accepted version of every type.
func versions(s simenvoy.State) map[string]string {
	out := map[string]string{}
	for typ, ts := range s.Types {
		out[typ] = ts.Version
	}
	return out
}

// TestSimulatedEnvoy checks what an Envoy is served: the HTTP listener, one
// virtual host per Consul service, clusters and endpoints; and that a health
// change moves only the endpoint version.
func TestSimulatedEnvoy(t *testing.T) {
	c := startConsul(t)
	c.register(t, "web", "web-1", 18081)
	c.register(t, "web", "web-2", 18082)
	c.register(t, "api", "api-1", 18083)
	sy := startSwitchyard(t, c.agent.HTTPAddr)
	e := startSimEnvoy(t, sy.app.XDSAddr(), "edge-1")

	waitEnvoy(t, e, "listener, routes, clusters and endpoints", func(s simenvoy.State) bool {
		_, hasListener := s.Types[resourcev3.ListenerType].Resources["http_10000"]
		_, hasAPI := s.Types[resourcev3.ClusterType].Resources["api"]
		return hasListener && hasAPI &&
			slices.Equal(virtualHosts(s), []string{"api", "consul", "web"}) &&
			slices.Equal(endpointAddrs(s, "web"), []string{"127.0.0.1:18081", "127.0.0.1:18082"}) &&
			slices.Equal(endpointAddrs(s, "api"), []string{"127.0.0.1:18083"})
	})
	before := versions(e.State())

	c.setHealth(t, "web-1", api.HealthCritical)
	waitEnvoy(t, e, "web-1 leaves the endpoints", func(s simenvoy.State) bool {
		return slices.Equal(endpointAddrs(s, "web"), []string{"127.0.0.1:18082"})
	})
	after := versions(e.State())
	for _, typ := range []string{resourcev3.ClusterType, resourcev3.ListenerType, resourcev3.RouteType} {
		if after[typ] != before[typ] {
			t.Errorf("%s version moved on a health change: %s → %s", typ, before[typ], after[typ])
		}
	}
	if after[resourcev3.EndpointType] == before[resourcev3.EndpointType] {
		t.Errorf("endpoint version did not move: %s", after[resourcev3.EndpointType])
	}
	if n := e.State().NACKs; len(n) != 0 {
		t.Errorf("simulated Envoy rejected config: %v", n)
	}

	// A new service shows up as a virtual host, a cluster and endpoints.
	c.register(t, "shop", "shop-1", 18084)
	waitEnvoy(t, e, "new service", func(s simenvoy.State) bool {
		return slices.Equal(virtualHosts(s), []string{"api", "consul", "shop", "web"}) &&
			slices.Equal(endpointAddrs(s, "shop"), []string{"127.0.0.1:18084"})
	})
}

// holdsInForce reports whether an Envoy's accepted versions, by type URL,
// are the flavour's versions in force, by short type name.
func holdsInForce(held map[string]string, inForce map[string]string) bool {
	short := map[string]string{resourcev3.ClusterType: "cds", resourcev3.EndpointType: "eds", resourcev3.ListenerType: "lds", resourcev3.RouteType: "rds"}
	if len(held) != len(short) {
		return false
	}
	for typ, v := range held {
		if inForce[short[typ]] != v {
			return false
		}
	}
	return true
}

// TestRestartKeepsVersions restarts Switchyard on unchanged Consul state: the
// new process serves the very same versions.
func TestRestartKeepsVersions(t *testing.T) {
	c := startConsul(t)
	c.register(t, "web", "web-1", 18081)
	c.register(t, "api", "api-1", 18083)

	first := startSwitchyard(t, c.agent.HTTPAddr)
	e1 := startSimEnvoy(t, first.app.XDSAddr(), "edge-1")
	waitEnvoy(t, e1, "first snapshot", func(s simenvoy.State) bool { return len(endpointAddrs(s, "api")) == 1 })
	// Later publishes (Consul's own service settling) may still be on
	// their way: take the versions once the Envoy holds what is in force.
	var st1 adminStatus
	waitUntil(t, "the Envoy holds the versions in force", func() bool {
		adminJSON(t, first.app.AdminAddr(), "/status", &st1)
		return holdsInForce(versions(e1.State()), st1.Versions["envoy"])
	})
	envoyVersions := versions(e1.State())
	e1.Close()
	first.stop()

	second := startSwitchyard(t, c.agent.HTTPAddr)
	waitUntil(t, "same versions after restart", func() bool {
		var st2 adminStatus
		adminJSON(t, second.app.AdminAddr(), "/status", &st2)
		return maps.EqualFunc(st1.Versions, st2.Versions, maps.Equal)
	})
	e2 := startSimEnvoy(t, second.app.XDSAddr(), "edge-1")
	waitEnvoy(t, e2, "same versions to a reconnecting Envoy", func(s simenvoy.State) bool {
		return len(s.Types) == 4 && maps.Equal(versions(s), envoyVersions)
	})
	t.Logf("versions across restart: %v", st1.Versions)
}

// TestConsulDeathKeepsTraffic kills Consul under running clients: traffic
// keeps flowing to every instance and no snapshot is published.
func TestConsulDeathKeepsTraffic(t *testing.T) {
	c := startConsul(t)
	all := []string{"echo-1", "echo-2", "echo-3"}
	startBackends(t, c, "echo", all...)
	sy := startSwitchyard(t, c.agent.HTTPAddr)
	cc := dialXDS(t, sy.app.XDSAddr(), "client-1", "echo")
	waitUntil(t, "traffic to all", func() bool { return servedBy(spread(t, cc, 30), all...) })
	e := startSimEnvoy(t, sy.app.XDSAddr(), "edge-1")
	waitEnvoy(t, e, "envoy endpoints", func(s simenvoy.State) bool { return len(endpointAddrs(s, "echo")) == 3 })
	pubBefore := sy.app.publisher.Status()
	edsResponses := e.State().Responses[resourcev3.EndpointType]

	if err := c.agent.Kill(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "switchyard notices Consul is gone", func() bool { return sy.app.source.Status().LastError != "" })
	// Keep sending for a while (at least 10 batches, about two seconds).
	for deadline, batch := time.Now().Add(2*time.Second), 0; batch < 10 || (time.Now().Before(deadline) && batch < 500); batch++ {
		if counts := spreadStrict(t, cc, 30); !servedBy(counts, all...) {
			t.Fatalf("traffic changed after Consul died: %v", counts)
		}
	}
	pubAfter := sy.app.publisher.Status()
	if !pubAfter.LastPublish.Equal(pubBefore.LastPublish) || !maps.Equal(pubBefore.Versions, pubAfter.Versions) {
		t.Errorf("a snapshot was published after Consul died: %+v → %+v", pubBefore, pubAfter)
	}
	st := e.State()
	if got := len(endpointAddrs(st, "echo")); got != 3 || st.Responses[resourcev3.EndpointType] != edsResponses {
		t.Errorf("envoy endpoints changed after Consul died: %d endpoints, %d EDS responses (was %d)",
			got, st.Responses[resourcev3.EndpointType], edsResponses)
	}
	var status adminStatus
	adminJSON(t, sy.app.AdminAddr(), "/status", &status)
	if !status.Consul.Failing || status.Consul.LastError == "" || status.Consul.Age == "" {
		t.Errorf("/status does not show Consul's failure and the state's age: %+v", status.Consul)
	}
	if httpStatus(sy.app.AdminAddr(), "/readyz") != 200 {
		t.Error("/readyz dropped while serving the last known state")
	}
}
