package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"slices"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/switchyard/switchyard/discovery"
	"github.com/switchyard/switchyard/internal/simenvoy"
	"github.com/switchyard/switchyard/snapshot"
	"github.com/switchyard/switchyard/xds"
)

// These tests guard FAILURE_MODES row 5 at the protocol level: after a
// cluster update Envoy asks for the endpoints again at the version it already
// has and keeps the changed clusters warming (503s) until an EDS response
// comes. They run the real translation, snapshot building and xDS server
// against a simulated Envoy, without Consul.

// warmWithin is how soon after a publish every cluster must be warm again.
const warmWithin = time.Second

// warmingInstance is a passing instance of weight 1.
func warmingInstance(id, address string, port int) discovery.Instance {
	return discovery.Instance{
		ID: id, Node: "node-1", Address: address, Port: port,
		Health: discovery.HealthPassing, Weights: discovery.Weights{Passing: 1, Warning: 1},
	}
}

// warmingModel is a datacenter with the given services.
func warmingModel(services ...discovery.Service) discovery.Model {
	return discovery.Model{Datacenter: "dc1", Services: services}
}

// warmingService is a service of the given instances.
func warmingService(name string, instances ...discovery.Instance) discovery.Service {
	return discovery.Service{Name: name, Datacenter: "dc1", Instances: instances}
}

// warmingTranslate translates a model into the Envoy flavour's resources.
func warmingTranslate(t *testing.T, m discovery.Model) snapshot.Resources {
	t.Helper()
	return warmingTranslateAt(t, m, "")
}

// warmingTranslateAt is warmingTranslate with the HTTP listener bound to
// address.
func warmingTranslateAt(t *testing.T, m discovery.Model, address string) snapshot.Resources {
	t.Helper()
	res, err := snapshot.Translate(m, snapshot.Options{Flavour: snapshot.FlavourEnvoy, ListenerAddress: address, ListenerPort: 10000})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// warmingServer is a real xDS server on a loopback port.
type warmingServer struct {
	t   *testing.T
	srv *xds.Server
	// addr is where it listens.
	addr string
}

func startWarmingServer(t *testing.T) *warmingServer {
	t.Helper()
	srv := xds.New(xds.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), ShutdownGrace: time.Second})
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
			t.Errorf("xds serve: %v", err)
		}
	})
	return &warmingServer{t: t, srv: srv, addr: lis.Addr().String()}
}

// publish builds resources into a snapshot, publishes it to Envoys and
// returns its versions.
func (s *warmingServer) publish(res snapshot.Resources) snapshot.Versions {
	s.t.Helper()
	snap, v, err := snapshot.Build(res)
	if err != nil {
		s.t.Fatal(err)
	}
	if err := s.srv.Publish(xds.KindEnvoy, snap); err != nil {
		s.t.Fatal(err)
	}
	return v
}

// warmingSettled reports whether the simulated Envoy accepted every type at v and
// nothing is warming.
func warmingSettled(v snapshot.Versions) func(simenvoy.State) bool {
	return func(s simenvoy.State) bool {
		return s.Types[resourcev3.ClusterType].Version == v.Clusters &&
			s.Types[resourcev3.EndpointType].Version == v.Endpoints &&
			s.Types[resourcev3.ListenerType].Version == v.Listeners &&
			s.Types[resourcev3.RouteType].Version == v.Routes &&
			len(s.Warming) == 0 && len(s.WarmingListeners) == 0
	}
}

// waitWarm waits until the simulated Envoy holds v with nothing warming,
// and fails if that took longer than warmWithin or anything was rejected.
func waitWarm(t *testing.T, e *simenvoy.Envoy, what string, since time.Time, v snapshot.Versions) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*warmWithin)
	defer cancel()
	if err := e.Wait(ctx, warmingSettled(v)); err != nil {
		s := e.State()
		t.Fatalf("%s: %v\nwant versions %+v\nhave %v\nwarming clusters %v, listeners %v, NACKs %v %v",
			what, err, v, versions(s), s.Warming, s.WarmingListeners, s.NACKs, s.LastNACK)
	}
	if took := time.Since(since); took > warmWithin {
		t.Errorf("%s: took %s, more than %s", what, took.Round(time.Millisecond), warmWithin)
	}
	if s := e.State(); len(s.NACKs) != 0 {
		t.Fatalf("%s: simulated Envoy rejected config: %v %v", what, s.NACKs, s.LastNACK)
	}
}

// warmingCluster returns an accepted cluster.
func warmingCluster(s simenvoy.State, name string) *clusterv3.Cluster {
	c, _ := s.Types[resourcev3.ClusterType].Resources[name].(*clusterv3.Cluster)
	return c
}

