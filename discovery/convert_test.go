package discovery

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/consul/api"
)

// entry builds a health entry for service web on node with the given checks.
func entry(node, id string, checks ...*api.HealthCheck) *api.ServiceEntry {
	return &api.ServiceEntry{
		Node:    &api.Node{Node: node, Address: "10.0.0." + node[len(node)-1:]},
		Service: &api.AgentService{ID: id, Service: "web", Port: 8080},
		Checks:  checks,
	}
}

// check builds a check; serviceID "" makes it a node-level check.
func check(id, serviceID, status string) *api.HealthCheck {
	return &api.HealthCheck{CheckID: id, ServiceID: serviceID, Status: status}
}

func TestInstanceHealth(t *testing.T) {
	const p, w, c = api.HealthPassing, api.HealthWarning, api.HealthCritical
	tests := []struct {
		name   string
		checks []*api.HealthCheck
		want   Health
	}{
		{"no checks", nil, HealthPassing},
		{"all passing", []*api.HealthCheck{check("serfHealth", "", p), check("svc", "web-1", p)}, HealthPassing},
		{"service warning", []*api.HealthCheck{check("serfHealth", "", p), check("svc", "web-1", w)}, HealthWarning},
		{"node warning", []*api.HealthCheck{check("serfHealth", "", w), check("svc", "web-1", p)}, HealthWarning},
		{"service critical", []*api.HealthCheck{check("serfHealth", "", p), check("svc", "web-1", c)}, HealthCritical},
		{"node critical beats service passing", []*api.HealthCheck{check("serfHealth", "", c), check("svc", "web-1", p)}, HealthCritical},
		{"critical beats warning", []*api.HealthCheck{check("serfHealth", "", w), check("svc", "web-1", c), check("b", "web-1", w)}, HealthCritical},
		{"node maintenance", []*api.HealthCheck{check("serfHealth", "", p), check(api.NodeMaint, "", c), check("svc", "web-1", p)}, HealthMaintenance},
		{"service maintenance", []*api.HealthCheck{check(api.ServiceMaintPrefix+"web-1", "web-1", c), check("svc", "web-1", p)}, HealthMaintenance},
		{"maintenance beats critical", []*api.HealthCheck{check("svc", "web-1", c), check(api.ServiceMaintPrefix+"web-1", "web-1", c)}, HealthMaintenance},
		{"another service's check is ignored", []*api.HealthCheck{check("svc", "web-2", c), check("svc", "web-1", p)}, HealthPassing},
		{"another service's maintenance is ignored", []*api.HealthCheck{check(api.ServiceMaintPrefix+"web-2", "web-2", c)}, HealthPassing},
		{"unknown status counts as critical", []*api.HealthCheck{check("svc", "web-1", "bogus")}, HealthCritical},
		{"nil check is ignored", []*api.HealthCheck{nil, check("svc", "web-1", w)}, HealthWarning},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := instancesFromEntries([]*api.ServiceEntry{entry("n1", "web-1", tt.checks...)})
			if len(got) != 1 {
				t.Fatalf("got %d instances, want 1", len(got))
			}
			if got[0].Health != tt.want {
				t.Fatalf("health = %v, want %v", got[0].Health, tt.want)
			}
		})
	}
}

