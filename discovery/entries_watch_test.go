package discovery

import (
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/consul/api"

	"github.com/switchyard/switchyard/internal/consulagent"
)

// setEntry writes a config entry and returns the error of the write; it
// fails the test if Consul answers without applying the entry.
func setEntry(t *testing.T, client *api.Client, e api.ConfigEntry) error {
	t.Helper()
	ok, _, err := client.ConfigEntries().Set(e, nil)
	if err == nil && !ok {
		t.Fatalf("consul did not apply %s %s", e.GetKind(), e.GetName())
	}
	return err
}

// deleteEntry returns a step change that deletes a config entry.
func deleteEntry(client *api.Client, kind, name string) func() error {
	return func() error {
		_, err := client.ConfigEntries().Delete(kind, name, nil)
		return err
	}
}

// webResolver is a resolver for web with subsets v1 and v2.
func webResolver() *api.ServiceResolverConfigEntry {
	return &api.ServiceResolverConfigEntry{
		Kind: api.ServiceResolver, Name: "web", DefaultSubset: "v1",
		Subsets: map[string]api.ServiceResolverSubset{
			"v1": {Filter: "Service.Meta.version == v1"},
			"v2": {Filter: "Service.Meta.version == v2", OnlyPassing: true},
		},
		ConnectTimeout: 2 * time.Second,
	}
}

// webSplitter splits web between its subsets v1 and v2.
func webSplitter(v1, v2 float32) *api.ServiceSplitterConfigEntry {
	return &api.ServiceSplitterConfigEntry{
		Kind: api.ServiceSplitter, Name: "web",
		Splits: []api.ServiceSplit{{Weight: v1, ServiceSubset: "v1"}, {Weight: v2, ServiceSubset: "v2"}},
	}
}

// webRouter sends /admin on web to its subset v2.
func webRouter() *api.ServiceRouterConfigEntry {
	return &api.ServiceRouterConfigEntry{
		Kind: api.ServiceRouter, Name: "web",
		Routes: []api.ServiceRoute{{
			Match:       &api.ServiceRouteMatch{HTTP: &api.ServiceRouteHTTPMatch{PathPrefix: "/admin"}},
			Destination: &api.ServiceRouteDestination{ServiceSubset: "v2", NumRetries: 2},
		}},
	}
}

// httpDefaults declares name's protocol http, which Consul requires before
// it accepts a splitter or router for it.
func httpDefaults(name string) *api.ServiceConfigEntry {
	return &api.ServiceConfigEntry{Kind: api.ServiceDefaults, Name: name, Protocol: "http"}
}

// entriesOf returns the model's entries, the zero value when it has none.
func entriesOf(m Model) ConfigEntries {
	if m.Config == nil {
		return ConfigEntries{}
	}
	return *m.Config
}

