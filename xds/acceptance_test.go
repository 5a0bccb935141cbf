package xds

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/switchyard/switchyard/envoy"
	"github.com/switchyard/switchyard/internal/simenvoy"
)

// routeResp is a route response a routeClient received and has not
// answered.
type routeResp struct {
	nonce, version string
}

// routeClient is an ADS client, state of the world or delta, driven by hand
// for its route configurations: it ACKs every other response itself and
// hands each route response to the test, which answers it when it wants.
type routeClient struct {
	t      *testing.T
	mu     sync.Mutex // serialises sends
	answer func(typ string, r routeResp, nack string) error
	// sendDelta sends a request of its own on a delta stream.
	sendDelta func(*discoveryv3.DeltaDiscoveryRequest) error
	routes    chan routeResp
	cancel    context.CancelFunc
	done      chan struct{}
	once      sync.Once
}

// newRouteClient opens an ADS stream for node, subscribed to every
// cluster and listener and, unless routes is nil, to those route
// configurations ("*" for all).
func newRouteClient(t *testing.T, addr string, delta bool, node *corev3.Node, routes []string) *routeClient {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &routeClient{t: t, routes: make(chan routeResp, 16), done: make(chan struct{})}
	c.cancel = func() { cancel(); conn.Close() }
	ads := discoveryv3.NewAggregatedDiscoveryServiceClient(conn)
	var recv func() (string, routeResp, error)
	if delta {
		recv, err = c.openDelta(ctx, ads, node, routes)
	} else {
		recv, err = c.openSotW(ctx, ads, node, routes)
	}
	if err != nil {
		c.cancel()
		t.Fatal(err)
	}
	go c.receive(recv)
	t.Cleanup(c.close)
	return c
}

// openSotW opens a state-of-the-world stream and sends its first requests.
func (c *routeClient) openSotW(ctx context.Context, ads discoveryv3.AggregatedDiscoveryServiceClient, node *corev3.Node, routes []string) (func() (string, routeResp, error), error) {
	st, err := ads.StreamAggregatedResources(ctx)
	if err != nil {
		return nil, err
	}
	c.answer = func(typ string, r routeResp, nack string) error {
		req := &discoveryv3.DiscoveryRequest{Node: node, TypeUrl: typ, ResponseNonce: r.nonce, VersionInfo: r.version}
		if typ == resourcev3.RouteType {
			req.ResourceNames = routes
		}
		if nack != "" {
			req.ErrorDetail = &rpcstatus.Status{Code: int32(codes.InvalidArgument), Message: nack}
		}
		return st.Send(req)
	}
	if err := c.subscribe(routes); err != nil {
		return nil, err
	}
	return func() (string, routeResp, error) {
		resp, err := st.Recv()
		return resp.GetTypeUrl(), routeResp{nonce: resp.GetNonce(), version: resp.GetVersionInfo()}, err
	}, nil
}

// openDelta opens a delta stream and sends its first requests.
func (c *routeClient) openDelta(ctx context.Context, ads discoveryv3.AggregatedDiscoveryServiceClient, node *corev3.Node, routes []string) (func() (string, routeResp, error), error) {
	st, err := ads.DeltaAggregatedResources(ctx)
	if err != nil {
		return nil, err
	}
	c.sendDelta = st.Send
	c.answer = func(typ string, r routeResp, nack string) error {
		req := &discoveryv3.DeltaDiscoveryRequest{Node: node, TypeUrl: typ, ResponseNonce: r.nonce}
		if typ == resourcev3.RouteType && r.nonce == "" {
			req.ResourceNamesSubscribe = routes
		}
		if nack != "" {
			req.ErrorDetail = &rpcstatus.Status{Code: int32(codes.InvalidArgument), Message: nack}
		}
		return st.Send(req)
	}
	if err := c.subscribe(routes); err != nil {
		return nil, err
	}
	return func() (string, routeResp, error) {
		resp, err := st.Recv()
		return resp.GetTypeUrl(), routeResp{nonce: resp.GetNonce(), version: resp.GetSystemVersionInfo()}, err
	}, nil
}

// subscribe sends the first request of each type.
func (c *routeClient) subscribe(routes []string) error {
	typs := []string{resourcev3.ClusterType, resourcev3.ListenerType}
	if routes != nil {
		typs = append(typs, resourcev3.RouteType)
	}
	for _, typ := range typs {
		if err := c.answer(typ, routeResp{}, ""); err != nil {
			return err
		}
	}
	return nil
}

