package simenvoy

import (
	"slices"
	"testing"
	"time"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
)

// TestDeltaSubscribesAndUnsubscribes checks delta mode against
// go-control-plane's own delta server: wildcard clusters and listeners,
// endpoints and routes by name, removals applied and names unsubscribed,
// and a resumed proxy that is sent nothing it already holds.
func TestDeltaSubscribesAndUnsubscribes(t *testing.T) {
	ts := startServer(t)
	w := webWorld(time.Second, 10000)
	w.clusters = []types.Resource{edsCluster("api", time.Second), edsCluster("web", time.Second)}
	w.endpoints = []types.Resource{assignment("api", "127.0.0.2", 8081), assignment("web", "127.0.0.1", 8080)}
	ts.set(t, w.snapshot(versions{"c1", "e1", "l1", "r1"}))
	e := start(t, ts, Config{Delta: true})
	wait(t, e, "first snapshot", func(s State) bool {
		return slices.Equal(sortedKeys(s.Types[resourcev3.EndpointType].Resources), []string{"api", "web"}) &&
			len(s.Types[resourcev3.RouteType].Resources) == 1 && len(s.Warming) == 0 && len(s.WarmingListeners) == 0
	})
	if got := e.State().Subscribed[resourcev3.EndpointType]; !slices.Equal(got, []string{"api", "web"}) {
		t.Errorf("EDS subscription = %v", got)
	}

	ts.set(t, webWorld(time.Second, 10000).snapshot(versions{"c2", "e2", "l1", "r1"}))
	wait(t, e, "api removed", func(s State) bool {
		return slices.Equal(sortedKeys(s.Types[resourcev3.ClusterType].Resources), []string{"web"}) &&
			slices.Equal(sortedKeys(s.Types[resourcev3.EndpointType].Resources), []string{"web"}) &&
			slices.Equal(s.Subscribed[resourcev3.EndpointType], []string{"web"})
	})
	st := e.State()
	if st.Removed[resourcev3.ClusterType] != 1 {
		t.Errorf("clusters removed = %d, want 1", st.Removed[resourcev3.ClusterType])
	}
	if _, ok := st.ResourceVersions[resourcev3.EndpointType]["api"]; ok {
		t.Error("the unsubscribed assignment's version is still held")
	}

	e.Close()
	resumed := start(t, ts, Config{Delta: true, Resume: st})
	wait(t, resumed, "wildcard answers", func(s State) bool {
		return s.Responses[resourcev3.ClusterType] == 1 && s.Responses[resourcev3.ListenerType] == 1
	})
	if got := resumed.State().Received; got[resourcev3.ClusterType]+got[resourcev3.ListenerType] != 0 {
		t.Errorf("resumed proxy was sent %v", got)
	}
}