// TestConfigEntriesFollowConsul writes, edits and deletes an entry of each
// kind and checks each change reaches a model that names it in Changed,
// that a catalog change leaves the entries' pointer alone, and that no
// entries value a model carried is changed afterwards.
func TestConfigEntriesFollowConsul(t *testing.T) {
	h := newHarness(t, consulagent.StartT(t), nil)
	h.register("web-1", "web", 8081, api.HealthPassing)
	h.register("api-1", "api", 9090, api.HealthPassing)
	h.run()
	prev := h.waitModel("the first model", func(Model) bool { return true })
	if prev.Config != nil {
		t.Fatalf("first model's Config = %+v, want nil: no entry was written", prev.Config)
	}
	set := func(e api.ConfigEntry) func() error { return func() error { return setEntry(t, h.client, e) } }
	steps := []struct {
		desc        string
		change      func() error
		want        func(c ConfigEntries) bool
		wantChanged []string
	}{
		{"web defaults", set(httpDefaults("web")),
			func(c ConfigEntries) bool { return c.Defaults["web"].Protocol == "http" }, []string{"web"}},
		{"web resolver", set(webResolver()),
			func(c ConfigEntries) bool { return c.Resolvers["web"].Subsets["v2"].OnlyPassing }, []string{"web"}},
		{"web splitter", set(webSplitter(50, 50)),
			func(c ConfigEntries) bool { return len(c.Splitters["web"].Splits) == 2 }, []string{"web"}},
		{"web router", set(webRouter()),
			func(c ConfigEntries) bool { return len(c.Routers["web"].Routes) == 1 }, []string{"web"}},
		{"splitter edited", set(webSplitter(33.33, 66.67)),
			func(c ConfigEntries) bool {
				return cmp.Equal(c.Splitters["web"].Splits, []Split{{Weight: 3333, ServiceSubset: "v1"}, {Weight: 6667, ServiceSubset: "v2"}})
			}, []string{"web"}},
		{"defaults of a name without a service", set(&api.ServiceConfigEntry{Kind: api.ServiceDefaults, Name: "ghost", Protocol: "grpc"}),
			func(c ConfigEntries) bool { return c.Defaults["ghost"].Protocol == "grpc" }, []string{"ghost"}},
		{"router deleted", deleteEntry(h.client, api.ServiceRouter, "web"),
			func(c ConfigEntries) bool { return c.Routers == nil && c.Splitters != nil }, []string{"web"}},
		{"splitter deleted", deleteEntry(h.client, api.ServiceSplitter, "web"),
			func(c ConfigEntries) bool { return c.Splitters == nil && c.Resolvers != nil }, []string{"web"}},
		{"resolver deleted", deleteEntry(h.client, api.ServiceResolver, "web"),
			func(c ConfigEntries) bool { return c.Resolvers == nil && len(c.Defaults) == 2 }, []string{"web"}},
		{"web defaults deleted", deleteEntry(h.client, api.ServiceDefaults, "web"),
			func(c ConfigEntries) bool { return len(c.Defaults) == 1 }, []string{"web"}},
		{"last entry deleted", deleteEntry(h.client, api.ServiceDefaults, "ghost"),
			func(c ConfigEntries) bool { return c.Defaults == nil }, []string{"ghost"}},
	}
	sent := make([]Model, 0, len(steps))
	for _, s := range steps {
		if err := s.change(); err != nil {
			t.Fatalf("%s: %v", s.desc, err)
		}
		m := h.waitModel(s.desc, func(m Model) bool { return s.want(entriesOf(m)) })
		if !m.Delta || !slices.Equal(m.Changed, s.wantChanged) {
			t.Errorf("%s: Changed = %q (delta %v), want %q", s.desc, m.Changed, m.Delta, s.wantChanged)
		}
		if m.Config == prev.Config {
			t.Errorf("%s: the entries changed but the model kept the previous Config pointer", s.desc)
		}
		sent, prev = append(sent, m), m
		if s.desc == "defaults of a name without a service" {
			prev = unrelatedCatalogChange(t, h, prev)
		}
	}
	if prev.Config != nil {
		t.Errorf("Config = %+v after every entry was deleted, want nil", prev.Config)
	}
	for i, m := range sent {
		if !steps[i].want(entriesOf(m)) {
			t.Errorf("%s: the model's entries were changed by a later step: %+v", steps[i].desc, m.Config)
		}
	}
}

// unrelatedCatalogChange makes api-1 critical and checks that the model
// that shows it names only api and shares prev's entries pointer.
func unrelatedCatalogChange(t *testing.T, h *harness, prev Model) Model {
	t.Helper()
	if err := h.client.Agent().UpdateTTL("ttl-api-1", "", api.HealthCritical); err != nil {
		t.Fatal(err)
	}
	m := h.waitModel("api-1 critical", hasHealth("api", "api-1", HealthCritical))
	if !m.Delta || !slices.Equal(m.Changed, []string{"api"}) {
		t.Errorf("catalog change: Changed = %q (delta %v), want [api]", m.Changed, m.Delta)
	}
	if m.Config != prev.Config {
		t.Errorf("catalog change: Config pointer %p, want the previous model's %p", m.Config, prev.Config)
	}
	return m
}

// TestFirstModelWaitsForConfigEntries writes an entry of every kind before
// the source starts: its first model must already carry all four.
func TestFirstModelWaitsForConfigEntries(t *testing.T) {
	h := newHarness(t, consulagent.StartT(t), nil)
	h.register("web-1", "web", 8081, api.HealthPassing)
	for _, e := range []api.ConfigEntry{httpDefaults("web"), webResolver(), webSplitter(50, 50), webRouter()} {
		if err := setEntry(t, h.client, e); err != nil {
			t.Fatal(err)
		}
	}
	h.run()
	m := h.waitModel("the first model", func(Model) bool { return true })
	want := configEntriesFrom([]api.ConfigEntry{httpDefaults("web"), webResolver(), webSplitter(50, 50), webRouter()})
	if m.Config == nil {
		t.Fatal("first model has no entries")
	}
	if diff := cmp.Diff(want, *m.Config); diff != "" {
		t.Fatalf("first model's entries (-want +got):\n%s", diff)
	}
	if m.Config.Splitters["web"].Splits[0].Weight != 5000 {
		t.Errorf("split weight = %d, want 5000", m.Config.Splitters["web"].Splits[0].Weight)
	}
	if got := h.metric("switchyard_consul_requests_total", "endpoint", "config", "result", "ok"); got < configWatches {
		t.Errorf("config queries answered = %v, want at least %d", got, configWatches)
	}
}

