package discovery

import (
	"slices"
	"testing"

	"github.com/hashicorp/consul/api"

	"github.com/switchyard/switchyard/internal/consulagent"
)

func TestChangedServicesFromFingerprints(t *testing.T) {
	node := func(name string, svcIdx, checkIdx uint64) dumpNode {
		n := dumpNode{Node: name, Address: "10.0.0.1"}
		n.Services = append(n.Services, struct {
			ID, Service string
			ModifyIndex uint64
		}{"web-1", "web", svcIdx})
		n.Checks = append(n.Checks, struct {
			CheckID, ServiceID, ServiceName string
			ModifyIndex                     uint64
		}{"c1", "web-1", "web", checkIdx})
		return n
	}
	base := fingerprints([]dumpNode{node("n1", 5, 6)})
	for desc, tc := range map[string]struct {
		next []dumpNode
		want []string
	}{
		"nothing":        {[]dumpNode{node("n1", 5, 6)}, nil},
		"instance write": {[]dumpNode{node("n1", 7, 6)}, []string{"web"}},
		"check write":    {[]dumpNode{node("n1", 5, 8)}, []string{"web"}},
		"node address":   {[]dumpNode{func() dumpNode { n := node("n1", 5, 6); n.Address = "10.0.0.2"; return n }()}, []string{"web"}},
		"gone":           {nil, []string{"web"}},
	} {
		if got := changedServices(base, fingerprints(tc.next)); !slices.Equal(got, tc.want) {
			t.Errorf("%s: changed = %q, want %q", desc, got, tc.want)
		}
	}
}

// TestSmallBudgetFollowsConsul runs with the smallest budget, where one
// service has a watch and the others are followed by the change detector.
func TestSmallBudgetFollowsConsul(t *testing.T) {
	h := newHarness(t, consulagent.StartT(t), func(c *Config) { c.MaxConns = MinMaxConns })
	h.register("api-1", "api", 9090, api.HealthPassing) // sorted first: watched
	h.register("web-1", "web", 8081, api.HealthPassing)
	h.run()
	h.waitModel("web-1 passing", hasHealth("web", "web-1", HealthPassing))
	agent := h.client.Agent()
	steps := []struct {
		desc   string
		change func() error
		want   func(Model) bool
	}{
		{"web-1 critical", func() error { return agent.UpdateTTL("ttl-web-1", "down", api.HealthCritical) }, hasHealth("web", "web-1", HealthCritical)},
		{"web-1 in maintenance", func() error { return agent.EnableServiceMaintenance("web-1", "deploy") }, hasHealth("web", "web-1", HealthMaintenance)},
		{"web-1 back", func() error { return agent.DisableServiceMaintenance("web-1") }, hasHealth("web", "web-1", HealthCritical)},
		{"web-2 without a check", func() error {
			return agent.ServiceRegister(&api.AgentServiceRegistration{ID: "web-2", Name: "web", Address: "127.0.0.1", Port: 8082})
		}, func(m Model) bool { in, ok := instance(m, "web", "web-2"); return ok && in.Port == 8082 }},
		{"web-2 moves port", func() error {
			return agent.ServiceRegister(&api.AgentServiceRegistration{ID: "web-2", Name: "web", Address: "127.0.0.1", Port: 8083})
		}, func(m Model) bool { in, ok := instance(m, "web", "web-2"); return ok && in.Port == 8083 }},
		{"web-2 gone", func() error { return agent.ServiceDeregister("web-2") },
			func(m Model) bool { _, ok := instance(m, "web", "web-2"); return !ok }},
	}
	for _, s := range steps {
		if err := s.change(); err != nil {
			t.Fatalf("%s: %v", s.desc, err)
		}
		h.waitModel(s.desc, s.want)
	}
	if peak := h.conns.Peak(); peak > MinMaxConns {
		t.Errorf("peak connections = %d, want at most %d", peak, MinMaxConns)
	}
}

// TestHotServiceGetsAWatch checks that a service past the watch budget that
// changes twice within a minute takes the watch of a quiet service, and
// that both are still followed afterwards, within the connection budget.
func TestHotServiceGetsAWatch(t *testing.T) {
	h := newHarness(t, consulagent.StartT(t), func(c *Config) { c.MaxConns = MinMaxConns })
	h.register("api-1", "api", 9090, api.HealthPassing) // sorted first: watched
	h.register("web-1", "web", 8081, api.HealthPassing)
	h.run()
	h.waitModel("web-1 passing", hasHealth("web", "web-1", HealthPassing))
	agent := h.client.Agent()
	steps := []struct {
		desc       string
		check, out string
		status     string
		want       Health
		promotions float64
	}{
		{"web-1 critical, seen by the detector", "ttl-web-1", "down", api.HealthCritical, HealthCritical, 0},
		{"web-1 passing again: hot, promoted", "ttl-web-1", "up", api.HealthPassing, HealthPassing, 1},
		{"web-1 critical, through its own watch", "ttl-web-1", "down", api.HealthCritical, HealthCritical, 1},
		{"api-1 critical, now through the detector", "ttl-api-1", "down", api.HealthCritical, HealthCritical, 1},
	}
	for _, s := range steps {
		if err := agent.UpdateTTL(s.check, s.out, s.status); err != nil {
			t.Fatalf("%s: %v", s.desc, err)
		}
		service, id := "web", "web-1"
		if s.check == "ttl-api-1" {
			service, id = "api", "api-1"
		}
		h.waitModel(s.desc, hasHealth(service, id, s.want))
		if got := h.metric("switchyard_consul_watch_promotions_total"); got != s.promotions {
			t.Errorf("%s: promotions = %v, want %v", s.desc, got, s.promotions)
		}
	}
	if peak := h.conns.Peak(); peak > MinMaxConns {
		t.Errorf("peak connections = %d, want at most %d", peak, MinMaxConns)
	}
}
