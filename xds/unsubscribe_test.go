package xds

import (
	"context"
	"slices"
	"testing"
	"time"

	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
)

// edsClient is a bare delta client of endpoint assignments.
type edsClient struct {
	t     *testing.T
	st    grpc.BidiStreamingClient[discoveryv3.DeltaDiscoveryRequest, discoveryv3.DeltaDiscoveryResponse]
	resps chan *discoveryv3.DeltaDiscoveryResponse
}

// newEDSClient opens a delta ADS stream that receives on its own goroutine.
func newEDSClient(t *testing.T, addr string) *edsClient {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); conn.Close() })
	st, err := discoveryv3.NewAggregatedDiscoveryServiceClient(conn).DeltaAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := &edsClient{t: t, st: st, resps: make(chan *discoveryv3.DeltaDiscoveryResponse, 16)}
	go func() {
		defer close(c.resps)
		for {
			resp, err := st.Recv()
			if err != nil {
				return
			}
			c.resps <- resp
		}
	}()
	return c
}

// send sends one endpoint request.
func (c *edsClient) send(req *discoveryv3.DeltaDiscoveryRequest) {
	c.t.Helper()
	req.TypeUrl = resourcev3.EndpointType
	if err := c.st.Send(req); err != nil {
		c.t.Fatal(err)
	}
}

// next returns the next response, ACKed, as the names it puts and removes.
func (c *edsClient) next() (put, removed []string) {
	c.t.Helper()
	select {
	case resp, ok := <-c.resps:
		if !ok {
			c.t.Fatal("stream ended")
		}
		c.send(&discoveryv3.DeltaDiscoveryRequest{ResponseNonce: resp.GetNonce()})
		for _, r := range resp.GetResources() {
			put = append(put, r.GetName())
		}
		slices.Sort(put)
		return put, resp.GetRemovedResources()
	case <-time.After(10 * time.Second):
		c.t.Fatal("no response within 10s")
	}
	return nil, nil
}

// TestDeltaUnsubscribeAndLateNames checks that an unsubscribed name is no
// longer sent, that a name subscribed before it exists is sent once it
// does, and that a removal arrives in removed_resources.
func TestDeltaUnsubscribeAndLateNames(t *testing.T) {
	srv, addr := startServer(t)
	assignments := func(names ...string) Update {
		var u Update
		for i, n := range names {
			u.Changes = append(u.Changes, benchAssignment(n, uint32(8080+i), "v-"+n+time.Now().String()))
		}
		return u
	}
	if err := srv.Apply(KindEnvoy, assignments("api", "web")); err != nil {
		t.Fatal(err)
	}
	c := newEDSClient(t, addr)
	c.send(&discoveryv3.DeltaDiscoveryRequest{Node: envoyNode("eds"), ResourceNamesSubscribe: []string{"api", "web", "db"}})
	steps := []struct {
		name        string
		req         *discoveryv3.DeltaDiscoveryRequest
		update      Update
		put, remove []string
	}{
		{name: "first answer", put: []string{"api", "web"}},
		{name: "unsubscribed api is not sent", req: &discoveryv3.DeltaDiscoveryRequest{ResourceNamesUnsubscribe: []string{"api"}},
			update: assignments("api", "web"), put: []string{"web"}},
		{name: "db is sent once it exists", update: assignments("db"), put: []string{"db"}},
		{name: "removal", update: Update{Changes: []Change{{TypeURL: resourcev3.EndpointType, Name: "web"}}}, remove: []string{"web"}},
		{name: "api again once subscribed again", req: &discoveryv3.DeltaDiscoveryRequest{ResourceNamesSubscribe: []string{"api"}}, put: []string{"api"}},
	}
	for _, step := range steps {
		if step.req != nil {
			c.send(step.req)
			for _, n := range step.req.GetResourceNamesUnsubscribe() {
				waitFor(t, func() bool { return !srv.subscribed("eds", typeEndpoint, n) })
			}
		}
		if step.update.Changes != nil {
			if err := srv.Apply(KindEnvoy, step.update); err != nil {
				t.Fatal(err)
			}
		}
		put, removed := c.next()
		if !slices.Equal(put, step.put) || !slices.Equal(removed, step.remove) {
			t.Errorf("%s: put %v removed %v, want put %v removed %v", step.name, put, removed, step.put, step.remove)
		}
	}
}

// subscribed reports whether the stream of a node subscribes to a name by
// name.
func (s *Server) subscribed(node string, t typeID, name string) bool {
	for _, k := range s.kinds {
		k.mu.RLock()
		for st := range k.streams {
			e, ok := k.tables[t].byName[name]
			if st.node.GetId() == node && ok && st.subs[t] != nil && st.subs[t].names.has(e.slot) {
				k.mu.RUnlock()
				return true
			}
		}
		k.mu.RUnlock()
	}
	return false
}

// TestSotWNamesReplaceTheSubscription checks that a state-of-the-world
// request's names are the whole subscription: a name left out is no longer
// sent, and a repeated request changes nothing.
func TestSotWNamesReplaceTheSubscription(t *testing.T) {
	srv, addr := startServer(t)
	assignment := func(name, v string) Change { return benchAssignment(name, 8080, v) }
	if err := srv.Apply(KindEnvoy, Update{Changes: []Change{assignment("api", "1"), assignment("web", "1")}}); err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); conn.Close() })
	st, err := discoveryv3.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	send := func(nonce string, names ...string) {
		t.Helper()
		req := &discoveryv3.DiscoveryRequest{Node: envoyNode("sotw"), TypeUrl: resourcev3.EndpointType, ResponseNonce: nonce, ResourceNames: names}
		if err := st.Send(req); err != nil {
			t.Fatal(err)
		}
	}
	recv := func() (string, []string) {
		t.Helper()
		resp, err := st.Recv()
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, r := range resp.GetResources() {
			name, err := claName(r.GetValue())
			if err != nil {
				t.Fatal(err)
			}
			names = append(names, name)
		}
		slices.Sort(names)
		return resp.GetNonce(), names
	}
	send("", "api", "web")
	nonce, got := recv()
	if !slices.Equal(got, []string{"api", "web"}) {
		t.Fatalf("first response %v, want api and web", got)
	}
	send(nonce, "web")
	send(nonce, "web")
	waitFor(t, func() bool { return !srv.subscribed("sotw", typeEndpoint, "api") })
	if err := srv.Apply(KindEnvoy, Update{Changes: []Change{assignment("api", "2"), assignment("web", "2")}}); err != nil {
		t.Fatal(err)
	}
	if _, got := recv(); !slices.Equal(got, []string{"web"}) {
		t.Errorf("after dropping api: sent %v, want web alone", got)
	}
}

// claName returns the name of an encoded endpoint assignment.
func claName(b []byte) (string, error) {
	var cla endpointv3.ClusterLoadAssignment
	if err := proto.Unmarshal(b, &cla); err != nil {
		return "", err
	}
	return cla.GetClusterName(), nil
}
