package chain

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/switchyard/switchyard/discovery"
)

// registered are the services the tests' catalog holds.
func registered(name string) bool {
	switch name {
	case "web", "api", "billing", "legacy":
		return true
	}
	return false
}

// versions is a resolver for web with subsets v1 and v2 by meta.
func versions() discovery.ServiceResolver {
	return discovery.ServiceResolver{Name: "web", Subsets: map[string]discovery.ResolverSubset{
		"v1": {Filter: `Service.Meta.version == v1`},
		"v2": {Filter: `Service.Meta.version == v2`, OnlyPassing: true},
	}}
}

func split(svc, subset string, w int) WeightedTarget {
	return WeightedTarget{Target: Target{Service: svc, Subset: subset}, Weight: w}
}

func TestCompileRoutes(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  discovery.ConfigEntries
		// want are the routes' splits, default route last.
		want [][]WeightedTarget
	}{
		{"no entries", discovery.ConfigEntries{}, [][]WeightedTarget{{split("web", "", 10000)}}},
		{"split keeps two decimals", discovery.ConfigEntries{
			Resolvers: map[string]discovery.ServiceResolver{"web": versions()},
			Splitters: map[string]discovery.ServiceSplitter{"web": {Name: "web", Splits: []discovery.Split{
				{Weight: 3333, ServiceSubset: "v1"}, {Weight: 6667, ServiceSubset: "v2"}}}},
		}, [][]WeightedTarget{{split("web", "v1", 3333), split("web", "v2", 6667)}}},
		{"zero weight left out", discovery.ConfigEntries{
			Resolvers: map[string]discovery.ServiceResolver{"web": versions()},
			Splitters: map[string]discovery.ServiceSplitter{"web": {Name: "web", Splits: []discovery.Split{
				{Weight: 0, ServiceSubset: "v1"}, {Weight: 10000, ServiceSubset: "v2"}}}},
		}, [][]WeightedTarget{{split("web", "v2", 10000)}}},
		{"default subset", discovery.ConfigEntries{
			Resolvers: map[string]discovery.ServiceResolver{"web": func() discovery.ServiceResolver {
				r := versions()
				r.DefaultSubset = "v1"
				return r
			}()},
		}, [][]WeightedTarget{{split("web", "v1", 10000)}}},
		{"split to another service through its splitter", discovery.ConfigEntries{
			Resolvers: map[string]discovery.ServiceResolver{"web": versions()},
			Splitters: map[string]discovery.ServiceSplitter{
				"web": {Name: "web", Splits: []discovery.Split{{Weight: 5000, ServiceSubset: "v1"}, {Weight: 5000, Service: "api"}}},
				"api": {Name: "api", Splits: []discovery.Split{{Weight: 5000}, {Weight: 5000, Service: "billing"}}},
			},
		}, [][]WeightedTarget{{split("web", "v1", 5000), split("api", "", 2500), split("billing", "", 2500)}}},
		{"redirect", discovery.ConfigEntries{
			Resolvers: map[string]discovery.ServiceResolver{"web": {Name: "web", Redirect: &discovery.ResolverRedirect{Service: "legacy"}}},
		}, [][]WeightedTarget{{split("legacy", "", 10000)}}},
		{"router: header to canary, prefix to another service", discovery.ConfigEntries{
			Resolvers: map[string]discovery.ServiceResolver{"web": versions()},
			Routers: map[string]discovery.ServiceRouter{"web": {Name: "web", Routes: []discovery.Route{
				{Match: discovery.HTTPMatch{Header: []discovery.HeaderMatch{{Name: "x-canary", Exact: "true"}}},
					Destination: discovery.RouteDestination{ServiceSubset: "v2"}},
				{Match: discovery.HTTPMatch{PathPrefix: "/billing."}, Destination: discovery.RouteDestination{Service: "billing"}},
			}}},
		}, [][]WeightedTarget{{split("web", "v2", 10000)}, {split("billing", "", 10000)}, {split("web", "", 10000)}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Compile(&tc.cfg, registered, "web")
			if err != nil {
				t.Fatal(err)
			}
			var got [][]WeightedTarget
			for _, r := range p.Routes {
				got = append(got, r.Splits)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("splits (-want +got):\n%s", d)
			}
			if p.Routes[len(p.Routes)-1].Match != nil {
				t.Error("last route has a match, want the default route")
			}
		})
	}
}

