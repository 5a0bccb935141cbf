package main

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/hashicorp/consul/api"

	"github.com/switchyard/switchyard/internal/simenvoy"
)

// registerCatalog registers n services svc-NNNN with one instance each on
// catalog nodes, tagging the first scoped of them "scoped", with a few
// workers at a time.
func registerCatalog(t *testing.T, c *consulFixture, n, scoped int) {
	t.Helper()
	const workers = 8
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				if err := registerCatalogInstance(c, i, 1, scoped); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// registerCatalogInstance registers instance k of service svc-NNNN i on
// 127.0.0.1, tagged "scoped" when i < scoped.
func registerCatalogInstance(c *consulFixture, i, k, scoped int) error {
	var tags []string
	if i < scoped {
		tags = []string{"scoped"}
	}
	svc := fmt.Sprintf("svc-%04d", i)
	_, err := c.client.Catalog().Register(&api.CatalogRegistration{
		Node: fmt.Sprintf("fleet-node-%d", i%10), Address: "127.0.0.1", SkipNodeUpdate: true,
		Service: &api.AgentService{ID: fmt.Sprintf("%s-%d", svc, k), Service: svc, Address: "127.0.0.1", Port: 20000 + k, Tags: tags},
	}, nil)
	if err != nil {
		return fmt.Errorf("register %s: %w", svc, err)
	}
	return nil
}

// TestFleetScopedToTenOfAThousand checks that, with 1,000 services in
// Consul and a fleet scoped to the 10 tagged "scoped", the fleet's
// proxies receive 10 clusters, and a change to an out-of-scope service
// sends them nothing.
func TestFleetScopedToTenOfAThousand(t *testing.T) {
	c := startConsul(t)
	registerCatalog(t, c, 1000, 10)
	c.kvPut(t, "switchyard/fleets/scoped", []byte(`{"version": 1,
		"listeners": [{"name": "http", "port": 8080, "protocol": "http"}],
		"services": {"tags": ["scoped"]}}`))
	sy := startSwitchyard(t, c.agent.HTTPAddr)
	scoped := startFleetEnvoy(t, sy.app.XDSAddr(), "scoped-1", "scoped")
	all := startFleetEnvoy(t, sy.app.XDSAddr(), "all-1", "all")

	tenClusters := func(s simenvoy.State) bool {
		return len(s.Types[resourcev3.ClusterType].Resources) == 10 && len(s.Types[resourcev3.EndpointType].Resources) == 10 &&
			len(s.Warming) == 0 && len(s.WarmingListeners) == 0
	}
	waitEnvoy(t, scoped, "10 scoped clusters", tenClusters)
	waitEnvoy(t, all, "every cluster", func(s simenvoy.State) bool { return len(s.Types[resourcev3.ClusterType].Resources) >= 1000 })
	if got := names(scoped.State(), resourcev3.ClusterType); !strings.HasPrefix(got, "svc-0000,svc-0001,") || !strings.HasSuffix(got, ",svc-0009") {
		t.Fatalf("scoped clusters %s, want svc-0000 to svc-0009", got)
	}
	t.Logf("bytes received: scoped fleet proxy %d, default proxy %d", total(scoped.State().Bytes), total(all.State().Bytes))

	before := scoped.State()
	if err := registerCatalogInstance(c, 500, 2, 10); err != nil {
		t.Fatal(err)
	}
	waitEnvoy(t, all, "the out-of-scope change", func(s simenvoy.State) bool { return len(endpointAddrs(s, "svc-0500")) == 2 })
	if err := registerCatalogInstance(c, 3, 2, 10); err != nil {
		t.Fatal(err)
	}
	waitEnvoy(t, scoped, "the in-scope change", func(s simenvoy.State) bool { return len(endpointAddrs(s, "svc-0003")) == 2 })
	if got := responsesSince(before, scoped.State()); fmt.Sprint(got) != "map[ClusterLoadAssignment:1]" {
		t.Errorf("an out-of-scope then an in-scope change sent the fleet %v, want one EDS response", got)
	}
	if s := scoped.State(); !tenClusters(s) {
		t.Errorf("the fleet holds %d clusters, want 10", len(s.Types[resourcev3.ClusterType].Resources))
	}
}

// total sums a count by type.
func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
