package simenvoy

import (
	"context"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/switchyard/switchyard/envoy"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// waitTimeout bounds every wait of these tests.
const waitTimeout = 10 * time.Second

// testServer is an in-process go-control-plane ADS server in ADS mode that
// records every request as the client sent it, before the server fills in
// the node it remembers.
type testServer struct {
	cache cachev3.SnapshotCache
	addr  string

	mu      sync.Mutex
	reqs    []*discoveryv3.DiscoveryRequest
	changed chan struct{}
}

func startServer(t *testing.T) *testServer {
	t.Helper()
	ts := &testServer{cache: cachev3.NewSnapshotCache(true, cachev3.IDHash{}, nil), changed: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	gs := grpc.NewServer(grpc.StreamInterceptor(ts.intercept))
	discoveryv3.RegisterAggregatedDiscoveryServiceServer(gs, serverv3.NewServer(ctx, ts.cache, nil))
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts.addr = lis.Addr().String()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = gs.Serve(lis)
	}()
	t.Cleanup(func() {
		cancel()
		gs.Stop()
		<-done
	})
	return ts
}

// intercept records each request as it comes off the wire.
func (ts *testServer) intercept(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	return handler(srv, &recordingStream{ServerStream: ss, ts: ts})
}

type recordingStream struct {
	grpc.ServerStream
	ts *testServer
}

func (s *recordingStream) RecvMsg(m any) error {
	err := s.ServerStream.RecvMsg(m)
	if req, ok := m.(*discoveryv3.DiscoveryRequest); ok && err == nil {
		s.ts.mu.Lock()
		s.ts.reqs = append(s.ts.reqs, proto.Clone(req).(*discoveryv3.DiscoveryRequest))
		close(s.ts.changed)
		s.ts.changed = make(chan struct{})
		s.ts.mu.Unlock()
	}
	return err
}

// requests returns the requests received so far.
func (ts *testServer) requests() []*discoveryv3.DiscoveryRequest {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return slices.Clone(ts.reqs)
}

// waitRequest waits for a request after the first `from` ones that matches,
// and returns its index.
func (ts *testServer) waitRequest(t *testing.T, from int, what string, match func(*discoveryv3.DiscoveryRequest) bool) int {
	t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	for {
		ts.mu.Lock()
		reqs, changed := ts.reqs, ts.changed
		ts.mu.Unlock()
		for i := from; i < len(reqs); i++ {
			if match(reqs[i]) {
				return i
			}
		}
		select {
		case <-changed:
		case <-timer.C:
			t.Fatalf("%s: no such request within %s; requests: %v", what, waitTimeout, reqs[from:])
		}
	}
}

// set puts a snapshot in force for node "n1".
func (ts *testServer) set(t *testing.T, snap *cachev3.Snapshot) {
	t.Helper()
	if err := ts.cache.SetSnapshot(context.Background(), "n1", snap); err != nil {
		t.Fatal(err)
	}
}

// versions are the per-type versions of a test snapshot.
type versions struct{ cds, eds, lds, rds string }

// world is the content of a test snapshot.
type world struct {
	clusters  []types.Resource
	endpoints []types.Resource
	listeners []types.Resource
	routes    []types.Resource
}

func (w world) snapshot(v versions) *cachev3.Snapshot {
	snap := &cachev3.Snapshot{}
	snap.Resources[types.Cluster] = cachev3.NewResources(v.cds, w.clusters)
	snap.Resources[types.Endpoint] = cachev3.NewResources(v.eds, w.endpoints)
	snap.Resources[types.Listener] = cachev3.NewResources(v.lds, w.listeners)
	snap.Resources[types.Route] = cachev3.NewResources(v.rds, w.routes)
	return snap
}

func edsCluster(name string, timeout time.Duration) *clusterv3.Cluster {
	return envoy.EDSCluster(envoy.ClusterOptions{Name: name, ConnectTimeout: timeout})
}

func assignment(name, ip string, port uint32) types.Resource {
	return envoy.LoadAssignment(name, []envoy.LocalityEndpoints{{Endpoints: []envoy.Endpoint{{Address: ip, Port: port}}}})
}

// webWorld is one service, "web", behind listener "http" on port.
func webWorld(timeout time.Duration, port uint32) world {
	return world{
		clusters:  []types.Resource{edsCluster("web", timeout)},
		endpoints: []types.Resource{assignment("web", "127.0.0.1", 8080)},
		listeners: []types.Resource{envoy.HTTPListener("http", "0.0.0.0", port, "http")},
		routes: []types.Resource{envoy.RouteConfig("http", []*routev3.VirtualHost{
			envoy.VirtualHost("web", []string{"web"}, "web"),
		})},
	}
}

func start(t *testing.T, ts *testServer, cfg Config) *Envoy {
	t.Helper()
	if cfg.NodeID == "" {
		cfg.NodeID = "n1"
	}
	e, err := Start(context.Background(), ts.addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

func wait(t *testing.T, e *Envoy, what string, cond func(State) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := e.Wait(ctx, cond); err != nil {
		t.Fatalf("%s: %v; state %+v", what, err, e.State())
	}
}

// at reports whether every type is accepted at v and nothing is warming.
func at(v versions) func(State) bool {
	return func(s State) bool {
		return s.Types[resourcev3.ClusterType].Version == v.cds &&
			s.Types[resourcev3.EndpointType].Version == v.eds &&
			s.Types[resourcev3.ListenerType].Version == v.lds &&
			s.Types[resourcev3.RouteType].Version == v.rds &&
			len(s.Warming) == 0 && len(s.WarmingListeners) == 0
	}
}

func TestNodeOnFirstRequestOnly(t *testing.T) {
	ts := startServer(t)
	v1 := versions{"c1", "e1", "l1", "r1"}
	ts.set(t, webWorld(time.Second, 10000).snapshot(v1))
	e := start(t, ts, Config{Cluster: "edge"})
	wait(t, e, "first snapshot", at(v1))

	reqs := ts.requests()
	if len(reqs) < 4 {
		t.Fatalf("only %d requests", len(reqs))
	}
	if n := reqs[0].GetNode(); n.GetId() != "n1" || n.GetCluster() != "edge" || n.GetUserAgentName() != "envoy" {
		t.Errorf("first request's node = %v", n)
	}
	for i, r := range reqs[1:] {
		if r.GetNode() != nil {
			t.Errorf("request %d (%s) carries the node again", i+1, shortType(r.GetTypeUrl()))
		}
	}
}

// TestModifiedClusterWarmsUntilEndpoints is FAILURE_MODES row 5 from the
// proxy's side: a changed EDS cluster warms, Envoy asks for its endpoints
// again with nothing new in the request, and only an EDS response ends the
// warming — which a server answering only new versions never sends.
func TestModifiedClusterWarmsUntilEndpoints(t *testing.T) {
	ts := startServer(t)
	v1 := versions{"c1", "e1", "l1", "r1"}
	ts.set(t, webWorld(time.Second, 10000).snapshot(v1))
	e := start(t, ts, Config{})
	wait(t, e, "first snapshot", at(v1))
	edsNonce := ts.acked(t, resourcev3.EndpointType, "e1")
	mark := len(ts.requests())
	cdsACK := func(version string) func(*discoveryv3.DiscoveryRequest) bool {
		return func(r *discoveryv3.DiscoveryRequest) bool {
			return r.GetTypeUrl() == resourcev3.ClusterType && r.GetVersionInfo() == version && r.GetErrorDetail() == nil
		}
	}
	isEDS := func(r *discoveryv3.DiscoveryRequest) bool { return r.GetTypeUrl() == resourcev3.EndpointType }

	// Same content at a new CDS version: nothing warms, EDS is not asked
	// for again.
	ts.set(t, webWorld(time.Second, 10000).snapshot(versions{"c1b", "e1", "l1", "r1"}))
	wait(t, e, "unchanged clusters at a new version", func(s State) bool {
		return s.Types[resourcev3.ClusterType].Version == "c1b" && len(s.Warming) == 0
	})
	ts.waitRequest(t, mark, "CDS ACK of c1b", cdsACK("c1b"))

	// A changed cluster with the very same endpoints, EDS version kept.
	ts.set(t, webWorld(2*time.Second, 10000).snapshot(versions{"c2", "e1", "l1", "r1"}))
	wait(t, e, "modified cluster warms", func(s State) bool {
		return s.Types[resourcev3.ClusterType].Version == "c2" && slices.Equal(s.Warming, []string{"web"})
	})
	ack := ts.waitRequest(t, mark, "CDS ACK of c2", cdsACK("c2"))
	if i := slices.IndexFunc(ts.requests()[mark:ack], isEDS); i >= 0 {
		t.Errorf("EDS requested again after a CDS update that changed nothing: %v", ts.requests()[mark+i])
	}
	resend := ts.waitRequest(t, ack, "EDS request after the CDS update", isEDS)
	if r := ts.requests()[resend]; r.GetVersionInfo() != "e1" || r.GetResponseNonce() != edsNonce ||
		!slices.Equal(r.GetResourceNames(), []string{"web"}) || r.GetNode() != nil {
		t.Errorf("EDS request after the CDS update = %v; want version e1, nonce %q, names [web], no node", r, edsNonce)
	}
	if got := e.State().Warming; !slices.Equal(got, []string{"web"}) {
		t.Errorf("warming = %v before any EDS response", got)
	}

	// The same endpoints at a new EDS version end the warming.
	v3 := versions{"c2", "e2", "l1", "r1"}
	ts.set(t, webWorld(2*time.Second, 10000).snapshot(v3))
	wait(t, e, "endpoints end the warming", at(v3))
	if n := e.State().NACKs; len(n) != 0 {
		t.Errorf("NACKs: %v", n)
	}
}

// acked waits for the ACK of a version of a type and returns its nonce.
func (ts *testServer) acked(t *testing.T, typ, version string) string {
	t.Helper()
	i := ts.waitRequest(t, 0, "ACK of "+version, func(r *discoveryv3.DiscoveryRequest) bool {
		return r.GetTypeUrl() == typ && r.GetVersionInfo() == version && r.GetResponseNonce() != "" && r.GetErrorDetail() == nil
	})
	return ts.requests()[i].GetResponseNonce()
}

func TestModifiedListenerWarmsUntilRoutes(t *testing.T) {
	ts := startServer(t)
	v1 := versions{"c1", "e1", "l1", "r1"}
	ts.set(t, webWorld(time.Second, 10000).snapshot(v1))
	e := start(t, ts, Config{})
	wait(t, e, "first snapshot", at(v1))
	rdsNonce := ts.acked(t, resourcev3.RouteType, "r1")
	mark := len(ts.requests())

	ts.set(t, webWorld(time.Second, 10001).snapshot(versions{"c1", "e1", "l2", "r1"}))
	wait(t, e, "modified listener warms", func(s State) bool {
		return s.Types[resourcev3.ListenerType].Version == "l2" && slices.Equal(s.WarmingListeners, []string{"http"})
	})
	resend := ts.waitRequest(t, mark, "RDS request after the LDS update", func(r *discoveryv3.DiscoveryRequest) bool {
		return r.GetTypeUrl() == resourcev3.RouteType
	})
	if r := ts.requests()[resend]; r.GetVersionInfo() != "r1" || r.GetResponseNonce() != rdsNonce ||
		!slices.Equal(r.GetResourceNames(), []string{"http"}) {
		t.Errorf("RDS request after the LDS update = %v; want version r1, nonce %q, names [http]", r, rdsNonce)
	}
	v3 := versions{"c1", "e1", "l2", "r2"}
	ts.set(t, webWorld(time.Second, 10001).snapshot(v3))
	wait(t, e, "routes end the warming", at(v3))
}

// TestClustersComeAndGo adds a service and removes it again: the new cluster
// warms until its endpoints come, and a removed cluster's endpoints are
// forgotten.
func TestClustersComeAndGo(t *testing.T) {
	ts := startServer(t)
	v1 := versions{"c1", "e1", "l1", "r1"}
	w := webWorld(time.Second, 10000)
	ts.set(t, w.snapshot(v1))
	e := start(t, ts, Config{})
	wait(t, e, "first snapshot", at(v1))

	w2 := w
	w2.clusters = []types.Resource{edsCluster("api", time.Second), edsCluster("web", time.Second)}
	w2.endpoints = []types.Resource{assignment("api", "127.0.0.2", 8081), assignment("web", "127.0.0.1", 8080)}
	v2 := versions{"c2", "e2", "l1", "r1"}
	ts.set(t, w2.snapshot(v2))
	wait(t, e, "new cluster warmed", at(v2))
	if got := sortedKeys(e.State().Types[resourcev3.EndpointType].Resources); !slices.Equal(got, []string{"api", "web"}) {
		t.Errorf("endpoints of %v", got)
	}

	v3 := versions{"c3", "e3", "l1", "r1"}
	ts.set(t, w.snapshot(v3))
	wait(t, e, "cluster removed", at(v3))
	if got := sortedKeys(e.State().Types[resourcev3.EndpointType].Resources); !slices.Equal(got, []string{"web"}) {
		t.Errorf("endpoints of %v after api left", got)
	}
}

// TestEnvoyNACKs checks the rejections Envoy makes beyond proto validation,
// over a real stream, and that a route to an unknown cluster is accepted.
func TestEnvoyNACKs(t *testing.T) {
	dupDomains := webWorld(time.Second, 10000)
	dupDomains.routes = []types.Resource{envoy.RouteConfig("http", []*routev3.VirtualHost{
		envoy.VirtualHost("web", []string{"web", "web:*"}, "web"),
		envoy.VirtualHost("Web", []string{"WEB"}, "web"),
	})}
	logicalDNS := webWorld(time.Second, 10000)
	logicalDNS.clusters = append(logicalDNS.clusters, envoy.DNSCluster(envoy.ClusterOptions{Name: "ext"}, envoy.DNSStrict,
		[]envoy.LocalityEndpoints{{Endpoints: []envoy.Endpoint{{Address: "a.example", Port: 80}, {Address: "b.example", Port: 80}}}}))
	logicalDNS.clusters[1].(*clusterv3.Cluster).ClusterDiscoveryType = &clusterv3.Cluster_Type{Type: clusterv3.Cluster_LOGICAL_DNS}
	hostnameEDS := webWorld(time.Second, 10000)
	hostnameEDS.endpoints = []types.Resource{assignment("web", "web.example", 8080)}

	for _, tc := range []struct {
		name string
		w    world
		typ  string
		want string
	}{
		{"duplicate domains", dupDomains, resourcev3.RouteType,
			"only unique values for domains are permitted: duplicate entry of domain web in route http"},
		{"logical dns with two hosts", logicalDNS, resourcev3.ClusterType,
			"ext: LOGICAL_DNS clusters must have a single locality_lb_endpoint and a single lb_endpoint"},
		{"hostname over eds", hostnameEDS, resourcev3.EndpointType, "malformed IP address: web.example"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t)
			ts.set(t, tc.w.snapshot(versions{"c1", "e1", "l1", "r1"}))
			e := start(t, ts, Config{})
			wait(t, e, "NACK", func(s State) bool { return s.NACKs[tc.typ] >= 1 })
			st := e.State()
			if msg := st.LastNACK[tc.typ]; !strings.Contains(msg, tc.want) {
				t.Errorf("NACK message %q does not contain %q", msg, tc.want)
			}
			if _, ok := st.Types[tc.typ]; ok {
				t.Errorf("rejected %s was accepted: %v", shortType(tc.typ), st.Types[tc.typ].Version)
			}
			nack := ts.waitRequest(t, 0, "NACK on the wire", func(r *discoveryv3.DiscoveryRequest) bool {
				return r.GetTypeUrl() == tc.typ && r.GetErrorDetail() != nil
			})
			if r := ts.requests()[nack]; r.GetVersionInfo() != "" || !strings.Contains(r.GetErrorDetail().GetMessage(), tc.want) {
				t.Errorf("NACK request = %v", r)
			}
		})
	}

	t.Run("route to an unknown cluster", func(t *testing.T) {
		w := webWorld(time.Second, 10000)
		w.routes = []types.Resource{envoy.RouteConfig("http", []*routev3.VirtualHost{
			envoy.VirtualHost("web", []string{"web"}, "web"),
			envoy.VirtualHost("gone", []string{"gone"}, "gone"),
		})}
		ts := startServer(t)
		v1 := versions{"c1", "e1", "l1", "r1"}
		ts.set(t, w.snapshot(v1))
		e := start(t, ts, Config{})
		wait(t, e, "accepted", at(v1))
		if n := e.State().NACKs; len(n) != 0 {
			t.Errorf("NACKs: %v", n)
		}
	})
}

func TestCheck(t *testing.T) {
	clusters := map[string]proto.Message{"web": edsCluster("web", time.Second)}
	route := func(validate bool, cluster string, domains ...string) map[string]proto.Message {
		rc := envoy.RouteConfig("r", []*routev3.VirtualHost{envoy.VirtualHost("v", domains, cluster)})
		if validate {
			rc.ValidateClusters = wrapperspb.Bool(true)
		}
		return map[string]proto.Message{"r": rc}
	}
	strict := envoy.DNSCluster(envoy.ClusterOptions{Name: "ext"}, envoy.DNSStrict,
		[]envoy.LocalityEndpoints{{Endpoints: []envoy.Endpoint{{Address: "a.example", Port: 80}, {Address: "b.example", Port: 80}}}})
	logical := envoy.DNSCluster(envoy.ClusterOptions{Name: "ext"}, envoy.DNSLogical,
		[]envoy.LocalityEndpoints{{Endpoints: []envoy.Endpoint{{Address: "a.example", Port: 80}}}})
	static := envoy.DNSCluster(envoy.ClusterOptions{Name: "ext"}, envoy.DNSStrict,
		[]envoy.LocalityEndpoints{{Endpoints: []envoy.Endpoint{{Address: "a.example", Port: 80}}}})
	static.ClusterDiscoveryType = &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STATIC}
	for _, tc := range []struct {
		name string
		typ  string
		res  map[string]proto.Message
		want string // "" for accepted
	}{
		{"unique domains", resourcev3.RouteType, route(false, "web", "web", "web:*", "*"), ""},
		{"repeated domain in one vhost", resourcev3.RouteType, route(false, "web", "web", "Web"), "duplicate entry of domain web in route r"},
		{"two wildcards", resourcev3.RouteType, route(false, "web", "*", "*"), "only a single wildcard domain is permitted in route r"},
		{"unknown cluster", resourcev3.RouteType, route(false, "nope", "web"), ""},
		{"unknown cluster, validated", resourcev3.RouteType, route(true, "nope", "web"), "route: unknown cluster 'nope'"},
		{"known cluster, validated", resourcev3.RouteType, route(true, "web", "web"), ""},
		{"strict dns with hostnames", resourcev3.ClusterType, map[string]proto.Message{"ext": strict}, ""},
		{"logical dns with one host", resourcev3.ClusterType, map[string]proto.Message{"ext": logical}, ""},
		{"static with a hostname", resourcev3.ClusterType, map[string]proto.Message{"ext": static}, "ext: malformed IP address: a.example"},
		{"eds with ips", resourcev3.EndpointType, map[string]proto.Message{"web": assignment("web", "::1", 80)}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := check(tc.typ, tc.res, clusters)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("rejected: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
