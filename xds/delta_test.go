package xds

import (
	"context"
	"errors"
	"maps"
	"net"
	"slices"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
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

// allTypes are the four xDS types Switchyard serves, in ADS order.
var allTypes = []string{resourcev3.ClusterType, resourcev3.EndpointType, resourcev3.ListenerType, resourcev3.RouteType}

// svc is one service of a test world: its endpoint port and its cluster's
// connect timeout.
type svc struct {
	port    uint32
	timeout time.Duration
}

// deltaWorld is an Envoy snapshot of the given services behind one HTTP
// listener; label is every type's version.
func deltaWorld(t *testing.T, label string, services map[string]svc) *cachev3.Snapshot {
	t.Helper()
	var clusters, clas []types.Resource
	var vhosts []*routev3.VirtualHost
	for _, name := range sortedNames(services) {
		s := services[name]
		clusters = append(clusters, envoy.EDSCluster(envoy.ClusterOptions{Name: name, ConnectTimeout: s.timeout}))
		clas = append(clas, envoy.LoadAssignment(name, []envoy.LocalityEndpoints{{
			Endpoints: []envoy.Endpoint{{Address: "127.0.0.1", Port: s.port, Weight: 1}},
		}}))
		vhosts = append(vhosts, envoy.VirtualHost(name, []string{name}, name))
	}
	snap, err := cachev3.NewSnapshot(label, map[resourcev3.Type][]types.Resource{
		resourcev3.ClusterType:  clusters,
		resourcev3.EndpointType: clas,
		resourcev3.ListenerType: {envoy.HTTPListener("http_10000", "0.0.0.0", 10000, "http_10000")},
		resourcev3.RouteType:    {envoy.RouteConfig("http_10000", vhosts)},
	})
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

func sortedNames(m map[string]svc) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// holds reports whether the proxy holds exactly the named resources of
// every type and nothing is warming.
func holds(clusters ...string) func(simenvoy.State) bool {
	return func(s simenvoy.State) bool {
		for _, typ := range []string{resourcev3.ClusterType, resourcev3.EndpointType} {
			if !slices.Equal(keys(s.Types[typ].Resources), clusters) {
				return false
			}
		}
		return len(s.Types[resourcev3.ListenerType].Resources) == 1 &&
			len(s.Types[resourcev3.RouteType].Resources) == 1 &&
			len(s.Warming) == 0 && len(s.WarmingListeners) == 0
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// deltaAnswered waits until the server has seen an ACK or NACK for every
// delta response it sent, so that a publish finds every watch open.
func deltaAnswered(t *testing.T, srv *Server) {
	t.Helper()
	waitFor(t, func() bool {
		for _, typ := range allTypes {
			short := shortType(typ)
			sent := testutil.ToFloat64(srv.metrics.deltaResponses.WithLabelValues(short))
			answered := testutil.ToFloat64(srv.metrics.deltaAcks.WithLabelValues(short)) +
				testutil.ToFloat64(srv.metrics.deltaNacks.WithLabelValues(short))
			if sent != answered {
				return false
			}
		}
		return true
	})
}

// received returns, per type, how many resources and responses arrived
// since before.
func received(before, after simenvoy.State) (resources, responses map[string]int) {
	resources, responses = map[string]int{}, map[string]int{}
	for _, typ := range allTypes {
		resources[shortType(typ)] = after.Received[typ] - before.Received[typ]
		responses[shortType(typ)] = after.Responses[typ] - before.Responses[typ]
	}
	return resources, responses
}

var three = map[string]svc{"api": {port: 8081}, "db": {port: 8082}, "web": {port: 8080}}

// TestDeltaSubscribe checks that a delta client of either kind gets every
// listener, route, cluster and endpoint assignment, and subscribes to EDS
// and RDS by name.
func TestDeltaSubscribe(t *testing.T) {
	for _, tt := range []struct {
		name      string
		kind      Kind
		userAgent string
	}{
		{"envoy", KindEnvoy, "envoy"},
		{"grpc", KindGRPC, "gRPC Go"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv, addr := startServer(t)
			if err := srv.Publish(tt.kind, deltaWorld(t, "v1", three)); err != nil {
				t.Fatal(err)
			}
			e := startEnvoy(t, addr, simenvoy.Config{NodeID: "d1", Cluster: "edge", UserAgent: tt.userAgent, Delta: true})
			waitState(t, e, holds("api", "db", "web"))
			st := e.State()
			if got := st.Subscribed[resourcev3.EndpointType]; !slices.Equal(got, []string{"api", "db", "web"}) {
				t.Errorf("EDS subscription = %v", got)
			}
			if got := st.Subscribed[resourcev3.RouteType]; !slices.Equal(got, []string{"http_10000"}) {
				t.Errorf("RDS subscription = %v", got)
			}
			if got := srv.Groups(); len(got) != 1 || got[0] != (Group{Kind: tt.kind, Cluster: "edge"}) {
				t.Errorf("groups = %v", got)
			}
			deltaAnswered(t, srv)
			if got := testutil.ToFloat64(srv.metrics.deltaAcks.WithLabelValues("ClusterLoadAssignment")); got < 1 {
				t.Errorf("EDS delta ACKs = %v, want at least 1", got)
			}
		})
	}
}

// TestDeltaChanges checks what each change sends to a settled delta client:
// only what changed, removals in removed_resources, and the endpoints of a
// cluster that changed while its endpoints did not.
func TestDeltaChanges(t *testing.T) {
	changedWeb := map[string]svc{"api": {port: 8081}, "db": {port: 8082}, "web": {port: 9090}}
	slowWeb := map[string]svc{"api": {port: 8081}, "db": {port: 8082}, "web": {port: 8080, timeout: 7 * time.Second}}
	twoLeft := map[string]svc{"db": {port: 8082}, "web": {port: 8080}}
	tests := []struct {
		name          string
		next          map[string]svc
		hold          []string
		wantResources map[string]int
		wantRemoved   map[string]int
	}{
		{"health change sends one assignment", changedWeb, []string{"api", "db", "web"},
			map[string]int{"Cluster": 0, "ClusterLoadAssignment": 1, "Listener": 0, "RouteConfiguration": 0}, nil},
		{"cluster change re-sends its endpoints", slowWeb, []string{"api", "db", "web"},
			map[string]int{"Cluster": 1, "ClusterLoadAssignment": 1, "Listener": 0, "RouteConfiguration": 0}, nil},
		{"removed service", twoLeft, []string{"db", "web"},
			map[string]int{"Cluster": 0, "ClusterLoadAssignment": 0, "Listener": 0, "RouteConfiguration": 1},
			map[string]int{resourcev3.ClusterType: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, addr := startServer(t)
			if err := srv.Publish(KindEnvoy, deltaWorld(t, "v1", three)); err != nil {
				t.Fatal(err)
			}
			e := startEnvoy(t, addr, simenvoy.Config{NodeID: "d1", Cluster: "edge", Delta: true})
			waitState(t, e, holds("api", "db", "web"))
			deltaAnswered(t, srv)
			before := e.State()
			if err := srv.Publish(KindEnvoy, deltaWorld(t, "v2", tt.next)); err != nil {
				t.Fatal(err)
			}
			waitState(t, e, func(s simenvoy.State) bool {
				return holds(tt.hold...)(s) && holdsService(s, "web", tt.next["web"])
			})
			deltaAnswered(t, srv)
			after := e.State()
			resources, _ := received(before, after)
			for typ, want := range tt.wantResources {
				if resources[typ] != want {
					t.Errorf("%s resources sent = %d, want %d (all: %v)", typ, resources[typ], want, resources)
				}
			}
			for typ, want := range tt.wantRemoved {
				if got := after.Removed[typ] - before.Removed[typ]; got != want {
					t.Errorf("%s removed = %d, want %d", shortType(typ), got, want)
				}
			}
			if got := after.Subscribed[resourcev3.EndpointType]; !slices.Equal(got, tt.hold) {
				t.Errorf("EDS subscription = %v, want %v", got, tt.hold)
			}
		})
	}
}

// holdsService reports whether the proxy holds web's cluster and endpoints as s
// describes them.
func holdsService(st simenvoy.State, name string, s svc) bool {
	c, _ := st.Types[resourcev3.ClusterType].Resources[name].(*clusterv3.Cluster)
	cla, _ := st.Types[resourcev3.EndpointType].Resources[name].(*endpointv3.ClusterLoadAssignment)
	if c == nil || cla == nil {
		return false
	}
	want := s.timeout
	if want == 0 {
		want = 5 * time.Second
	}
	port := cla.GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetSocketAddress().GetPortValue()
	return c.GetConnectTimeout().AsDuration() == want && port == s.port
}

// TestDeltaReconnect checks that a proxy reconnecting with
// initial_resource_versions of everything it holds is sent only what changed
// since: nothing, or a changed cluster together with its endpoints, which
// it needs to warm the cluster.
func TestDeltaReconnect(t *testing.T) {
	slowWeb := map[string]svc{"api": {port: 8081}, "db": {port: 8082}, "web": {port: 8080, timeout: 7 * time.Second}}
	for _, tt := range []struct {
		name  string
		away  map[string]svc
		after map[string]int
	}{
		{"nothing changed", three, map[string]int{"Cluster": 0, "ClusterLoadAssignment": 0, "Listener": 0, "RouteConfiguration": 0}},
		{"cluster changed while away", slowWeb, map[string]int{"Cluster": 1, "ClusterLoadAssignment": 1, "Listener": 0, "RouteConfiguration": 0}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv, addr := startServer(t)
			if err := srv.Publish(KindEnvoy, deltaWorld(t, "v1", three)); err != nil {
				t.Fatal(err)
			}
			first, err := simenvoy.Start(context.Background(), addr, simenvoy.Config{NodeID: "d1", Cluster: "edge", Delta: true})
			if err != nil {
				t.Fatal(err)
			}
			waitState(t, first, holds("api", "db", "web"))
			deltaAnswered(t, srv)
			held := first.State()
			first.Close()
			waitFor(t, func() bool { return testutil.ToFloat64(srv.metrics.streams) == 0 })
			if err := srv.Publish(KindEnvoy, deltaWorld(t, "v2", tt.away)); err != nil {
				t.Fatal(err)
			}

			e := startEnvoy(t, addr, simenvoy.Config{NodeID: "d1", Cluster: "edge", Delta: true, Resume: held})
			waitState(t, e, func(s simenvoy.State) bool {
				return s.Responses[resourcev3.ClusterType] == 1 && s.Responses[resourcev3.ListenerType] == 1 &&
					holds("api", "db", "web")(s) && holdsService(s, "web", tt.away["web"])
			})
			deltaAnswered(t, srv)
			// One more change flushes anything still on its way: it must
			// arrive alone.
			changed := maps.Clone(tt.away)
			changed["db"] = svc{port: 9092}
			if err := srv.Publish(KindEnvoy, deltaWorld(t, "v3", changed)); err != nil {
				t.Fatal(err)
			}
			waitState(t, e, func(s simenvoy.State) bool { return holdsService(s, "db", changed["db"]) })
			resources, _ := received(simenvoy.State{}, e.State())
			tt.after["ClusterLoadAssignment"]++
			for typ, n := range tt.after {
				if resources[typ] != n {
					t.Errorf("after reconnect %s resources = %d, want %d (all: %v)", typ, resources[typ], n, resources)
				}
			}
		})
	}
}

// TestDeltaNACKIsNotResent checks that a delta NACK is counted and the
// rejected resource is not sent again, while the next good one is.
func TestDeltaNACKIsNotResent(t *testing.T) {
	srv, addr := startServer(t)
	bad := map[string]svc{"web": {port: 8080, timeout: 3 * time.Second}}
	if err := srv.Publish(KindEnvoy, deltaWorld(t, "bad", bad)); err != nil {
		t.Fatal(err)
	}
	e := startEnvoy(t, addr, simenvoy.Config{NodeID: "picky", Cluster: "edge", Delta: true,
		Reject: func(r *discoveryv3.DiscoveryResponse) error {
			if r.GetVersionInfo() == "bad" && r.GetTypeUrl() == resourcev3.ClusterType {
				return errors.New("cluster web: rejected for the test")
			}
			return nil
		}})
	waitState(t, e, func(s simenvoy.State) bool {
		return s.NACKs[resourcev3.ClusterType] == 1 && len(s.Types[resourcev3.RouteType].Resources) == 1
	})
	deltaAnswered(t, srv)
	// A route-only change in between: the rejected cluster must not come
	// with it.
	routeOnly := map[string]svc{"web": {port: 8080, timeout: 3 * time.Second}, "api": {port: 8081}}
	snap := deltaWorld(t, "bad", routeOnly)
	snap.Resources[types.Cluster] = deltaWorld(t, "bad", bad).Resources[types.Cluster]
	snap.Resources[types.Endpoint] = deltaWorld(t, "bad", bad).Resources[types.Endpoint]
	if err := srv.Publish(KindEnvoy, snap); err != nil {
		t.Fatal(err)
	}
	waitState(t, e, func(s simenvoy.State) bool {
		rc, _ := s.Types[resourcev3.RouteType].Resources["http_10000"].(*routev3.RouteConfiguration)
		return len(rc.GetVirtualHosts()) == 2
	})
	if err := srv.Publish(KindEnvoy, deltaWorld(t, "good", map[string]svc{"web": {port: 8080}})); err != nil {
		t.Fatal(err)
	}
	waitState(t, e, holds("web"))
	st := e.State()
	if st.Responses[resourcev3.ClusterType] != 2 || st.NACKs[resourcev3.ClusterType] != 1 {
		t.Errorf("CDS responses = %d, NACKs = %d; want 2 and 1 (the rejected cluster sent once)",
			st.Responses[resourcev3.ClusterType], st.NACKs[resourcev3.ClusterType])
	}
	if got := testutil.ToFloat64(srv.metrics.deltaNacks.WithLabelValues("Cluster")); got != 1 {
		t.Errorf("delta nack counter = %v, want 1", got)
	}
}

// TestStreamsDoNotLeak connects and disconnects 1,000 clients, state of the
// world and delta, and checks that streams, per-stream state and goroutines
// return to the baseline.
func TestStreamsDoNotLeak(t *testing.T) {
	for _, delta := range []bool{false, true} {
		t.Run(map[bool]string{false: "sotw", true: "delta"}[delta], func(t *testing.T) {
			churnStreams(t, delta, 1000)
		})
	}
}

// churnStreams runs cycles connect/disconnect cycles against a fresh server.
func churnStreams(t *testing.T, delta bool, cycles int) {
	srv := New(Config{ShutdownGrace: time.Second})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, lis) }()
	if err := srv.Publish(KindEnvoy, deltaWorld(t, "v1", three)); err != nil {
		t.Fatal(err)
	}
	for i := range cycles {
		e, err := simenvoy.Start(context.Background(), lis.Addr().String(),
			simenvoy.Config{NodeID: "churn", Cluster: "edge", Delta: delta})
		if err != nil {
			t.Fatalf("cycle %d: %v", i, err)
		}
		waitState(t, e, func(s simenvoy.State) bool { return s.Responses[resourcev3.ClusterType] > 0 })
		e.Close()
	}
	waitFor(t, func() bool { return testutil.ToFloat64(srv.metrics.streams) == 0 })
	if left := srv.remembered(); left != 0 {
		t.Errorf("%d streams or subscriptions still remembered after every client left", left)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	goleak.VerifyNone(t)
}

// remembered counts the streams and subscriptions the server still holds.
func (s *Server) remembered() int {
	n := 0
	for _, k := range s.kinds {
		k.mu.RLock()
		n += len(k.streams)
		for _, tb := range k.tables {
			n += len(tb.wildcard)
			for _, e := range tb.bySlot {
				n += len(e.subs)
			}
		}
		k.mu.RUnlock()
	}
	return n
}