func TestInstanceFields(t *testing.T) {
	tests := []struct {
		name  string
		entry *api.ServiceEntry
		want  Instance
	}{{
		name: "node address, default weights, no locality",
		entry: &api.ServiceEntry{
			Node:    &api.Node{Node: "n1", Address: "10.0.0.1"},
			Service: &api.AgentService{ID: "web-1", Port: 80},
		},
		want: Instance{ID: "web-1", Node: "n1", Address: "10.0.0.1", Port: 80, Health: HealthPassing, Weights: Weights{1, 1}, NodeAddress: "10.0.0.1"},
	}, {
		name: "service address, weights, tags, meta and service locality win",
		entry: &api.ServiceEntry{
			Node: &api.Node{Node: "n1", Address: "10.0.0.1", Meta: map[string]string{"region": "eu", "zone": "eu-1a"}},
			Service: &api.AgentService{
				ID: "web-1", Address: "192.168.1.5", Port: 8443,
				Tags:    []string{"v2", "canary"},
				Meta:    map[string]string{"region": "us", "zone": "us-1b", "version": "2"},
				Weights: api.AgentWeights{Passing: 10, Warning: 2},
			},
		},
		want: Instance{
			ID: "web-1", Node: "n1", Address: "192.168.1.5", Port: 8443,
			Tags: []string{"v2", "canary"}, Meta: map[string]string{"region": "us", "zone": "us-1b", "version": "2"},
			Health: HealthPassing, Weights: Weights{10, 2}, Locality: Locality{Region: "us", Zone: "us-1b"},
			NodeAddress: "10.0.0.1", NodeMeta: map[string]string{"region": "eu", "zone": "eu-1a"},
		},
	}, {
		name: "node locality when the service names none",
		entry: &api.ServiceEntry{
			Node:    &api.Node{Node: "n1", Address: "h.example", Meta: map[string]string{"region": "eu", "zone": "eu-1a"}},
			Service: &api.AgentService{ID: "web-1", Port: 80, Meta: map[string]string{"version": "1"}, Tags: []string{}},
		},
		want: Instance{
			ID: "web-1", Node: "n1", Address: "h.example", Port: 80, Meta: map[string]string{"version": "1"},
			Health: HealthPassing, Weights: Weights{1, 1}, Locality: Locality{Region: "eu", Zone: "eu-1a"},
			NodeAddress: "h.example", NodeMeta: map[string]string{"region": "eu", "zone": "eu-1a"},
		},
	}, {
		name: "a service zone alone is not mixed with the node region",
		entry: &api.ServiceEntry{
			Node:    &api.Node{Node: "n1", Meta: map[string]string{"region": "eu"}},
			Service: &api.AgentService{ID: "web-1", Meta: map[string]string{"zone": "us-1b"}},
		},
		want: Instance{
			ID: "web-1", Node: "n1", Meta: map[string]string{"zone": "us-1b"},
			Health: HealthPassing, Weights: Weights{1, 1}, Locality: Locality{Zone: "us-1b"},
			NodeMeta: map[string]string{"region": "eu"},
		},
	}, {
		name: "node and own checks sorted by ID, other instances' checks left out",
		entry: &api.ServiceEntry{
			Node:    &api.Node{Node: "n1", Address: "10.0.0.1", Meta: map[string]string{}},
			Service: &api.AgentService{ID: "web-1", Port: 80},
			Checks: api.HealthChecks{
				{CheckID: "ttl-web-1", Name: "ttl", Status: api.HealthWarning, ServiceID: "web-1", Output: "slow"},
				nil,
				{CheckID: "ttl-web-2", Name: "ttl", Status: api.HealthCritical, ServiceID: "web-2"},
				{CheckID: "serfHealth", Name: "Serf Health Status", Status: api.HealthPassing},
			},
		},
		want: Instance{
			ID: "web-1", Node: "n1", Address: "10.0.0.1", Port: 80, Health: HealthWarning, Weights: Weights{1, 1},
			NodeAddress: "10.0.0.1",
			Checks: []Check{
				{CheckID: "serfHealth", Name: "Serf Health Status", Status: api.HealthPassing},
				{CheckID: "ttl-web-1", Name: "ttl", Status: api.HealthWarning, ServiceID: "web-1"},
			},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := instancesFromEntries([]*api.ServiceEntry{tt.entry})
			if diff := cmp.Diff([]Instance{tt.want}, got); diff != "" {
				t.Fatalf("instances (-want +got):\n%s", diff)
			}
		})
	}
}

func TestInstancesSortedAndNilSkipped(t *testing.T) {
	entries := []*api.ServiceEntry{
		entry("n2", "web-1"), nil, entry("n1", "web-b"),
		{Node: &api.Node{Node: "n1"}}, entry("n1", "web-a"), {Service: &api.AgentService{ID: "x"}},
	}
	var got []string
	for _, in := range instancesFromEntries(entries) {
		got = append(got, in.Node+"/"+in.ID)
	}
	want := []string{"n1/web-a", "n1/web-b", "n2/web-1"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("order (-want +got):\n%s", diff)
	}
}

