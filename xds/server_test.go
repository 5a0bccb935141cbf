package xds

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/switchyard/switchyard/envoy"
	"github.com/switchyard/switchyard/internal/simenvoy"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testSnapshot is a one-service Envoy snapshot whose versions are v.
func testSnapshot(t *testing.T, v string, port uint32) *cachev3.Snapshot {
	return testSnapshotRDS(t, v, v, port)
}

// testSnapshotRDS is testSnapshot with its own route version; a route
// version other than v also changes the route configuration (web gets the
// domain <rds>.web).
func testSnapshotRDS(t *testing.T, v, rds string, port uint32) *cachev3.Snapshot {
	t.Helper()
	domains := []string{"web"}
	if rds != v {
		domains = append(domains, rds+".web")
	}
	snap, err := cachev3.NewSnapshot(v, map[resourcev3.Type][]types.Resource{
		resourcev3.ClusterType: {envoy.EDSCluster(envoy.ClusterOptions{Name: "web"})},
		resourcev3.EndpointType: {envoy.LoadAssignment("web", []envoy.LocalityEndpoints{{
			Endpoints: []envoy.Endpoint{{Address: "127.0.0.1", Port: port, Weight: 1}},
		}})},
		resourcev3.ListenerType: {envoy.HTTPListener("http_10000", "0.0.0.0", 10000, "http_10000")},
		resourcev3.RouteType: {envoy.RouteConfig("http_10000", []*routev3.VirtualHost{
			envoy.VirtualHost("web", domains, "web"),
		})},
	})
	if err != nil {
		t.Fatal(err)
	}
	snap.Resources[types.Route].Version = rds
	return snap
}

// startServer serves on a loopback port until the test ends.
func startServer(t *testing.T) (*Server, string) {
	t.Helper()
	return startServerWith(t, Config{ShutdownGrace: time.Second})
}

// startServerWith is startServer with a configuration of its own.
func startServerWith(t *testing.T, cfg Config) (*Server, string) {
	t.Helper()
	srv := New(cfg)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, lis) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return srv, lis.Addr().String()
}

func startEnvoy(t *testing.T, addr string, cfg simenvoy.Config) *simenvoy.Envoy {
	t.Helper()
	e, err := simenvoy.Start(context.Background(), addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

func waitState(t *testing.T, e *simenvoy.Envoy, cond func(simenvoy.State) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Wait(ctx, cond); err != nil {
		t.Fatalf("%v; state %+v", err, e.State())
	}
}

func TestServerServesGroupsIncludingLateOnes(t *testing.T) {
	srv, addr := startServer(t)
	early := startEnvoy(t, addr, simenvoy.Config{NodeID: "early", Cluster: "edge"})
	// The early proxy's group exists before any snapshot: it gets the first
	// one as soon as it is published.
	waitFor(t, func() bool { return len(srv.Groups()) == 1 })
	if err := srv.Publish(KindEnvoy, testSnapshot(t, "v1", 8080)); err != nil {
		t.Fatal(err)
	}
	allTypes := func(version string) func(simenvoy.State) bool {
		return func(s simenvoy.State) bool {
			for _, typ := range []string{resourcev3.ClusterType, resourcev3.EndpointType, resourcev3.ListenerType, resourcev3.RouteType} {
				if s.Types[typ].Version != version {
					return false
				}
			}
			return true
		}
	}
	waitState(t, early, allTypes("v1"))

	late := startEnvoy(t, addr, simenvoy.Config{NodeID: "late", Cluster: "other"})
	waitState(t, late, allTypes("v1"))

	// v2 changes only web's endpoints: only EDS is sent again, to both.
	if err := srv.Publish(KindEnvoy, testSnapshot(t, "v2", 8081)); err != nil {
		t.Fatal(err)
	}
	for _, e := range []*simenvoy.Envoy{early, late} {
		waitState(t, e, func(s simenvoy.State) bool { return s.Types[resourcev3.EndpointType].Version == "v2" })
		if st := e.State(); st.Responses[resourcev3.ClusterType] != 1 || st.Responses[resourcev3.ListenerType] != 1 ||
			st.Responses[resourcev3.RouteType] != 1 {
			t.Errorf("unchanged types sent again: %v", st.Responses)
		}
	}
	// A gRPC client's group is served its own kind's snapshot, and
	// publishing it leaves the Envoy groups alone.
	grpcClient := startEnvoy(t, addr, simenvoy.Config{NodeID: "app-1", Cluster: "edge", UserAgent: "gRPC Go"})
	if err := srv.Publish(KindGRPC, testSnapshot(t, "g1", 9090)); err != nil {
		t.Fatal(err)
	}
	waitState(t, grpcClient, allTypes("g1"))
	if got := early.State().Types[resourcev3.EndpointType].Version; got != "v2" {
		t.Errorf("envoy group moved to %q after a gRPC publish", got)
	}
	if got := len(srv.Groups()); got != 3 {
		t.Errorf("groups = %d, want 3 (kind and node.cluster)", got)
	}
}

// TestNACKIsNotResent checks that a rejected version is not sent again and
// the next good snapshot is.
func TestNACKIsNotResent(t *testing.T) {
	srv, addr := startServer(t)
	if err := srv.Publish(KindEnvoy, testSnapshot(t, "bad", 8080)); err != nil {
		t.Fatal(err)
	}
	e := startEnvoy(t, addr, simenvoy.Config{NodeID: "picky", Cluster: "edge", Reject: func(r *discoveryv3.DiscoveryResponse) error {
		if r.GetVersionInfo() == "bad" && r.GetTypeUrl() == resourcev3.ClusterType {
			return errors.New("cluster web: rejected for the test")
		}
		return nil
	}})
	waitState(t, e, func(s simenvoy.State) bool { return s.NACKs[resourcev3.ClusterType] == 1 })
	// A route-only change in between: a server that re-sent rejected
	// clusters would be in a NACK loop by the time the good clusters come.
	if err := srv.Publish(KindEnvoy, testSnapshotRDS(t, "bad", "rds-2", 8080)); err != nil {
		t.Fatal(err)
	}
	waitState(t, e, func(s simenvoy.State) bool { return s.Types[resourcev3.RouteType].Version == "rds-2" })
	if err := srv.Publish(KindEnvoy, deltaWorld(t, "good", map[string]svc{"web": {port: 8081, timeout: 3 * time.Second}})); err != nil {
		t.Fatal(err)
	}
	waitState(t, e, func(s simenvoy.State) bool { return s.Types[resourcev3.ClusterType].Version == "good" })
	st := e.State()
	if st.Responses[resourcev3.ClusterType] != 2 || st.NACKs[resourcev3.ClusterType] != 1 {
		t.Errorf("CDS responses = %d, NACKs = %d; want 2 and 1 (the rejected version sent once)",
			st.Responses[resourcev3.ClusterType], st.NACKs[resourcev3.ClusterType])
	}
	if got := testutil.ToFloat64(srv.metrics.nacks.WithLabelValues("Cluster")); got != 1 {
		t.Errorf("nack counter = %v, want 1", got)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
