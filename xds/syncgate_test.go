package xds

import (
	"testing"
	"time"

	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/switchyard/switchyard/internal/simenvoy"
)

// startGated serves a server with the given sync gate until the test ends.
func startGated(t *testing.T, slots int, hold time.Duration) (*Server, string) {
	t.Helper()
	return startServerWith(t, Config{ShutdownGrace: time.Second, MaxConcurrentSyncs: slots, SyncHold: hold})
}

// TestSyncGate checks that a slot comes back as soon as a client has
// answered its sync (ten proxies sync through one slot well within the hold
// of a minute), and that a client that never answers gives its slot up
// after the hold.
func TestSyncGate(t *testing.T) {
	synced := func(s simenvoy.State) bool { return len(s.Types[resourcev3.EndpointType].Resources) == 200 }
	t.Run("answered syncs free the slot", func(t *testing.T) {
		srv, addr := startGated(t, 1, time.Minute)
		if err := srv.Apply(KindEnvoy, benchWorld(200)); err != nil {
			t.Fatal(err)
		}
		var fleet []*simenvoy.Envoy
		for i := range 10 {
			fleet = append(fleet, startEnvoy(t, addr, simenvoy.Config{NodeID: "e", Cluster: "edge", Delta: i%2 == 0}))
		}
		for _, e := range fleet {
			waitState(t, e, synced)
		}
	})
	t.Run("a silent client gives the slot up", func(t *testing.T) {
		srv, addr := startGated(t, 1, 300*time.Millisecond)
		if err := srv.Apply(KindEnvoy, benchWorld(1000)); err != nil {
			t.Fatal(err)
		}
		stallClient(t, addr)
		waitFor(t, func() bool { return len(srv.gate.slots) == 1 })
		e := startEnvoy(t, addr, simenvoy.Config{NodeID: "healthy", Cluster: "edge", Delta: true})
		waitState(t, e, func(s simenvoy.State) bool { return len(s.Types[resourcev3.EndpointType].Resources) == 1000 })
	})
}