// TestFirstModelGatedOnEveryKind applies config answers by hand to a watch
// set whose catalog is loaded and empty: no model may go out before the
// last of the four kinds has answered.
func TestFirstModelGatedOnEveryKind(t *testing.T) {
	src := offlineSource(t, Config{})
	ws := newWatchSet(src, "dc1")
	ws.catalogLoaded = true
	for _, prefix := range kvPrefixes() {
		ws.applyKV(kvUpdate{prefix: prefix, entries: map[string]KVEntry{}})
	}
	kinds := configKinds()
	for _, kind := range kinds[:len(kinds)-1] {
		ws.applyConfig(configUpdate{kind: kind})
		ws.maybePublish()
		select {
		case m := <-src.Models():
			t.Fatalf("model sent after only some kinds answered (last %s): %+v", kind, m)
		default:
		}
	}
	last := configUpdate{kind: kinds[len(kinds)-1], entries: ConfigEntries{Routers: map[string]ServiceRouter{"web": {Name: "web"}}}}
	ws.applyConfig(last)
	ws.maybePublish()
	select {
	case m := <-src.Models():
		if m.Delta || m.Config == nil || m.Config.Routers["web"].Name != "web" {
			t.Fatalf("first model = %+v, want a full model with web's router", m)
		}
	default:
		t.Fatal("no model after every kind answered")
	}
}

func TestWithKind(t *testing.T) {
	web := map[string]ServiceDefaults{"web": {Name: "web", Protocol: "http"}}
	cur := &ConfigEntries{Defaults: web, Routers: map[string]ServiceRouter{"web": {Name: "web"}}}
	tests := []struct {
		name        string
		cur         *ConfigEntries
		kind        string
		from        ConfigEntries
		want        *ConfigEntries
		wantSame    bool
		wantChanged []string
	}{
		{name: "empty answer, no entries", kind: api.ServiceRouter, wantSame: true},
		{name: "first entry", kind: api.ServiceDefaults, from: ConfigEntries{Defaults: web},
			want: &ConfigEntries{Defaults: web}, wantChanged: []string{"web"}},
		{name: "same entries in a new map", cur: cur, kind: api.ServiceDefaults,
			from: ConfigEntries{Defaults: map[string]ServiceDefaults{"web": {Name: "web", Protocol: "http"}}}, want: cur, wantSame: true},
		{name: "entry changed", cur: cur, kind: api.ServiceDefaults,
			from: ConfigEntries{Defaults: map[string]ServiceDefaults{"web": {Name: "web", Protocol: "grpc"}}},
			want: &ConfigEntries{Defaults: map[string]ServiceDefaults{"web": {Name: "web", Protocol: "grpc"}}, Routers: cur.Routers}, wantChanged: []string{"web"}},
		{name: "entry added and one removed", cur: cur, kind: api.ServiceDefaults,
			from: ConfigEntries{Defaults: map[string]ServiceDefaults{"api": {Name: "api"}}},
			want: &ConfigEntries{Defaults: map[string]ServiceDefaults{"api": {Name: "api"}}, Routers: cur.Routers}, wantChanged: []string{"api", "web"}},
		{name: "only another kind's map is read", cur: cur, kind: api.ServiceRouter,
			from: ConfigEntries{Defaults: map[string]ServiceDefaults{"x": {}}, Routers: cur.Routers}, want: cur, wantSame: true},
		{name: "last entries removed", cur: &ConfigEntries{Resolvers: map[string]ServiceResolver{"web": {}}}, kind: api.ServiceResolver,
			wantChanged: []string{"web"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := ConfigEntries{}
			if tt.cur != nil {
				before = *tt.cur
			}
			changed := map[string]struct{}{}
			got := withKind(tt.cur, tt.kind, tt.from, changed)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("entries (-want +got):\n%s", diff)
			}
			if same := got == tt.cur; same != tt.wantSame {
				t.Errorf("same pointer = %v, want %v", same, tt.wantSame)
			}
			if diff := cmp.Diff(tt.wantChanged, slices.Sorted(maps.Keys(changed))); diff != "" {
				t.Errorf("changed (-want +got):\n%s", diff)
			}
			if tt.cur != nil && !cmp.Equal(before, *tt.cur) {
				t.Errorf("current entries modified: %+v, were %+v", *tt.cur, before)
			}
		})
	}
}