// receive ACKs every response but route ones, which go to the test.
func (c *routeClient) receive(recv func() (string, routeResp, error)) {
	defer close(c.done)
	for {
		typ, r, err := recv()
		if err != nil {
			return
		}
		if typ == resourcev3.RouteType {
			c.routes <- r
			continue
		}
		c.mu.Lock()
		err = c.answer(typ, r, "")
		c.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// nextRoute returns the next route response.
func (c *routeClient) nextRoute() routeResp {
	c.t.Helper()
	select {
	case r := <-c.routes:
		return r
	case <-time.After(10 * time.Second):
		c.t.Fatal("no route response within 10s")
	}
	return routeResp{}
}

// reply ACKs a route response, or NACKs it with a message.
func (c *routeClient) reply(r routeResp, nack string) {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.answer(resourcev3.RouteType, r, nack); err != nil {
		c.t.Fatal(err)
	}
}

// close ends the stream and waits for the receiving goroutine.
func (c *routeClient) close() {
	c.once.Do(func() {
		c.cancel()
		<-c.done
	})
}

// testNode is the node of a test client; userAgent decides its kind.
func testNode(id, userAgent string) *corev3.Node {
	return &corev3.Node{Id: id, Cluster: "edge", UserAgentName: userAgent}
}

// routeHash returns the content hash of a route configuration in force
// for a kind, "" for none.
func routeHash(srv *Server, kind Kind, name string) string {
	for _, tr := range srv.Resources(kind) {
		if tr.Type != "RDS" {
			continue
		}
		for _, r := range tr.Resources {
			if r.Name == name {
				return r.Version
			}
		}
	}
	return ""
}

// acceptanceOf returns how the clients of a kind stand with a route.
func acceptanceOf(srv *Server, kind Kind, name string) (RouteAcceptance, bool) {
	for _, ra := range srv.RouteAcceptance(name) {
		if ra.Kind == kind.String() {
			return ra, true
		}
	}
	return RouteAcceptance{}, false
}

// TestRouteAcceptance drives one client of each protocol and subscription
// by hand through versions of a route: PENDING until it ACKs the version
// in force, SYNCED then, REJECTED when it NACKs it, PENDING again for a
// version after, and gone when the stream closes. A client that does not
// subscribe to routes is never listed.
func TestRouteAcceptance(t *testing.T) {
	const route = "http_10000"
	type step struct {
		name string
		// publish are route versions published in turn, each sent before
		// the next; only the last response is answered.
		publish []string
		nack    string
		want    SyncState
	}
	steps := []step{
		{name: "first version", publish: []string{"r1"}, want: StateSynced},
		{name: "new version", publish: []string{"r2"}, want: StateSynced},
		{name: "rejected", publish: []string{"r3"}, nack: "route http_10000: rejected for the test", want: StateRejected},
		{name: "next after a rejection", publish: []string{"r4"}, want: StateSynced},
		{name: "two versions, the last answered", publish: []string{"r5", "r6"}, want: StateSynced},
		{name: "two versions, the last rejected", publish: []string{"r7", "r8"}, nack: "r8 is bad", want: StateRejected},
	}
	for _, tt := range []struct {
		name   string
		delta  bool
		routes []string
	}{
		{"sotw by name", false, []string{route}},
		{"sotw wildcard", false, []string{"*"}},
		{"delta by name", true, []string{route}},
		{"delta wildcard", true, []string{"*"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv, addr := startServer(t)
			other := newRouteClient(t, addr, tt.delta, testNode("no-routes", "envoy"), nil)
			c := newRouteClient(t, addr, tt.delta, testNode("edge-1", "envoy"), tt.routes)
			for _, st := range steps {
				var last routeResp
				for _, v := range st.publish {
					if err := srv.Publish(KindEnvoy, testSnapshotRDS(t, "v1", v, 8080)); err != nil {
						t.Fatal(err)
					}
					last = c.nextRoute()
				}
				hash := routeHash(srv, KindEnvoy, route)
				ra, ok := acceptanceOf(srv, KindEnvoy, route)
				want := []ProxyAcceptance{{ID: "edge-1", Group: "envoy/edge", Kind: "envoy", State: StatePending}}
				if !ok || ra.Name != route || ra.Hash != hash || ra.Route.GetName() != route || !slices.Equal(ra.Proxies, want) {
					t.Fatalf("%s: before the answer %+v, want hash %s and %+v", st.name, ra, hash, want)
				}
				c.reply(last, st.nack)
				want[0].State, want[0].Error = st.want, st.nack
				waitFor(t, func() bool {
					ra, _ := acceptanceOf(srv, KindEnvoy, route)
					return slices.Equal(ra.Proxies, want)
				})
			}
			other.close()
			c.close()
			waitFor(t, func() bool { ra, ok := acceptanceOf(srv, KindEnvoy, route); return ok && len(ra.Proxies) == 0 })
			if got := srv.RouteAcceptance("unknown"); len(got) != 0 {
				t.Errorf("unknown route: %+v, want nothing", got)
			}
		})
	}
}

// TestRouteAcceptanceUnsubscribe checks that a client that drops a route
// from its subscription is no longer listed and, subscribing again, is
// PENDING until it ACKs the version sent again.
func TestRouteAcceptanceUnsubscribe(t *testing.T) {
	srv, addr := startServer(t)
	if err := srv.Publish(KindEnvoy, testSnapshot(t, "v1", 8080)); err != nil {
		t.Fatal(err)
	}
	c := newRouteClient(t, addr, true, testNode("edge-1", "envoy"), []string{"http_10000"})
	c.reply(c.nextRoute(), "")
	standing := func() []ProxyAcceptance {
		ra, _ := acceptanceOf(srv, KindEnvoy, "http_10000")
		return ra.Proxies
	}
	waitFor(t, func() bool { p := standing(); return len(p) == 1 && p[0].State == StateSynced })
	send := func(req *discoveryv3.DeltaDiscoveryRequest) {
		t.Helper()
		c.mu.Lock()
		defer c.mu.Unlock()
		req.TypeUrl = resourcev3.RouteType
		if err := c.sendDelta(req); err != nil {
			t.Fatal(err)
		}
	}
	send(&discoveryv3.DeltaDiscoveryRequest{ResourceNamesUnsubscribe: []string{"http_10000"}})
	waitFor(t, func() bool { return len(standing()) == 0 })
	send(&discoveryv3.DeltaDiscoveryRequest{ResourceNamesSubscribe: []string{"http_10000"}})
	waitFor(t, func() bool { return len(standing()) == 1 })
	if p := standing(); p[0].State != StatePending {
		t.Errorf("subscribed again: %+v, want PENDING until the version sent again is ACKed", p)
	}
	c.reply(c.nextRoute(), "")
	waitFor(t, func() bool { p := standing(); return len(p) == 1 && p[0].State == StateSynced })
}

// TestRouteAcceptanceKinds checks that each client kind gets its own
// entry for a route both kinds' tables hold, with its own hash and
// clients; that a route only one kind holds has one entry; and that a
// removed route stays listed with no route in force.
func TestRouteAcceptanceKinds(t *testing.T) {
	srv, addr := startServer(t)
	if err := srv.Publish(KindEnvoy, testSnapshotRDS(t, "v1", "envoy-routes", 8080)); err != nil {
		t.Fatal(err)
	}
	if err := srv.Publish(KindGRPC, testSnapshotRDS(t, "v1", "grpc-routes", 8080)); err != nil {
		t.Fatal(err)
	}
	startEnvoy(t, addr, simenvoy.Config{NodeID: "envoy-1", Cluster: "edge"})
	startEnvoy(t, addr, simenvoy.Config{NodeID: "app-1", Cluster: "apps", UserAgent: "gRPC Go", Delta: true})
	envoyHash, grpcHash := routeHash(srv, KindEnvoy, "http_10000"), routeHash(srv, KindGRPC, "http_10000")
	if envoyHash == grpcHash {
		t.Fatalf("both kinds hold route hash %s; the test wants them apart", envoyHash)
	}
	want := []RouteAcceptance{
		{Kind: "envoy", Name: "http_10000", Hash: envoyHash, Proxies: []ProxyAcceptance{{ID: "envoy-1", Group: "envoy/edge", Kind: "envoy", State: StateSynced}}},
		{Kind: "grpc", Name: "http_10000", Hash: grpcHash, Proxies: []ProxyAcceptance{{ID: "app-1", Group: "grpc/apps", Kind: "grpc", State: StateSynced}}},
	}
	waitFor(t, func() bool { return sameAcceptance(srv.RouteAcceptance("http_10000"), want) })

	only := Change{TypeURL: resourcev3.RouteType, Name: "only-envoy", Version: "h1", Resource: envoy.RouteConfig("only-envoy", nil)}
	if err := srv.Apply(KindEnvoy, Update{Changes: []Change{only}}); err != nil {
		t.Fatal(err)
	}
	got := srv.RouteAcceptance("only-envoy", "unknown")
	if len(got) != 1 || got[0].Kind != "envoy" || got[0].Hash != "h1" || got[0].Route.GetName() != "only-envoy" || len(got[0].Proxies) != 0 {
		t.Errorf("route only the envoy kind holds: %+v, want one envoy entry with no proxies", got)
	}
	if err := srv.Apply(KindEnvoy, Update{Changes: []Change{{TypeURL: resourcev3.RouteType, Name: "only-envoy"}}}); err != nil {
		t.Fatal(err)
	}
	got = srv.RouteAcceptance("only-envoy")
	if len(got) != 1 || got[0].Route != nil || got[0].Hash != "" {
		t.Errorf("removed route: %+v, want listed with no route in force", got)
	}
}

// sameAcceptance compares two RouteAcceptance lists but for their
// decoded routes, which must be there.
func sameAcceptance(got, want []RouteAcceptance) bool {
	return slices.EqualFunc(got, want, func(a, b RouteAcceptance) bool {
		return a.Kind == b.Kind && a.Name == b.Name && a.Hash == b.Hash && a.Route.GetName() == a.Name &&
			slices.Equal(a.Proxies, b.Proxies)
	})
}

// TestRouteAcceptanceConcurrent reads acceptance while routes are
// published and a fleet of both protocols ACKs them, for the race
// detector, and checks that the fleet ends SYNCED on the last version,
// sorted by ID.
func TestRouteAcceptanceConcurrent(t *testing.T) {
	srv, addr := startServer(t)
	if err := srv.Publish(KindEnvoy, testSnapshotRDS(t, "v1", "r0", 8080)); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range 4 {
		id := fmt.Sprintf("proxy-%d", 3-i)
		ids = append(ids, id)
		startEnvoy(t, addr, simenvoy.Config{NodeID: id, Cluster: "edge", Delta: i%2 == 0})
	}
	slices.Sort(ids)
	stop := make(chan struct{})
	read := make(chan int)
	go func() {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		n := 0
		for {
			select {
			case <-stop:
				read <- n
				return
			case <-tick.C:
			}
			for _, ra := range srv.RouteAcceptance("http_10000") {
				n += len(ra.Proxies)
			}
		}
	}()
	for i := range 20 {
		if err := srv.Publish(KindEnvoy, testSnapshotRDS(t, "v1", fmt.Sprintf("r%d", i+1), 8080)); err != nil {
			t.Fatal(err)
		}
	}
	hash := routeHash(srv, KindEnvoy, "http_10000")
	waitFor(t, func() bool {
		ra, _ := acceptanceOf(srv, KindEnvoy, "http_10000")
		if ra.Hash != hash || len(ra.Proxies) != len(ids) {
			return false
		}
		for i, p := range ra.Proxies {
			if p.ID != ids[i] || p.State != StateSynced {
				return false
			}
		}
		return true
	})
	close(stop)
	if n := <-read; n == 0 {
		t.Error("RouteAcceptance never listed a proxy while routes were published")
	}
}

// TestRouteAcceptanceResume checks that a delta client reconnecting with
// the route version in force among its initial_resource_versions is
// SYNCED though, the route not being sent again, it ACKs nothing of it.
func TestRouteAcceptanceResume(t *testing.T) {
	srv, addr := startServer(t)
	if err := srv.Publish(KindEnvoy, testSnapshot(t, "v1", 8080)); err != nil {
		t.Fatal(err)
	}
	synced := func() bool {
		ra, _ := acceptanceOf(srv, KindEnvoy, "http_10000")
		return len(ra.Proxies) == 1 && ra.Proxies[0].State == StateSynced
	}
	first, err := simenvoy.Start(context.Background(), addr, simenvoy.Config{NodeID: "d1", Cluster: "edge", Delta: true})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, synced)
	held := first.State()
	first.Close()
	waitFor(t, func() bool { ra, _ := acceptanceOf(srv, KindEnvoy, "http_10000"); return len(ra.Proxies) == 0 })
	again := startEnvoy(t, addr, simenvoy.Config{NodeID: "d1", Cluster: "edge", Delta: true, Resume: held})
	waitFor(t, synced)
	if n := again.State().Responses[resourcev3.RouteType]; n != 0 {
		t.Errorf("resumed client was sent %d route responses, want none", n)
	}
}

// TestRouteAcksAnswers checks how answers to responses carrying routes
// move a client's standing, state of the world (an answer covers every
// earlier response) and delta (an answer covers its own).
func TestRouteAcksAnswers(t *testing.T) {
	put := func(name, hash string) delta { return delta{put: []*entry{{name: name, hash: hash}}} }
	removed := func(name string) delta { return delta{removed: []string{name}} }
	type standing struct {
		name, hash string
		state      SyncState
	}
	for _, tt := range []struct {
		name string
		run  func(a *routeAcks)
		want []standing
	}{
		{"sotw: an ACK covers earlier responses", func(a *routeAcks) {
			a.sent("1", put("a", "h1"))
			a.sent("2", put("b", "h2"))
			a.answered("2", false, "", true)
		}, []standing{{"a", "h1", StateSynced}, {"b", "h2", StateSynced}}},
		{"delta: an ACK covers its own response", func(a *routeAcks) {
			a.sent("1", put("a", "h1"))
			a.sent("2", put("b", "h2"))
			a.answered("2", false, "", false)
		}, []standing{{"a", "h1", StatePending}, {"b", "h2", StateSynced}}},
		{"sotw: a NACK rejects its own response only", func(a *routeAcks) {
			a.sent("1", put("a", "h1"))
			a.sent("2", put("b", "h2"))
			a.answered("2", true, "bad", true)
		}, []standing{{"a", "h1", StateSynced}, {"b", "h2", StateRejected}}},
		{"a NACK keeps the accepted version", func(a *routeAcks) {
			a.sent("1", put("a", "h1"))
			a.answered("1", false, "", true)
			a.sent("2", put("a", "h2"))
			a.answered("2", true, "bad", true)
		}, []standing{{"a", "h1", StateSynced}, {"a", "h2", StateRejected}}},
		{"an ACK after a NACK clears it", func(a *routeAcks) {
			a.sent("1", put("a", "h1"))
			a.answered("1", true, "bad", false)
			a.sent("2", put("a", "h2"))
			a.answered("2", false, "", false)
		}, []standing{{"a", "h1", StatePending}, {"a", "h2", StateSynced}}},
		{"an acknowledged removal holds nothing", func(a *routeAcks) {
			a.sent("1", put("a", "h1"))
			a.answered("1", false, "", true)
			a.sent("2", removed("a"))
			a.answered("2", false, "", true)
		}, []standing{{"a", "", StateSynced}, {"a", "h1", StatePending}}},
		{"an unanswered removal", func(a *routeAcks) {
			a.sent("1", put("a", "h1"))
			a.answered("1", false, "", true)
			a.sent("2", removed("a"))
		}, []standing{{"a", "", StatePending}}},
		{"a forgotten route is not taken back by a late ACK", func(a *routeAcks) {
			a.sent("1", put("a", "h1"))
			a.forget("a")
			a.answered("1", false, "", true)
		}, []standing{{"a", "h1", StatePending}}},
		{"a repeated answer counts once", func(a *routeAcks) {
			a.sent("1", put("a", "h1"))
			a.answered("1", false, "", true)
			a.sent("2", put("a", "h2"))
			a.answered("1", false, "", true)
		}, []standing{{"a", "h2", StatePending}}},
		{"a declared version is accepted", func(a *routeAcks) {
			a.declared("a", "h1")
		}, []standing{{"a", "h1", StateSynced}, {"b", "h1", StatePending}}},
		{"retain keeps only the subscribed", func(a *routeAcks) {
			a.declared("a", "h1")
			a.declared("b", "h1")
			a.retain(func(name string) bool { return name == "b" })
		}, []standing{{"a", "h1", StatePending}, {"b", "h1", StateSynced}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var a routeAcks
			tt.run(&a)
			for _, w := range tt.want {
				if got, _ := a.standing(w.name, w.hash); got != w.state {
					t.Errorf("%s at %q: %s, want %s", w.name, w.hash, got, w.state)
				}
			}
		})
	}
}
