package xds

import (
	"context"
	"fmt"
	"testing"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/switchyard/switchyard/internal/simenvoy"
)

// TestStalledStreamBlocksNothing checks that a client that stops reading
// delays neither publishing nor other streams, and that what is pending for
// it stays bounded however many changes it misses.
func TestStalledStreamBlocksNothing(t *testing.T) {
	srv, addr := startServer(t)
	const services = 1000
	if err := srv.Apply(KindEnvoy, benchWorld(services)); err != nil {
		t.Fatal(err)
	}
	stalled := stallClient(t, addr)
	healthy := startEnvoy(t, addr, simenvoy.Config{NodeID: "healthy", Cluster: "edge", Delta: true})
	waitState(t, healthy, func(s simenvoy.State) bool { return len(s.Types[resourcev3.EndpointType].Resources) == services })

	const changes = 3 * services
	for i := range changes {
		name := fmt.Sprintf("service-%05d", i%services)
		if err := srv.Apply(KindEnvoy, Update{Changes: []Change{benchAssignment(name, uint32(10000+i), fmt.Sprintf("c%d", i))}}); err != nil {
			t.Fatal(err)
		}
	}
	last := fmt.Sprintf("service-%05d", (changes-1)%services)
	waitState(t, healthy, func(s simenvoy.State) bool {
		return s.ResourceVersions[resourcev3.EndpointType][last] != "" &&
			s.ResourceVersions[resourcev3.EndpointType][last] == srv.kinds[KindEnvoy].versionOf(typeEndpoint, last)
	})
	st := stalled.stream(t, srv)
	st.mu.Lock()
	pending, all := len(st.pending[typeEndpoint]), st.all[typeEndpoint]
	st.mu.Unlock()
	if bound := 2*services + 64 + 1; pending > bound {
		t.Errorf("%d endpoint marks pending for the stalled stream after %d changes, want at most %d", pending, changes, bound)
	}
	t.Logf("stalled stream: %d marks pending, whole type pending %v", pending, all)
}

// stalled is a delta client that subscribes like Envoy and never reads.
type stalled struct{ id string }

// stallClient opens a stalled client.
func stallClient(t *testing.T, addr string) stalled {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	st, err := discoveryv3.NewAggregatedDiscoveryServiceClient(conn).DeltaAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, 1000)
	for i := range names {
		names[i] = fmt.Sprintf("service-%05d", i)
	}
	for _, req := range []*discoveryv3.DeltaDiscoveryRequest{
		{TypeUrl: resourcev3.ClusterType, Node: envoyNode("stalled")},
		{TypeUrl: resourcev3.EndpointType, ResourceNamesSubscribe: names},
	} {
		if err := st.Send(req); err != nil {
			t.Fatal(err)
		}
	}
	return stalled{id: "stalled"}
}

// stream returns the server's stream of the stalled client.
func (c stalled) stream(t *testing.T, srv *Server) *stream {
	t.Helper()
	k := srv.kinds[KindEnvoy]
	k.mu.RLock()
	defer k.mu.RUnlock()
	for st := range k.streams {
		if st.node.GetId() == c.id {
			return st
		}
	}
	t.Fatal("no stream for the stalled client")
	return nil
}

// versionOf returns the wire version of a resource, "" if it does not exist.
func (k *kindState) versionOf(t typeID, name string) string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if e, ok := k.tables[t].byName[name]; ok {
		return e.version
	}
	return ""
}