// TestInstanceFilterFieldsFollowConsul checks that changes only a subset
// filter sees reach a model: a check status change that leaves the folded
// health as it was, and node meta and address changes.
func TestInstanceFilterFieldsFollowConsul(t *testing.T) {
	h := newHarness(t, consulagent.StartT(t), nil)
	const node = "filter-node"
	register := func(addr, rack string, checks ...*api.HealthCheck) error {
		_, err := h.client.Catalog().Register(&api.CatalogRegistration{
			Node: node, Address: addr, NodeMeta: map[string]string{"rack": rack},
			Service: &api.AgentService{ID: "web-1", Service: "web", Port: 8080},
			Checks:  checks,
		}, nil)
		return err
	}
	check := func(id, serviceID, status string) *api.HealthCheck {
		return &api.HealthCheck{Node: node, CheckID: id, Name: id, ServiceID: serviceID, Status: status}
	}
	err := register("10.1.0.1", "a", check("node-ok", "", api.HealthPassing),
		check("c1", "web-1", api.HealthPassing), check("c2", "web-1", api.HealthCritical))
	if err != nil {
		t.Fatal(err)
	}
	h.run()
	m := h.waitModel("web-1 loaded", func(m Model) bool { _, ok := instance(m, "web", "web-1"); return ok })
	in, _ := instance(m, "web", "web-1")
	want := Instance{
		ID: "web-1", Node: node, Address: "10.1.0.1", Port: 8080, Health: HealthCritical, Weights: Weights{1, 1},
		NodeAddress: "10.1.0.1", NodeMeta: map[string]string{"rack": "a"},
		Checks: []Check{
			{CheckID: "c1", Name: "c1", Status: api.HealthPassing, ServiceID: "web-1"},
			{CheckID: "c2", Name: "c2", Status: api.HealthCritical, ServiceID: "web-1"},
			{CheckID: "node-ok", Name: "node-ok", Status: api.HealthPassing},
		},
	}
	if diff := cmp.Diff(want, in); diff != "" {
		t.Fatalf("web-1 (-want +got):\n%s", diff)
	}
	steps := []struct {
		desc   string
		change func() error
		want   func(Instance) bool
	}{
		{"one of two checks warns, health stays critical",
			func() error { return register("10.1.0.1", "a", check("c1", "web-1", api.HealthWarning)) },
			func(in Instance) bool { return in.Checks[0].Status == api.HealthWarning && in.Health == HealthCritical }},
		{"node meta changes",
			func() error { return register("10.1.0.1", "b") },
			func(in Instance) bool { return in.NodeMeta["rack"] == "b" }},
		{"node address changes",
			func() error { return register("10.1.0.2", "b") },
			func(in Instance) bool { return in.NodeAddress == "10.1.0.2" && in.Address == "10.1.0.2" }},
	}
	for _, s := range steps {
		if err := s.change(); err != nil {
			t.Fatalf("%s: %v", s.desc, err)
		}
		m := h.waitModel(s.desc, func(m Model) bool { in, ok := instance(m, "web", "web-1"); return ok && s.want(in) })
		if !m.Delta || !slices.Equal(m.Changed, []string{"web"}) {
			t.Errorf("%s: Changed = %q (delta %v), want [web]", s.desc, m.Changed, m.Delta)
		}
	}
}

// TestACLFilteredConfigEntries gives the source a token that may read web
// but not secret: the entries of secret are left out, which is not an
// error.
func TestACLFilteredConfigEntries(t *testing.T) {
	agent := consulagent.StartWithT(t, consulagent.Options{HCL: []string{aclHCL}})
	admin := tokenClient(t, agent, managementToken)
	waitACLs(t, admin)
	rules := `service "web" { policy = "read" }` + "\n" + `node_prefix "" { policy = "read" }`
	tok := policyToken(t, admin, "web-read", rules)
	if err := admin.Agent().ServiceRegister(&api.AgentServiceRegistration{ID: "web-1", Name: "web", Port: 80}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"web", "secret"} {
		if err := setEntry(t, admin, httpDefaults(name)); err != nil {
			t.Fatal(err)
		}
	}
	h := newHarness(t, agent, func(c *Config) {
		c.Datacenter = "dc1"
		c.Client = tokenClient(t, agent, tok.SecretID)
	})
	h.run()
	m := h.waitModel("web in the first model", func(m Model) bool { return slices.Contains(serviceNames(m), "web") })
	if diff := cmp.Diff([]string{"web"}, m.Config.Names()); diff != "" {
		t.Errorf("names with entries the token may see (-want +got):\n%s", diff)
	}
}

// retryFor calls f until it succeeds, failing the test with its last
// error after d.
func retryFor(t *testing.T, d time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still failing after %s: %v", d, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