func TestCompileClusters(t *testing.T) {
	r := versions()
	r.ConnectTimeout = 3e9
	r.LoadBalancer = &discovery.LoadBalancer{Policy: "ring_hash", HashPolicies: []discovery.HashPolicy{{Field: "header", FieldValue: "x-user"}}}
	r.Failover = map[string]discovery.ResolverFailover{"v1": {ServiceSubset: "v2"}, "*": {Service: "legacy"}}
	cfg := &discovery.ConfigEntries{Resolvers: map[string]discovery.ServiceResolver{"web": r}}
	p, err := Compile(cfg, registered, "web")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range p.Clusters {
		names = append(names, c.Target.String())
		if c.ConnectTimeout != 3e9 || c.LoadBalancer.Policy != "ring_hash" {
			t.Errorf("cluster %s: timeout %v policy %q, want the resolver's", c.Target, c.ConnectTimeout, c.LoadBalancer.Policy)
		}
	}
	if d := cmp.Diff([]string{"web", "web/v1", "web/v2"}, names); d != "" {
		t.Errorf("clusters (-want +got):\n%s", d)
	}
	v1, _ := p.Cluster(Target{"web", "v1"})
	v2, _ := p.Cluster(Target{"web", "v2"})
	if d := cmp.Diff([]Target{{"web", "v2"}}, v1.Failover); d != "" {
		t.Errorf("v1 failover (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]Target{{"legacy", ""}}, v2.Failover); d != "" {
		t.Errorf("v2 failover falls back to *: (-want +got):\n%s", d)
	}
	if !v2.OnlyPassing || v2.Filter.Expression() != `Service.Meta.version == v2` {
		t.Errorf("v2 = %+v, want OnlyPassing and its filter", v2)
	}
	if got := p.Routes[0].HashPolicies; len(got) != 1 || got[0].FieldValue != "x-user" {
		t.Errorf("default route hash policies = %+v, want the resolver's", got)
	}
}

func TestCompileRejects(t *testing.T) {
	withSplit := func(splits ...discovery.Split) discovery.ConfigEntries {
		return discovery.ConfigEntries{
			Resolvers: map[string]discovery.ServiceResolver{"web": versions()},
			Splitters: map[string]discovery.ServiceSplitter{"web": {Name: "web", Splits: splits}},
		}
	}
	for _, tc := range []struct {
		name string
		cfg  discovery.ConfigEntries
		want string
	}{
		{"weights do not sum to 100", withSplit(discovery.Split{Weight: 8000, ServiceSubset: "v1"}, discovery.Split{Weight: 1000, ServiceSubset: "v2"}),
			`service-splitter "web": Splits: weights sum to 90.00, want 100`},
		{"unknown subset", withSplit(discovery.Split{Weight: 10000, ServiceSubset: "v3"}),
			`service-splitter "web": Splits[0]: subset "v3" is not defined by service-resolver "web"`},
		{"unknown service", withSplit(discovery.Split{Weight: 10000, Service: "ghost"}),
			`service-splitter "web": Splits[0]: service "ghost" is not registered in Consul`},
		{"filter does not parse", discovery.ConfigEntries{Resolvers: map[string]discovery.ServiceResolver{"web": {Name: "web",
			Subsets: map[string]discovery.ResolverSubset{"v1": {Filter: "Service.Meta.version =="}}}}},
			`service-resolver "web": Subsets["v1"].Filter:`},
		{"filter names an unknown field", discovery.ConfigEntries{Resolvers: map[string]discovery.ServiceResolver{"web": {Name: "web",
			Subsets: map[string]discovery.ResolverSubset{"v1": {Filter: "Service.Version == v1"}}}}},
			`service-resolver "web": Subsets["v1"].Filter:`},
		{"redirect loop", discovery.ConfigEntries{Resolvers: map[string]discovery.ServiceResolver{
			"web": {Name: "web", Redirect: &discovery.ResolverRedirect{Service: "api"}},
			"api": {Name: "api", Redirect: &discovery.ResolverRedirect{Service: "web"}}}},
			`redirects nest deeper than 8 (a loop?)`},
		{"failover to nothing", discovery.ConfigEntries{Resolvers: map[string]discovery.ServiceResolver{"web": {Name: "web",
			Failover: map[string]discovery.ResolverFailover{"*": {}}}}},
			`service-resolver "web": Failover["*"]: failover names no target`},
		{"failover to another datacenter", discovery.ConfigEntries{Resolvers: map[string]discovery.ServiceResolver{"web": {Name: "web",
			Failover: map[string]discovery.ResolverFailover{"*": {Datacenters: []string{"dc2"}}}}}},
			`Failover["*"].Datacenters: failover to other datacenters is not supported`},
		{"unknown default subset", discovery.ConfigEntries{Resolvers: map[string]discovery.ServiceResolver{"web": {Name: "web", DefaultSubset: "v9"}}},
			`service-resolver "web": DefaultSubset: subset "v9" is not defined`},
		{"hash policy without a hashing balancer", discovery.ConfigEntries{Resolvers: map[string]discovery.ServiceResolver{"web": {Name: "web",
			LoadBalancer: &discovery.LoadBalancer{Policy: "round_robin", HashPolicies: []discovery.HashPolicy{{Field: "header", FieldValue: "x"}}}}}},
			`LoadBalancer.HashPolicies: hash policies need policy ring_hash or maglev`},
		{"unknown policy", discovery.ConfigEntries{Resolvers: map[string]discovery.ServiceResolver{"web": {Name: "web",
			LoadBalancer: &discovery.LoadBalancer{Policy: "fastest"}}}},
			`LoadBalancer.Policy: unknown policy "fastest"`},
		{"bad path regex", discovery.ConfigEntries{Routers: map[string]discovery.ServiceRouter{"web": {Name: "web", Routes: []discovery.Route{
			{Match: discovery.HTTPMatch{PathRegex: "/a[("}}}}}},
			`service-router "web": Routes[0].Match.HTTP.PathRegex:`},
		{"two path matches", discovery.ConfigEntries{Routers: map[string]discovery.ServiceRouter{"web": {Name: "web", Routes: []discovery.Route{
			{Match: discovery.HTTPMatch{PathExact: "/a", PathPrefix: "/b"}}}}}},
			`Routes[0].Match.HTTP: only one of PathExact, PathPrefix and PathRegex may be set`},
		{"bad method", discovery.ConfigEntries{Routers: map[string]discovery.ServiceRouter{"web": {Name: "web", Routes: []discovery.Route{
			{Match: discovery.HTTPMatch{Methods: []string{"FETCH"}}}}}}},
			`Routes[0].Match.HTTP.Methods[0]: "FETCH" is not an HTTP method`},
		{"router on a tcp service", discovery.ConfigEntries{
			Defaults: map[string]discovery.ServiceDefaults{"web": {Name: "web", Protocol: "tcp"}},
			Routers:  map[string]discovery.ServiceRouter{"web": {Name: "web"}}},
			`service-defaults "web": Protocol: protocol tcp does not allow`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Compile(&tc.cfg, registered, "web")
			if err == nil {
				t.Fatalf("Compile = %+v, want an error containing %q", p, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestFilterMatchesConsulFields(t *testing.T) {
	in := &discovery.Instance{ID: "web-1", Node: "n1", NodeMeta: map[string]string{"rack": "r1"}, Tags: []string{"canary"},
		Meta: map[string]string{"version": "v2"}}
	for _, tc := range []struct {
		expr string
		want bool
	}{
		{`Service.Meta.version == v2`, true},
		{`Service.Meta.version == v1`, false},
		{`Service.Meta.missing == x`, false},
		{`canary in Service.Tags`, true},
		{`Node.Meta.rack == r1 and Service.ID == "web-1"`, true},
		{`Node.Node != n1`, false},
		{`Service.Service == web`, true},
	} {
		f, err := ParseFilter(tc.expr)
		if err != nil {
			t.Fatalf("%s: %v", tc.expr, err)
		}
		got, err := f.Match("web", "dc1", in)
		if err != nil || got != tc.want {
			t.Errorf("%s = %v, %v; want %v", tc.expr, got, err, tc.want)
		}
	}
}
