package discovery

import (
	"errors"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/consul/api"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/switchyard/switchyard/internal/consulagent"
)

// unreachableClient returns a Consul client of an address nothing listens
// on, for tests that drive a source by hand.
func unreachableClient(t *testing.T) *api.Client {
	t.Helper()
	client, err := api.NewClient(&api.Config{Address: "127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	return client
}

// offlineSource returns a source with cfg's settings on unreachableClient.
func offlineSource(t *testing.T, cfg Config) *ConsulSource {
	t.Helper()
	cfg.Client = unreachableClient(t)
	src, err := NewConsulSource(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func TestNewConsulSourceRejectsBadConfig(t *testing.T) {
	client := unreachableClient(t)
	for name, cfg := range map[string]Config{
		"no client":         {},
		"backoff unordered": {Client: client, MinBackoff: 2, MaxBackoff: 1},
		"negative burst":    {Client: client, RateBurst: -1},
	} {
		if _, err := NewConsulSource(cfg); err == nil {
			t.Errorf("%s: NewConsulSource succeeded, want an error", name)
		}
	}
}

func TestFirstModelOnlyAfterFullLoad(t *testing.T) {
	h := newHarness(t, consulagent.StartT(t), nil)
	h.register("web-1", "web", 8081, api.HealthPassing)
	h.register("web-2", "web", 8082, api.HealthWarning)
	h.register("api-1", "api", 9090, api.HealthCritical)
	if st := h.src.Status(); st.Ready {
		t.Fatalf("status before Run = %+v, want not ready", st)
	}
	h.run()

	m := h.waitModel("any", func(Model) bool { return true })
	catalog, _, err := h.client.Catalog().Services(nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(slices.Sorted(maps.Keys(catalog)), serviceNames(m)); diff != "" {
		t.Fatalf("first model is not the full catalog (-catalog +model):\n%s", diff)
	}
	if m.Datacenter != "dc1" {
		t.Errorf("model datacenter = %q, want the agent's dc1", m.Datacenter)
	}
	// A dev agent's node has this meta and a passing serfHealth check; the
	// agent may add the meta just after the first model (its node sync
	// races the registrations), so the detail is checked on the model
	// that carries it.
	nodeMeta := map[string]string{"consul-network-segment": ""}
	hasNodeMeta := func(m Model) bool {
		in, ok := instance(m, "web", "web-1")
		return ok && maps.Equal(in.NodeMeta, nodeMeta)
	}
	if !hasNodeMeta(m) {
		m = h.waitModel("web's node meta", hasNodeMeta)
	}
	web := m.Services[slices.IndexFunc(m.Services, func(s Service) bool { return s.Name == "web" })]
	serf := Check{CheckID: "serfHealth", Name: "Serf Health Status", Status: api.HealthPassing}
	webCheck := func(id, status string) Check {
		return Check{CheckID: "ttl-" + id, Name: "Service 'web' check", Status: status, ServiceID: id}
	}
	want := Service{
		Name: "web", Datacenter: "dc1", Tags: []string{"v1"}, Meta: map[string]string{"team": "payments"},
		Instances: []Instance{
			{ID: "web-1", Node: h.agent.NodeName, Address: "127.0.0.1", Port: 8081, Tags: []string{"v1"}, Meta: map[string]string{"team": "payments"}, Health: HealthPassing, Weights: Weights{1, 1},
				NodeAddress: "127.0.0.1", NodeMeta: nodeMeta, Checks: []Check{serf, webCheck("web-1", api.HealthPassing)}},
			{ID: "web-2", Node: h.agent.NodeName, Address: "127.0.0.1", Port: 8082, Tags: []string{"v1"}, Meta: map[string]string{"team": "payments"}, Health: HealthWarning, Weights: Weights{1, 1},
				NodeAddress: "127.0.0.1", NodeMeta: nodeMeta, Checks: []Check{serf, webCheck("web-2", api.HealthWarning)}},
		},
	}
	if diff := cmp.Diff(want, web); diff != "" {
		t.Errorf("web (-want +got):\n%s", diff)
	}
	if in, _ := instance(m, "api", "api-1"); in.Health != HealthCritical {
		t.Errorf("api-1 health = %v, want critical", in.Health)
	}
	st := h.src.Status()
	if !st.Ready || st.Services != len(m.Services) || st.Instances != 4 || st.LastSuccess.IsZero() {
		t.Errorf("status = %+v, want ready with %d services and 4 instances", st, len(m.Services))
	}
	if got := h.metric("switchyard_consul_watches"); got != float64(1+configWatches+kvWatches+len(m.Services)) {
		t.Errorf("watches gauge = %v, want %d (catalog + config kinds + KV prefixes + one per service)", got, 1+configWatches+kvWatches+len(m.Services))
	}
	if err := h.stop(); err != nil {
		t.Fatalf("Run() = %v", err)
	}
	if got := h.metric("switchyard_consul_watches"); got != 0 {
		t.Errorf("watches gauge after Run returned = %v, want 0", got)
	}
}

func TestModelFollowsConsul(t *testing.T) {
	h := newHarness(t, consulagent.StartT(t), nil)
	h.register("web-1", "web", 8081, api.HealthPassing)
	h.register("web-2", "web", 8082, api.HealthPassing)
	h.run()
	h.waitModel("web-1 passing", hasHealth("web", "web-1", HealthPassing))
	agent := h.client.Agent()

	steps := []struct {
		desc   string
		change func() error
		want   func(Model) bool
	}{
		{"web-1 critical", func() error { return agent.UpdateTTL("ttl-web-1", "down", api.HealthCritical) }, hasHealth("web", "web-1", HealthCritical)},
		{"web-1 warning", func() error { return agent.UpdateTTL("ttl-web-1", "slow", api.HealthWarning) }, hasHealth("web", "web-1", HealthWarning)},
		{"web-2 in maintenance", func() error { return agent.EnableServiceMaintenance("web-2", "deploy") }, hasHealth("web", "web-2", HealthMaintenance)},
		{"web-2 back", func() error { return agent.DisableServiceMaintenance("web-2") }, hasHealth("web", "web-2", HealthPassing)},
		{"node in maintenance", func() error { return agent.EnableNodeMaintenance("reboot") }, hasHealth("web", "web-2", HealthMaintenance)},
		{"node back", func() error { return agent.DisableNodeMaintenance() }, hasHealth("web", "web-2", HealthPassing)},
		{"billing appears", func() error {
			return agent.ServiceRegister(&api.AgentServiceRegistration{ID: "billing-1", Name: "billing", Port: 7000})
		}, func(m Model) bool { _, ok := instance(m, "billing", "billing-1"); return ok }},
		{"billing disappears", func() error { return agent.ServiceDeregister("billing-1") },
			func(m Model) bool { return !slices.Contains(serviceNames(m), "billing") }},
	}
	for _, s := range steps {
		if err := s.change(); err != nil {
			t.Fatalf("%s: %v", s.desc, err)
		}
		m := h.waitModel(s.desc, s.want)
		if !slices.IsSortedFunc(m.Services, func(a, b Service) int { return strings.Compare(a.Name, b.Name) }) {
			t.Fatalf("%s: services not sorted: %q", s.desc, serviceNames(m))
		}
	}
}

// TestDeltaModelsFollowConsul reads every model as the publisher does and
// keeps a copy of the services that, after the first model, it updates only
// through each model's Changed names: the copy must always equal the model.
func TestDeltaModelsFollowConsul(t *testing.T) {
	h := newHarness(t, consulagent.StartT(t), nil)
	h.register("web-1", "web", 8081, api.HealthPassing)
	h.register("api-1", "api", 9090, api.HealthPassing)
	h.run()
	followed := map[string]Service{}
	follow := func(desc string, cond func(Model) bool) {
		t.Helper()
		h.waitModel(desc, func(m Model) bool {
			if !m.Delta {
				clear(followed)
				for _, s := range m.Services {
					followed[s.Name] = s
				}
			}
			for _, name := range m.Changed {
				i := slices.IndexFunc(m.Services, func(s Service) bool { return s.Name == name })
				if i < 0 {
					delete(followed, name)
				} else {
					followed[name] = m.Services[i]
				}
			}
			if !slices.IsSorted(m.Changed) {
				t.Fatalf("%s: Changed not sorted: %q", desc, m.Changed)
			}
			got := slices.SortedFunc(maps.Values(followed), func(a, b Service) int { return strings.Compare(a.Name, b.Name) })
			if diff := cmp.Diff(m.Services, got); diff != "" {
				t.Fatalf("%s: services followed through Changed differ from the model (-model +followed):\n%s", desc, diff)
			}
			return cond(m)
		})
	}
	follow("first model", hasHealth("web", "web-1", HealthPassing))
	agent := h.client.Agent()
	steps := []struct {
		desc   string
		change func() error
		want   func(Model) bool
	}{
		{"web-1 critical", func() error { return agent.UpdateTTL("ttl-web-1", "down", api.HealthCritical) }, hasHealth("web", "web-1", HealthCritical)},
		{"billing appears", func() error {
			return agent.ServiceRegister(&api.AgentServiceRegistration{ID: "billing-1", Name: "billing", Port: 7000})
		}, func(m Model) bool { _, ok := instance(m, "billing", "billing-1"); return ok }},
		{"api-1 warning", func() error { return agent.UpdateTTL("ttl-api-1", "slow", api.HealthWarning) }, hasHealth("api", "api-1", HealthWarning)},
		{"billing disappears", func() error { return agent.ServiceDeregister("billing-1") },
			func(m Model) bool { return !slices.Contains(serviceNames(m), "billing") }},
	}
	for _, s := range steps {
		if err := s.change(); err != nil {
			t.Fatalf("%s: %v", s.desc, err)
		}
		follow(s.desc, s.want)
	}
}

func TestUnchangedResultSendsNothing(t *testing.T) {
	h := newHarness(t, consulagent.StartT(t), nil)
	h.register("web-1", "web", 8081, api.HealthPassing)
	extra := func(notes string) error {
		return h.client.Agent().CheckRegister(&api.AgentCheckRegistration{
			ID: "extra-web-1", Name: "extra", ServiceID: "web-1", Notes: notes,
			AgentServiceCheck: api.AgentServiceCheck{TTL: "10m", Status: api.HealthPassing},
		})
	}
	if err := extra("first"); err != nil {
		t.Fatal(err)
	}
	h.run()
	h.waitModel("web-1 with both checks", func(m Model) bool {
		in, ok := instance(m, "web", "web-1")
		return ok && slices.ContainsFunc(in.Checks, func(c Check) bool { return c.CheckID == "extra-web-1" })
	})
	sent := h.src.status.publishCount()
	wakes := h.metric("switchyard_consul_requests_total", "endpoint", "health", "result", "ok")

	// New check notes change Consul's answer but not the model.
	if err := extra("second"); err != nil {
		t.Fatal(err)
	}
	h.eventually("the health watch saw the new check", func() bool {
		return h.metric("switchyard_consul_requests_total", "endpoint", "health", "result", "ok") > wakes
	})
	if err := h.client.Agent().UpdateTTL("ttl-web-1", "", api.HealthCritical); err != nil {
		t.Fatal(err)
	}
	h.waitModel("web-1 critical", hasHealth("web", "web-1", HealthCritical))
	if got := h.src.status.publishCount(); got != sent+1 {
		t.Fatalf("%d models sent for one change, want 1: an unchanged answer was sent", got-sent)
	}
}

func TestConsulDeathKeepsLastModel(t *testing.T) {
	h := newHarness(t, consulagent.StartT(t), nil)
	h.register("web-1", "web", 8081, api.HealthPassing)
	h.run()
	h.waitModel("web-1 passing", hasHealth("web", "web-1", HealthPassing))
	before := h.src.Status()
	sent := h.src.status.publishCount()

	if err := h.agent.Kill(); err != nil {
		t.Fatal(err)
	}
	errorsTotal := func() float64 {
		return h.metric("switchyard_consul_requests_total", "endpoint", "catalog", "result", "error") +
			h.metric("switchyard_consul_requests_total", "endpoint", "health", "result", "error")
	}
	h.eventually("several failed queries", func() bool { return errorsTotal() >= 6 })

	select {
	case m := <-h.src.Models():
		t.Fatalf("a model was sent while Consul was down: %+v", m)
	default:
	}
	st := h.src.Status()
	if got := h.src.status.publishCount(); got != sent {
		t.Errorf("%d models sent after Consul died, want 0", got-sent)
	}
	if !st.Ready || st.LastError == "" || !st.LastErrorAt.After(st.LastSuccess) {
		t.Errorf("status = %+v, want ready with a last error after the last success", st)
	}
	if st.Services != before.Services || st.Instances != before.Instances {
		t.Errorf("status counts %d/%d, want the last model's %d/%d", st.Services, st.Instances, before.Services, before.Instances)
	}
	select {
	case err := <-h.done:
		h.done <- err
		t.Fatalf("Run returned %v while Consul was down, want it to keep retrying", err)
	default:
	}
}

func TestUnreachableConsulIsNeverReady(t *testing.T) {
	for name, dc := range map[string]string{"configured datacenter": "dc1", "datacenter from agent": ""} {
		t.Run(name, func(t *testing.T) {
			agent := consulagent.StartT(t)
			if err := agent.Kill(); err != nil {
				t.Fatal(err)
			}
			h := newHarness(t, agent, func(c *Config) { c.Datacenter = dc })
			h.run()
			var seen []time.Time
			h.eventually("three failed attempts", func() bool {
				if at := h.src.Status().LastErrorAt; !at.IsZero() && !slices.Contains(seen, at) {
					seen = append(seen, at)
				}
				return len(seen) >= 3
			})
			select {
			case m := <-h.src.Models():
				t.Fatalf("a model was sent before Consul ever answered: %+v", m)
			default:
			}
			if st := h.src.Status(); st.Ready || st.LastError == "" || !st.LastSuccess.IsZero() {
				t.Errorf("status = %+v, want not ready, an error and no success", st)
			}
		})
	}
}

// managementToken is the ACL management token of agents started with aclHCL.
const managementToken = "d1b4ae3e-6a63-4c3c-8c3f-c0ffee000001"

// aclHCL enables ACLs with default deny and a known management token.
const aclHCL = `acl {
  enabled = true
  default_policy = "deny"
  tokens {
    initial_management = "` + managementToken + `"
  }
}`

func TestUnknownTokenIsPermissionError(t *testing.T) {
	agent := consulagent.StartWithT(t, consulagent.Options{HCL: []string{aclHCL}})
	for name, dc := range map[string]string{"configured datacenter": "dc1", "datacenter from agent": ""} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, agent, func(c *Config) {
				c.Datacenter = dc
				c.Client = tokenClient(t, agent, "6f1ee1c3-0000-4000-8000-000000000bad")
			})
			h.failureExpected = true
			h.run()
			var err error
			select {
			case err = <-h.done:
				h.done <- err
			case <-time.After(waitFor):
				t.Fatalf("Run did not fail within %s", waitFor)
			}
			var perr *PermissionError
			if !errors.As(err, &perr) {
				t.Fatalf("Run() = %v, want a *PermissionError", err)
			}
			if st := h.src.Status(); st.Ready || st.LastError == "" {
				t.Errorf("status = %+v, want not ready with the error", st)
			}
			select {
			case m := <-h.src.Models():
				t.Fatalf("a model was sent with a refused token: %+v", m)
			default:
			}
		})
	}
}

func TestACLFilteredResultsAreCounted(t *testing.T) {
	agent := consulagent.StartWithT(t, consulagent.Options{HCL: []string{aclHCL}})
	// Consul flags filtered results only for a real token, never for the
	// anonymous one, so make a token that may read only "web".
	admin := tokenClient(t, agent, managementToken)
	waitACLs(t, admin)
	rules := `service "web" { policy = "read" }` + "\n" + `node_prefix "" { policy = "read" }`
	tok := policyToken(t, admin, "web-read", rules)
	h := newHarness(t, agent, func(c *Config) {
		c.Datacenter = "dc1"
		c.Client = tokenClient(t, agent, tok.SecretID)
	})
	for _, name := range []string{"web", "secret"} {
		if err := admin.Agent().ServiceRegister(&api.AgentServiceRegistration{ID: name + "-1", Name: name, Port: 80}); err != nil {
			t.Fatal(err)
		}
	}
	h.eventually("both services are in the catalog", func() bool {
		services, _, err := admin.Catalog().Services(nil)
		return err == nil && services["web"] != nil && services["secret"] != nil
	})
	h.run()
	m := h.waitModel("the first model", func(Model) bool { return true })
	if diff := cmp.Diff([]string{"web"}, serviceNames(m)); diff != "" {
		t.Errorf("services the token may see (-want +got):\n%s", diff)
	}
	if got := h.metric("switchyard_consul_acl_filtered_total"); got < 1 {
		t.Fatalf("acl_filtered_total = %v after the catalog hid a service, want ≥ 1", got)
	}
}

// policyToken creates a policy with rules and returns a token holding it.
func policyToken(t *testing.T, admin *api.Client, name, rules string) *api.ACLToken {
	t.Helper()
	if _, _, err := admin.ACL().PolicyCreate(&api.ACLPolicy{Name: name, Rules: rules}, nil); err != nil {
		t.Fatal(err)
	}
	tok, _, err := admin.ACL().TokenCreate(&api.ACLToken{Policies: []*api.ACLTokenPolicyLink{{Name: name}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// waitACLs waits until the agent resolves the management token on its own
// endpoints: for a moment after start, while ACLs initialise, it answers
// "ACL not found".
func waitACLs(t *testing.T, admin *api.Client) {
	t.Helper()
	retryFor(t, 10*time.Second, func() error {
		_, err := admin.Agent().Services()
		return err
	})
}

// tokenClient returns a client for agent that sends token.
func tokenClient(t *testing.T, agent *consulagent.Agent, token string) *api.Client {
	t.Helper()
	c, err := api.NewClient(&api.Config{Address: agent.HTTPAddr, Scheme: "http", Token: token})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRevokedTokenKeepsLastModel revokes the token of a running source:
// Consul now refuses every query, but the proxies already served keep the
// last model, Run keeps retrying and the refusal shows in the status.
func TestRevokedTokenKeepsLastModel(t *testing.T) {
	agent := consulagent.StartWithT(t, consulagent.Options{HCL: []string{aclHCL}})
	admin := tokenClient(t, agent, managementToken)
	waitACLs(t, admin)
	rules := `service_prefix "" { policy = "read" }` + "\n" + `node_prefix "" { policy = "read" }`
	tok := policyToken(t, admin, "read-all", rules)
	if err := admin.Agent().ServiceRegister(&api.AgentServiceRegistration{ID: "web-1", Name: "web", Port: 80}); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, agent, func(c *Config) {
		c.Datacenter = "dc1"
		c.Client = tokenClient(t, agent, tok.SecretID)
	})
	h.run()
	h.waitModel("web in the first model", func(m Model) bool { return slices.Contains(serviceNames(m), "web") })
	sent := h.src.status.publishCount()

	if _, err := admin.ACL().TokenDelete(tok.AccessorID, nil); err != nil {
		t.Fatal(err)
	}
	// Wake the blocking queries with a change they can no longer read.
	if err := admin.Agent().ServiceRegister(&api.AgentServiceRegistration{ID: "api-1", Name: "api", Port: 81}); err != nil {
		t.Fatal(err)
	}
	h.eventually("the refusal shows in the status", func() bool {
		st := h.src.Status()
		return st.Ready && st.LastErrorAt.After(st.LastSuccess) && strings.Contains(st.LastError, "403")
	})
	if got := h.src.status.publishCount(); got != sent {
		t.Errorf("%d models sent after the token was revoked, want 0", got-sent)
	}
	select {
	case err := <-h.done:
		h.done <- err
		t.Fatalf("Run returned %v after the token was revoked, want it to keep the last model and retry", err)
	default:
	}
}

// TestACLFilteredEmptyAnswerIsAnError gives the source a token that may read
// nodes but no service: Consul answers the catalog with nothing, flagged as
// filtered. That must be an error, not an empty catalog.
func TestACLFilteredEmptyAnswerIsAnError(t *testing.T) {
	agent := consulagent.StartWithT(t, consulagent.Options{HCL: []string{aclHCL}})
	admin := tokenClient(t, agent, managementToken)
	waitACLs(t, admin)
	tok := policyToken(t, admin, "nodes-only", `node_prefix "" { policy = "read" }`)
	if err := admin.Agent().ServiceRegister(&api.AgentServiceRegistration{ID: "web-1", Name: "web", Port: 80}); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, agent, func(c *Config) {
		c.Datacenter = "dc1"
		c.Client = tokenClient(t, agent, tok.SecretID)
	})
	h.run()
	h.eventually("the filtered answer is an error", func() bool {
		return strings.Contains(h.src.Status().LastError, "ACLs filtered every result")
	})
	if st := h.src.Status(); st.Ready {
		t.Errorf("status = %+v, want not ready", st)
	}
	select {
	case m := <-h.src.Models():
		t.Fatalf("a model was sent from a filtered, empty catalog: %+v", m)
	default:
	}
}

// TestRepeatedFailuresLogSparsely checks that a query failing again and
// again is logged at its 1st, 2nd, 4th and 8th failure only, while every
// failure is counted.
func TestRepeatedFailuresLogSparsely(t *testing.T) {
	var logs strings.Builder
	reg := prometheus.NewRegistry()
	src := offlineSource(t, Config{Registerer: reg, Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	for n := 1; n <= 9; n++ {
		src.queryFailed("health", "/v1/health/service/web", errors.New("connection refused"), time.Second, n)
	}
	if got := strings.Count(logs.String(), "consul query failed"); got != 4 {
		t.Errorf("logged %d of 9 failures, want 4 (1st, 2nd, 4th, 8th):\n%s", got, logs.String())
	}
	if got := testutil.ToFloat64(src.metrics.requests.WithLabelValues("health", "error")); got != 9 {
		t.Errorf("error counter = %v, want 9", got)
	}
}