func TestInstancesDoNotAliasInput(t *testing.T) {
	e := entry("n1", "web-1", check("c", "web-1", api.HealthPassing))
	e.Service.Tags = []string{"a"}
	e.Service.Meta = map[string]string{"k": "v"}
	e.Node.Meta = map[string]string{"k": "v"}
	got := instancesFromEntries([]*api.ServiceEntry{e})
	e.Service.Tags[0] = "changed"
	e.Service.Meta["k"] = "changed"
	e.Node.Meta["k"] = "changed"
	e.Checks[0].Status = api.HealthCritical
	if got[0].Tags[0] != "a" || got[0].Meta["k"] != "v" || got[0].NodeMeta["k"] != "v" || got[0].Checks[0].Status != api.HealthPassing {
		t.Fatalf("instance shares tags, meta or checks with the Consul answer: %+v", got[0])
	}
}

// TestEqualInstancesSeesFilterFields checks that a change only a subset
// filter can see, with the folded health unchanged, still counts as a
// change, and that the order Consul lists checks in does not.
func TestEqualInstancesSeesFilterFields(t *testing.T) {
	const p, w = api.HealthPassing, api.HealthWarning
	web := func(nodeMeta map[string]string, checks ...*api.HealthCheck) []Instance {
		e := entry("n1", "web-1", checks...)
		e.Node.Meta = nodeMeta
		return instancesFromEntries([]*api.ServiceEntry{e})
	}
	base := web(map[string]string{"rack": "a"}, check("c1", "web-1", w), check("c2", "web-1", p))
	tests := []struct {
		name  string
		other []Instance
		equal bool
	}{
		{"same", web(map[string]string{"rack": "a"}, check("c1", "web-1", w), check("c2", "web-1", p)), true},
		{"checks listed in another order", web(map[string]string{"rack": "a"}, check("c2", "web-1", p), check("c1", "web-1", w)), true},
		{"one of two checks changes status, health stays warning", web(map[string]string{"rack": "a"}, check("c1", "web-1", w), check("c2", "web-1", w)), false},
		{"node meta changes", web(map[string]string{"rack": "b"}, check("c1", "web-1", w), check("c2", "web-1", p)), false},
		{"a passing check is added", web(map[string]string{"rack": "a"}, check("c1", "web-1", w), check("c2", "web-1", p), check("c3", "", p)), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if base[0].Health != tt.other[0].Health {
				t.Fatalf("health differs (%v, %v): the case does not test the filter fields alone", base[0].Health, tt.other[0].Health)
			}
			if got := equalInstances(base, tt.other); got != tt.equal {
				t.Fatalf("equalInstances = %v, want %v", got, tt.equal)
			}
		})
	}
}

func TestServiceFromInstances(t *testing.T) {
	tests := []struct {
		name      string
		instances []Instance
		wantTags  []string
		wantMeta  map[string]string
	}{
		{name: "no instances"},
		{
			name:      "one instance",
			instances: []Instance{{ID: "a", Tags: []string{"z", "a"}, Meta: map[string]string{"k": "v"}}},
			wantTags:  []string{"a", "z"},
			wantMeta:  map[string]string{"k": "v"},
		},
		{
			name: "union of tags, shared meta only",
			instances: []Instance{
				{ID: "a", Tags: []string{"v1", "http"}, Meta: map[string]string{"team": "pay", "version": "1", "only-a": "x"}},
				{ID: "b", Tags: []string{"http", "v2"}, Meta: map[string]string{"team": "pay", "version": "2"}},
				{ID: "c", Meta: map[string]string{"team": "pay", "version": "1"}},
			},
			wantTags: []string{"http", "v1", "v2"},
			wantMeta: map[string]string{"team": "pay"},
		},
		{
			name: "nothing shared",
			instances: []Instance{
				{ID: "a", Meta: map[string]string{"version": "1"}},
				{ID: "b"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := serviceFromInstances("web", "dc1", tt.instances)
			want := Service{Name: "web", Datacenter: "dc1", Tags: tt.wantTags, Meta: tt.wantMeta, Instances: tt.instances}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("service (-want +got):\n%s", diff)
			}
		})
	}
}

