package xds

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/switchyard/switchyard/envoy"
)

// benchWorld is the update that puts services × 10 endpoints in force,
// Envoy style: one cluster and one assignment per service, one listener
// and one route configuration.
func benchWorld(services int) Update {
	u := Update{Versions: map[string]string{}}
	var vhosts []*routev3.VirtualHost
	for s := range services {
		name := fmt.Sprintf("service-%05d", s)
		u.Changes = append(u.Changes,
			Change{TypeURL: resourcev3.ClusterType, Name: name, Version: "c1", Resource: envoy.EDSCluster(envoy.ClusterOptions{Name: name})},
			benchAssignment(name, 8080, "e1"))
		vhosts = append(vhosts, envoy.VirtualHost(name, []string{name}, name))
	}
	u.Changes = append(u.Changes,
		Change{TypeURL: resourcev3.ListenerType, Name: "http_10000", Version: "l1", Resource: envoy.HTTPListener("http_10000", "0.0.0.0", 10000, "http_10000")},
		Change{TypeURL: resourcev3.RouteType, Name: "http_10000", Version: "r1", Resource: envoy.RouteConfig("http_10000", vhosts)})
	for _, typeURL := range typeURLs {
		u.Versions[typeURL] = "v1"
	}
	return u
}

// benchAssignment is one service's endpoint assignment: ten endpoints from
// port on.
func benchAssignment(name string, port uint32, version string) Change {
	eps := make([]envoy.Endpoint, 10)
	for i := range eps {
		eps[i] = envoy.Endpoint{Address: fmt.Sprintf("127.0.0.%d", i+1), Port: port, Weight: 1}
	}
	return Change{TypeURL: resourcev3.EndpointType, Name: name, Version: version,
		Resource: envoy.LoadAssignment(name, []envoy.LocalityEndpoints{{Endpoints: eps}})}
}

// fanOutCounter counts endpoint assignments received by every bench client
// and closes done when the count reaches target.
type fanOutCounter struct {
	received atomic.Int64
	mu       sync.Mutex
	target   int64
	done     chan struct{}
}

// expect arms the counter for the next n receipts.
func (c *fanOutCounter) expect(n int64) <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.target = c.received.Load() + n
	c.done = make(chan struct{})
	return c.done
}

// add records n receipts.
func (c *fanOutCounter) add(n int64) {
	got := c.received.Add(n)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done != nil && got >= c.target {
		close(c.done)
		c.done = nil
	}
}

// benchClient opens a delta ADS stream on its own connection, subscribes
// like Envoy (wildcard clusters and listeners, every assignment and the
// route configuration by name), and acknowledges every response.
func benchClient(ctx context.Context, b *testing.B, addr string, names []string, counter *fanOutCounter) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	st, err := discoveryv3.NewAggregatedDiscoveryServiceClient(conn).DeltaAggregatedResources(ctx)
	if err != nil {
		b.Fatal(err)
	}
	reqs := []*discoveryv3.DeltaDiscoveryRequest{
		{TypeUrl: resourcev3.ClusterType},
		{TypeUrl: resourcev3.EndpointType, ResourceNamesSubscribe: names},
		{TypeUrl: resourcev3.ListenerType},
		{TypeUrl: resourcev3.RouteType, ResourceNamesSubscribe: []string{"http_10000"}},
	}
	reqs[0].Node = envoyNode("bench")
	for _, r := range reqs {
		if err := st.Send(r); err != nil {
			b.Fatal(err)
		}
	}
	go func() {
		for {
			resp, err := st.Recv()
			if err != nil {
				return
			}
			if resp.GetTypeUrl() == resourcev3.EndpointType {
				counter.add(int64(len(resp.GetResources())))
			}
			if st.Send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: resp.GetTypeUrl(), ResponseNonce: resp.GetNonce()}) != nil {
				return
			}
		}
	}()
}

// BenchmarkFanOut measures one endpoint change from Apply to its receipt
// on the last of 1,000 delta streams, each on its own connection, with
// 1,000 services × 10 endpoints in force. The clients share the process
// and its cores with the server.
func BenchmarkFanOut(b *testing.B) {
	for _, streams := range []int{100, 1000} {
		b.Run(fmt.Sprintf("streams=%d", streams), func(b *testing.B) {
			benchFanOut(b, 1000, streams)
		})
	}
}

// benchFanOut runs one fan-out benchmark.
func benchFanOut(b *testing.B, services, streams int) {
	srv := New(Config{ShutdownGrace: time.Second, MaxConcurrentStreams: 10})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr := serveBench(ctx, b, srv)
	world := benchWorld(services)
	if err := srv.Apply(KindEnvoy, world); err != nil {
		b.Fatal(err)
	}
	names := make([]string, services)
	for i := range names {
		names[i] = fmt.Sprintf("service-%05d", i)
	}
	counter := &fanOutCounter{}
	synced := counter.expect(int64(streams * services))
	for range streams {
		benchClient(ctx, b, addr, names, counter)
	}
	waitBench(b, synced, time.Minute)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		done := counter.expect(int64(streams))
		u := Update{Changes: []Change{benchAssignment(names[i%services], uint32(9000+i%1000), fmt.Sprintf("e%d", i+2))}}
		if err := srv.Apply(KindEnvoy, u); err != nil {
			b.Fatal(err)
		}
		waitBench(b, done, 30*time.Second)
	}
}

// serveBench serves srv on a loopback port until ctx ends.
func serveBench(ctx context.Context, b *testing.B, srv *Server) string {
	lis, err := listenLoopback()
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ctx, lis); err != nil {
			b.Error(err)
		}
	}()
	b.Cleanup(func() { <-done })
	return lis.Addr().String()
}

// waitBench waits for done, failing after timeout.
func waitBench(b *testing.B, done <-chan struct{}, timeout time.Duration) {
	select {
	case <-done:
	case <-time.After(timeout):
		b.Fatalf("not every stream received the change within %s", timeout)
	}
}

// envoyNode is the node of a bench client.
func envoyNode(id string) *corev3.Node {
	return &corev3.Node{Id: id, Cluster: "edge", UserAgentName: "envoy"}
}

// listenLoopback listens on a free loopback port.
func listenLoopback() (net.Listener, error) {
	return net.Listen("tcp", "127.0.0.1:0")
}