// TestWarmingClusterChangeKeepsEndpoints changes cluster definitions while
// the endpoints stay the same: every changed cluster must get its endpoints
// again, so none stays warming.
func TestWarmingClusterChangeKeepsEndpoints(t *testing.T) {
	srv := startWarmingServer(t)
	web := warmingService("web", warmingInstance("web-1", "127.0.0.2", 8080), warmingInstance("web-2", "127.0.0.3", 8080))
	api := warmingService("api", warmingInstance("api-1", "127.0.0.4", 8081))
	res1 := warmingTranslate(t, warmingModel(api, web))
	start := time.Now()
	v1 := srv.publish(res1)
	e := startSimEnvoy(t, srv.addr, "edge-1")
	waitWarm(t, e, "first snapshot", start, v1)

	t.Run("same endpoints, changed cluster", func(t *testing.T) {
		// The web cluster's connect timeout changes; every endpoint
		// assignment is byte for byte what the proxy already has.
		res2 := res1
		res2.Clusters = slices.Clone(res1.Clusters)
		for i, r := range res2.Clusters {
			if c := r.(*clusterv3.Cluster); c.GetName() == "web" {
				c = proto.Clone(c).(*clusterv3.Cluster)
				c.ConnectTimeout = durationpb.New(2 * time.Second)
				res2.Clusters[i] = c
			}
		}
		start := time.Now()
		v2 := srv.publish(res2)
		if v2.Clusters == v1.Clusters {
			t.Fatal("the cluster change did not change the cluster version")
		}
		waitWarm(t, e, "changed web cluster warmed", start, v2)
		s := e.State()
		if got := warmingCluster(s, "web").GetConnectTimeout().AsDuration(); got != 2*time.Second {
			t.Errorf("web connect timeout = %s, want the new 2s", got)
		}
		if !slices.Equal(endpointAddrs(s, "web"), []string{"127.0.0.2:8080", "127.0.0.3:8080"}) ||
			!slices.Equal(endpointAddrs(s, "api"), []string{"127.0.0.4:8081"}) {
			t.Errorf("endpoints changed: web %v, api %v", endpointAddrs(s, "web"), endpointAddrs(s, "api"))
		}
		// And back: the proxy's clusters change again to something it had
		// before, with the same endpoints still.
		start = time.Now()
		waitWarm(t, e, "web cluster changed back", start, srv.publish(res1))
	})

	t.Run("address becomes a hostname", func(t *testing.T) {
		// api's instance now registers a hostname: its cluster turns
		// STRICT_DNS and its assignment goes, while web's endpoints stay.
		dnsAPI := warmingService("api", warmingInstance("api-1", "api-1.example.internal", 8081))
		start := time.Now()
		v2 := srv.publish(warmingTranslate(t, warmingModel(dnsAPI, web)))
		waitWarm(t, e, "api turns STRICT_DNS", start, v2)
		s := e.State()
		if got := warmingCluster(s, "api").GetType(); got != clusterv3.Cluster_STRICT_DNS {
			t.Errorf("api cluster type = %s, want STRICT_DNS", got)
		}
		if _, ok := s.Types[resourcev3.EndpointType].Resources["api"]; ok {
			t.Error("the proxy still holds endpoints for the DNS cluster api")
		}
		if !slices.Equal(endpointAddrs(s, "web"), []string{"127.0.0.2:8080", "127.0.0.3:8080"}) {
			t.Errorf("web endpoints changed: %v", endpointAddrs(s, "web"))
		}

		// Back to an IP: api is an EDS cluster again and needs its
		// endpoints before it can serve.
		start = time.Now()
		waitWarm(t, e, "api back to EDS", start, srv.publish(res1))
		if got := endpointAddrs(e.State(), "api"); !slices.Equal(got, []string{"127.0.0.4:8081"}) {
			t.Errorf("api endpoints = %v", got)
		}
	})
}

// TestWarmingListenerChangeKeepsRoutes moves the HTTP listener to another
// address while its route configuration stays the same: the changed
// listener must get its routes again, so it does not stay warming.
func TestWarmingListenerChangeKeepsRoutes(t *testing.T) {
	srv := startWarmingServer(t)
	m := warmingModel(warmingService("web", warmingInstance("web-1", "127.0.0.2", 8080)))
	res1 := warmingTranslate(t, m)
	start := time.Now()
	v1 := srv.publish(res1)
	e := startSimEnvoy(t, srv.addr, "edge-1")
	waitWarm(t, e, "first snapshot", start, v1)

	res2 := warmingTranslateAt(t, m, "127.0.0.1")
	start = time.Now()
	v2 := srv.publish(res2)
	if v2.Listeners == v1.Listeners {
		t.Fatal("moving the listener did not change the listener version")
	}
	waitWarm(t, e, "moved listener warmed", start, v2)
	l := e.State().Types[resourcev3.ListenerType].Resources["http_10000"].(*listenerv3.Listener)
	if got := l.GetAddress().GetSocketAddress().GetAddress(); got != "127.0.0.1" {
		t.Errorf("listener address = %q, want 127.0.0.1", got)
	}
}

// TestWarmingNewService adds a service: its new cluster warms until its
// endpoints come, and the listener's routes reach the proxy too.
func TestWarmingNewService(t *testing.T) {
	srv := startWarmingServer(t)
	web := warmingService("web", warmingInstance("web-1", "127.0.0.2", 8080))
	start := time.Now()
	v1 := srv.publish(warmingTranslate(t, warmingModel(web)))
	e := startSimEnvoy(t, srv.addr, "edge-1")
	waitWarm(t, e, "first snapshot", start, v1)

	shop := warmingService("shop", warmingInstance("shop-1", "127.0.0.5", 8082))
	start = time.Now()
	v2 := srv.publish(warmingTranslate(t, warmingModel(shop, web)))
	waitWarm(t, e, "new service", start, v2)
	s := e.State()
	if got := endpointAddrs(s, "shop"); !slices.Equal(got, []string{"127.0.0.5:8082"}) {
		t.Errorf("shop endpoints = %v", got)
	}
	if got := virtualHosts(s); !slices.Equal(got, []string{"shop", "web"}) {
		t.Errorf("virtual hosts = %v", got)
	}
}