func TestServiceDoesNotAliasInstances(t *testing.T) {
	in := []Instance{{ID: "a", Tags: []string{"t"}, Meta: map[string]string{"k": "v"},
		NodeMeta: map[string]string{"k": "v"}, Checks: []Check{{CheckID: "c", Status: api.HealthPassing}}}}
	svc := serviceFromInstances("web", "dc1", in)
	svc.Instances[0].Tags[0] = "changed"
	svc.Instances[0].Meta["k"] = "changed"
	svc.Instances[0].NodeMeta["k"] = "changed"
	svc.Instances[0].Checks[0].Status = "changed"
	svc.Meta["k"] = "changed"
	if in[0].Tags[0] != "t" || in[0].Meta["k"] != "v" || in[0].NodeMeta["k"] != "v" || in[0].Checks[0].Status != api.HealthPassing {
		t.Fatalf("service shares slices or maps with its source: %+v", in[0])
	}
}

func FuzzInstancesFromEntries(f *testing.F) {
	seeds := []string{
		`[]`,
		`null`,
		`[null, {}]`,
		`[{"Node":{"Node":"n1","Address":"10.0.0.1"},"Service":{"ID":"web-1","Service":"web","Port":80},"Checks":[]}]`,
		`[{"Node":{"Node":"n2","Address":"10.0.0.2","Meta":{"region":"eu","zone":"eu-1a"}},
		  "Service":{"ID":"web-2","Service":"web","Address":"192.168.0.2","Port":8080,"Tags":["v1","v1"],
		             "Meta":{"version":"1"},"Weights":{"Passing":5,"Warning":1}},
		  "Checks":[{"CheckID":"serfHealth","Status":"passing"},{"CheckID":"svc","ServiceID":"web-2","Status":"warning"}]},
		 {"Node":{"Node":"n1"},"Service":{"ID":"web-1"},
		  "Checks":[{"CheckID":"_node_maintenance","Status":"critical"},null]},
		 {"Node":{"Node":"n1"},"Service":{"ID":"web-0"},
		  "Checks":[{"CheckID":"_service_maintenance:web-0","ServiceID":"web-0","Status":"critical"}]}]`,
		`[{"Node":{"Node":"n1"},"Service":{"ID":"a","Meta":{"zone":"z"}},"Checks":[{"Status":"weird"}]}]`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var entries []*api.ServiceEntry
		if err := json.Unmarshal(data, &entries); err != nil {
			return
		}
		got := instancesFromEntries(entries)
		if len(got) > len(entries) {
			t.Fatalf("%d instances from %d entries", len(got), len(entries))
		}
		for i, in := range got {
			if in.Health < HealthPassing || in.Health > HealthMaintenance {
				t.Fatalf("instance %d has health %d", i, in.Health)
			}
			if !slices.IsSortedFunc(in.Checks, func(a, b Check) int { return strings.Compare(a.CheckID, b.CheckID) }) {
				t.Fatalf("instance %d checks not sorted by ID: %+v", i, in.Checks)
			}
			for _, c := range in.Checks {
				if c.ServiceID != "" && c.ServiceID != in.ID {
					t.Fatalf("instance %s carries check %s of instance %s", in.ID, c.CheckID, c.ServiceID)
				}
			}
			if i > 0 && cmpInstanceKey(got[i-1], in) > 0 {
				t.Fatalf("instances %d and %d out of order: %s/%s, %s/%s", i-1, i, got[i-1].Node, got[i-1].ID, in.Node, in.ID)
			}
		}
		svc := serviceFromInstances("s", "dc1", got)
		if !slices.IsSorted(svc.Tags) || len(slices.Compact(slices.Clone(svc.Tags))) != len(svc.Tags) {
			t.Fatalf("service tags not sorted and unique: %q", svc.Tags)
		}
		for k, v := range svc.Meta {
			for _, in := range got {
				if in.Meta[k] != v {
					t.Fatalf("shared meta %s=%s missing from instance %s", k, v, in.ID)
				}
			}
		}
	})
}

// cmpInstanceKey orders instances by node, then ID.
func cmpInstanceKey(a, b Instance) int {
	if c := strings.Compare(a.Node, b.Node); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}
