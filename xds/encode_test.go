package xds

import (
	"testing"

	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/switchyard/switchyard/internal/simenvoy"
)

// TestEachVersionEncodedOnce checks that a resource version is encoded once
// however many streams, state of the world or delta, it is sent on, and that
// a one-endpoint change encodes one resource.
func TestEachVersionEncodedOnce(t *testing.T) {
	srv, addr := startServer(t)
	world := benchWorld(50)
	if err := srv.Apply(KindEnvoy, world); err != nil {
		t.Fatal(err)
	}
	initial := float64(len(world.Changes))
	if got := testutil.ToFloat64(srv.metrics.encodes); got != initial {
		t.Fatalf("encoded %v resources for a world of %v", got, initial)
	}
	var fleet []*simenvoy.Envoy
	for i := range 20 {
		fleet = append(fleet, startEnvoy(t, addr, simenvoy.Config{NodeID: "e", Cluster: "edge", Delta: i%2 == 1}))
	}
	for _, e := range fleet {
		waitState(t, e, func(s simenvoy.State) bool { return len(s.Types[resourcev3.EndpointType].Resources) == 50 })
	}
	if got := testutil.ToFloat64(srv.metrics.encodes); got != initial {
		t.Errorf("encoded %v resources after serving 20 streams, want still %v", got, initial)
	}
	before := make([]simenvoy.State, len(fleet))
	for i, e := range fleet {
		before[i] = e.State()
	}
	if err := srv.Apply(KindEnvoy, Update{Changes: []Change{benchAssignment("service-00007", 9999, "e2")}}); err != nil {
		t.Fatal(err)
	}
	for i, e := range fleet {
		waitState(t, e, func(s simenvoy.State) bool {
			return s.Received[resourcev3.EndpointType] == before[i].Received[resourcev3.EndpointType]+1
		})
	}
	if got := testutil.ToFloat64(srv.metrics.encodes); got != initial+1 {
		t.Errorf("encoded %v resources after one change sent to 20 streams, want %v", got, initial+1)
	}
}

// TestResponsesShareEncodings checks that two streams' responses carry the
// very same encoded resource, not copies.
func TestResponsesShareEncodings(t *testing.T) {
	srv := New(Config{})
	if err := srv.Apply(KindEnvoy, benchWorld(3)); err != nil {
		t.Fatal(err)
	}
	k := srv.kinds[KindEnvoy]
	var sotw [2]*stream
	for i := range sotw {
		sotw[i] = newStream(int64(i))
		sotw[i].state = k
		k.register(sotw[i])
		if err := k.resubscribe(sotw[i], change{typ: typeEndpoint, add: []string{"service-00001"}, reset: true}); err != nil {
			t.Fatal(err)
		}
	}
	a, b := sotw[0].sotwResponse(typeEndpoint), sotw[1].sotwResponse(typeEndpoint)
	if a == nil || b == nil || len(a.Resources) != 1 || len(b.Resources) != 1 {
		t.Fatalf("responses %v and %v, want one assignment each", a, b)
	}
	if a.Resources[0] != b.Resources[0] || a.Resources[0] != k.tables[typeEndpoint].byName["service-00001"].any {
		t.Error("the two streams were sent different encodings of the same version")
	}
}
