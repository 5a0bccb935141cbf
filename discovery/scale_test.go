package discovery

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/switchyard/switchyard/internal/consulagent"
)

// scaleServicesEnv sets how many services TestScaleWithinConnectionBudget
// registers; 10000 reproduces the requirement's scale (about a minute).
const scaleServicesEnv = "SWITCHYARD_SCALE_SERVICES"

// scaleNodes spreads the registered services over this many catalog nodes.
const scaleNodes = 20

// TestScaleWithinConnectionBudget registers many services, more than the
// budget can watch one by one, and checks that the source loads them all,
// never opens more connections than Config.MaxConns, and sees each kind of
// change on a service covered by the change detector.
func TestScaleWithinConnectionBudget(t *testing.T) {
	n := 1000
	if v := os.Getenv(scaleServicesEnv); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			t.Fatalf("%s=%q: %v", scaleServicesEnv, v, err)
		}
	}
	if testing.Short() && n > 1000 {
		t.Skip("large scale run skipped with -short")
	}
	agent := consulagent.StartT(t)
	h := newHarness(t, agent, func(c *Config) { c.Logger = nil }) // debug logs per service are too many
	start := time.Now()
	registerMany(t, h.client, n)
	t.Logf("registered %d services in %s", n, time.Since(start))

	start = time.Now()
	h.run()
	h.waitModel("every service loaded", func(m Model) bool { return len(m.Services) == n+1 }) // + consul
	t.Logf("first full load of %d services in %s", n, time.Since(start))

	last := fmt.Sprintf("svc-%05d", n-1) // sorted last: followed by the detector
	lat := map[string][]time.Duration{}
	for i := range 10 {
		status := []string{api.HealthCritical, api.HealthPassing}[i%2]
		want := map[string]Health{api.HealthCritical: HealthCritical, api.HealthPassing: HealthPassing}[status]
		for _, svc := range []string{"svc-00000", last} {
			lat["health flip "+svc] = append(lat["health flip "+svc], h.timeChange(
				func() error { return setCheck(h.client, svc, status) }, hasHealth(svc, svc+"-1", want)))
		}
	}
	node := scaleNode(n - 1)
	for _, s := range []struct {
		desc   string
		change func() error
		want   func(Model) bool
	}{
		{"new instance", func() error { return registerInstance(h.client, node, last, last+"-2", "127.0.0.1", nil) },
			func(m Model) bool { in, ok := instance(m, last, last+"-2"); return ok && in.Address == "127.0.0.1" }},
		{"address change", func() error { return registerInstance(h.client, node, last, last+"-2", "127.0.0.2", nil) },
			func(m Model) bool { in, ok := instance(m, last, last+"-2"); return ok && in.Address == "127.0.0.2" }},
		{"deregistration", func() error {
			_, err := h.client.Catalog().Deregister(&api.CatalogDeregistration{Node: node, ServiceID: last + "-2"}, nil)
			return err
		}, func(m Model) bool { _, ok := instance(m, last, last+"-2"); return !ok }},
		{"new service", func() error { return registerInstance(h.client, node, "svc-new", "svc-new-1", "127.0.0.1", nil) },
			func(m Model) bool { _, ok := instance(m, "svc-new", "svc-new-1"); return ok }},
	} {
		lat[s.desc] = append(lat[s.desc], h.timeChange(s.change, s.want))
	}
	for desc, ds := range lat {
		slices.Sort(ds)
		t.Logf("%-26s median %s max %s (%d changes)", desc, ds[len(ds)/2], ds[len(ds)-1], len(ds))
		if ds[len(ds)-1] > 5*time.Second {
			t.Errorf("%s took %s, want under 5s", desc, ds[len(ds)-1])
		}
	}
	peak, budget := h.conns.Peak(), int64(DefaultMaxConns)
	t.Logf("connections to consul: %v open now, peak %d, budget %d; watch promotions %v", h.metric("switchyard_consul_connections"), peak, budget, h.metric("switchyard_consul_watch_promotions_total"))
	if peak > budget || peak == 0 {
		t.Errorf("peak connections = %d, want 1..%d", peak, budget)
	}
}

// timeChange makes a change and returns how long the source took to send a
// model that satisfies want.
func (h *harness) timeChange(change func() error, want func(Model) bool) time.Duration {
	h.t.Helper()
	start := time.Now()
	if err := change(); err != nil {
		h.t.Fatal(err)
	}
	h.waitModel("change seen", want)
	return time.Since(start)
}

// registerMany registers services svc-00000… with one passing instance each
// through the catalog API, from several goroutines.
func registerMany(t *testing.T, client *api.Client, n int) {
	t.Helper()
	const writers = 16
	errs := make(chan error, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += writers {
				svc := fmt.Sprintf("svc-%05d", i)
				check := &api.AgentCheck{CheckID: "check-" + svc + "-1", Name: "up", Status: api.HealthPassing, ServiceID: svc + "-1"}
				if err := registerInstance(client, scaleNode(i), svc, svc+"-1", "127.0.0.1", check); err != nil {
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

// scaleNode is the catalog node service i is registered on.
func scaleNode(i int) string {
	return fmt.Sprintf("scale-node-%02d", i%scaleNodes)
}

// registerInstance registers one instance, with check if not nil, on a
// catalog node (not the agent's own, whose anti-entropy would remove it).
func registerInstance(client *api.Client, node, svc, id, addr string, check *api.AgentCheck) error {
	_, err := client.Catalog().Register(&api.CatalogRegistration{
		Node: node, Address: "127.0.0.1", SkipNodeUpdate: true,
		Service: &api.AgentService{ID: id, Service: svc, Address: addr, Port: 8080},
		Check:   check,
	}, nil)
	if err != nil {
		return fmt.Errorf("register %s: %w", id, err)
	}
	return nil
}

// setCheck sets the status of the check of a service's first instance.
func setCheck(client *api.Client, svc, status string) error {
	id := svc + "-1"
	_, err := client.Catalog().Register(&api.CatalogRegistration{
		Node: scaleNode(mustIndex(svc)), SkipNodeUpdate: true,
		Check: &api.AgentCheck{CheckID: "check-" + id, Name: "up", Status: status, ServiceID: id},
	}, nil)
	return err
}

// mustIndex is the number in a svc-NNNNN name.
func mustIndex(svc string) int {
	i, _ := strconv.Atoi(svc[len("svc-"):])
	return i
}
