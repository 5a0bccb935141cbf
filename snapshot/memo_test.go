package snapshot

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/switchyard/switchyard/discovery"
)

// checkAgainstReference rebuilds m with the builder and with Translate and
// Build, and fails unless both accept or reject it and, when they accept it,
// give the same resources, per-resource hashes, versions, warnings and
// counts.
func checkAgainstReference(t *testing.T, b *memoBuilder, m discovery.Model) {
	t.Helper()
	got, gotErr := b.rebuild(m)
	for range 2 {
		if gotErr != nil || !b.plans.unsettled {
			break
		}
		// A warming step (gRPC) is followed by the plan itself, which is
		// what Translate gives.
		got, gotErr = b.rebuild(m)
	}
	res, want, wantErr := buildReference(m, b.opts)
	if (gotErr == nil) != (wantErr == nil) {
		t.Fatalf("%s: builder error %v, reference error %v", b.opts.Flavour, gotErr, wantErr)
	}
	if wantErr != nil {
		return
	}
	if got.versions != want.versions {
		t.Fatalf("%s: versions %+v, want %+v", b.opts.Flavour, got.versions, want.versions)
	}
	snap, _, err := Build(res)
	if err != nil {
		t.Fatal(err)
	}
	if err := snap.ConstructVersionMap(); err != nil {
		t.Fatal(err)
	}
	for _, x := range xdsTypes {
		cur := b.current(x.typ)
		items := make(map[string]types.ResourceWithTTL, len(cur))
		hashes := make(map[string]string, len(cur))
		for name, r := range cur {
			items[name] = types.ResourceWithTTL{Resource: r.res}
			hashes[name] = hex.EncodeToString(r.digest[:])
		}
		if w := snap.Resources[x.typ].Items; !sameItems(w, items) {
			t.Fatalf("%s %s: resources differ (-want +got):\n%s", b.opts.Flavour, x.url, cmp.Diff(w, items, protocmp.Transform()))
		}
		if w := snap.VersionMap[x.url]; !maps.Equal(w, hashes) {
			t.Fatalf("%s %s: per-resource hashes differ from ConstructVersionMap (-want +got):\n%s", b.opts.Flavour, x.url, cmp.Diff(w, hashes))
		}
	}
	if !slices.Equal(got.warnings, want.warnings) || got.clusters != want.clusters || got.endpoints != want.endpoints {
		t.Fatalf("%s: summary %v/%d/%d, want %v/%d/%d", b.opts.Flavour,
			got.warnings, got.clusters, got.endpoints, want.warnings, want.clusters, want.endpoints)
	}
}

// sameItems reports whether two snapshot item maps hold equal protos under
// the same names; it is the fast path of cmp.Diff with protocmp.
func sameItems(a, b map[string]types.ResourceWithTTL) bool {
	if len(a) != len(b) {
		return false
	}
	for name, r := range a {
		o, ok := b[name]
		if !ok || !proto.Equal(r.Resource, o.Resource) {
			return false
		}
	}
	return true
}

// deltaFrom marks next as a delta from prev, as discovery would: its
// services sorted by name, and Changed naming every service whose instances
// of that name differ.
func deltaFrom(prev, next discovery.Model) discovery.Model {
	next.Services = slices.Clone(next.Services)
	slices.SortStableFunc(next.Services, compareServices)
	byName := func(m discovery.Model) map[string][]discovery.Service {
		out := map[string][]discovery.Service{}
		for _, s := range m.Services {
			out[s.Name] = append(out[s.Name], s)
		}
		return out
	}
	a, b := byName(prev), byName(next)
	var changed []string
	for name := range a {
		if !reflect.DeepEqual(a[name], b[name]) {
			changed = append(changed, name)
		}
	}
	for name := range b {
		if _, ok := a[name]; !ok {
			changed = append(changed, name)
		}
	}
	slices.Sort(changed)
	next.Changed, next.Delta = changed, true
	return next
}

// cloneModel deep-copies a model, so that mutating one leaves the other.
func cloneModel(m discovery.Model) discovery.Model {
	m.Services = slices.Clone(m.Services)
	for i := range m.Services {
		m.Services[i].Instances = slices.Clone(m.Services[i].Instances)
	}
	return m
}

// mutation is one change to a model.
type mutation struct {
	name string
	do   func(r *rand.Rand, m *discovery.Model)
}

// mutations are the model changes the builder must follow.
func mutations() []mutation {
	pick := func(r *rand.Rand, m *discovery.Model) *discovery.Service {
		if len(m.Services) == 0 {
			return nil
		}
		return &m.Services[r.IntN(len(m.Services))]
	}
	instance := func(r *rand.Rand, m *discovery.Model) *discovery.Instance {
		svc := pick(r, m)
		if svc == nil || len(svc.Instances) == 0 {
			return nil
		}
		return &svc.Instances[r.IntN(len(svc.Instances))]
	}
	return []mutation{
		{"add service", func(r *rand.Rand, m *discovery.Model) {
			name := fmt.Sprintf("svc-%d", r.IntN(40))
			if !slices.ContainsFunc(m.Services, func(s discovery.Service) bool { return s.Name == name }) {
				m.Services = append(m.Services, randomService(r, name))
			}
		}},
		{"remove service", func(r *rand.Rand, m *discovery.Model) {
			if len(m.Services) > 0 {
				i := r.IntN(len(m.Services))
				m.Services = slices.Delete(m.Services, i, i+1)
			}
		}},
		{"duplicate name", func(r *rand.Rand, m *discovery.Model) {
			if svc := pick(r, m); svc != nil && r.IntN(4) == 0 {
				m.Services = append(m.Services, randomService(r, svc.Name))
			}
		}},
		{"health flip", func(r *rand.Rand, m *discovery.Model) {
			if in := instance(r, m); in != nil {
				in.Health = discovery.Health(r.IntN(4) + 1)
			}
		}},
		{"address change", func(r *rand.Rand, m *discovery.Model) {
			if in := instance(r, m); in != nil {
				in.Address = randomAddress(r)
			}
		}},
		{"port change", func(r *rand.Rand, m *discovery.Model) {
			if in := instance(r, m); in != nil {
				in.Port = r.IntN(70000) // sometimes invalid
			}
		}},
		{"datacenter change", func(r *rand.Rand, m *discovery.Model) {
			if svc := pick(r, m); svc != nil {
				svc.Datacenter = []string{"", "dc1", "dc2"}[r.IntN(3)]
			}
		}},
		{"model datacenter change", func(r *rand.Rand, m *discovery.Model) {
			m.Datacenter = []string{"dc1", "dc2"}[r.IntN(2)]
		}},
		{"colliding name", func(r *rand.Rand, m *discovery.Model) {
			if svc := pick(r, m); svc != nil && len(svc.Name) < 40 {
				m.Services = append(m.Services, randomService(r, svc.Name+".service.consul"))
			}
		}},
		{"no change", func(*rand.Rand, *discovery.Model) {}},
		{"split between subsets", func(r *rand.Rand, m *discovery.Model) {
			if svc := pick(r, m); svc != nil {
				m.Config = withConfig(m.Config, func(c *discovery.ConfigEntries) { splitConfig(r, c, svc.Name, pick(r, m).Name) })
			}
		}},
		{"node meta change", func(r *rand.Rand, m *discovery.Model) {
			if in := instance(r, m); in != nil {
				in.NodeMeta = map[string]string{"rack": []string{"r1", "r2"}[r.IntN(2)]}
			}
		}},
		{"tcp service", func(r *rand.Rand, m *discovery.Model) {
			svc := pick(r, m)
			if svc == nil {
				return
			}
			svc.Meta = map[string]string{TCPPortMetaKey: []string{"5432", "10000", "x"}[r.IntN(3)]}
			name := svc.Name
			m.Config = withConfig(m.Config, func(c *discovery.ConfigEntries) {
				c.Defaults[name] = discovery.ServiceDefaults{Name: name, Protocol: "tcp"}
				delete(c.Splitters, name)
				delete(c.Routers, name)
			})
		}},
		{"drop config entries", func(r *rand.Rand, m *discovery.Model) {
			if names := m.Config.Names(); len(names) > 0 {
				name := names[r.IntN(len(names))]
				m.Config = withConfig(m.Config, func(c *discovery.ConfigEntries) {
					delete(c.Defaults, name)
					delete(c.Resolvers, name)
					delete(c.Splitters, name)
					delete(c.Routers, name)
				})
			}
		}},
	}
}

// withConfig returns a copy of cfg changed by edit, as discovery sends a
// new value for every change.
func withConfig(cfg *discovery.ConfigEntries, edit func(*discovery.ConfigEntries)) *discovery.ConfigEntries {
	out := &discovery.ConfigEntries{Defaults: map[string]discovery.ServiceDefaults{}, Resolvers: map[string]discovery.ServiceResolver{},
		Splitters: map[string]discovery.ServiceSplitter{}, Routers: map[string]discovery.ServiceRouter{}}
	if cfg != nil {
		maps.Copy(out.Defaults, cfg.Defaults)
		maps.Copy(out.Resolvers, cfg.Resolvers)
		maps.Copy(out.Splitters, cfg.Splitters)
		maps.Copy(out.Routers, cfg.Routers)
	}
	edit(out)
	return out
}

// splitConfig gives service subsets by port, a random weighted split
// between them, and now and then a failover, a share for another service
// and a header route to a subset.
func splitConfig(r *rand.Rand, c *discovery.ConfigEntries, service, other string) {
	res := discovery.ServiceResolver{Name: service, Subsets: map[string]discovery.ResolverSubset{
		"a": {Filter: []string{"Service.Port == 8000", "Node.Meta.rack == r1"}[r.IntN(2)]},
		"b": {Filter: "Service.Port != 8000", OnlyPassing: r.IntN(2) == 0}}}
	if r.IntN(3) == 0 {
		res.Failover = map[string]discovery.ResolverFailover{"a": {ServiceSubset: "b"}}
	}
	if r.IntN(3) == 0 {
		res.LoadBalancer = &discovery.LoadBalancer{Policy: []string{"maglev", "random", "least_request", "ring_hash"}[r.IntN(4)]}
	}
	c.Resolvers[service] = res
	delete(c.Defaults, service) // a tcp protocol would reject the splitter
	w := r.IntN(10001)
	splits := []discovery.Split{{Weight: w, ServiceSubset: "a"}, {Weight: 10000 - w, ServiceSubset: "b"}}
	// A share for another service only goes to one without a splitter,
	// so that splitters never form a loop: a loop is rejected, and the
	// builder's last good plan would then differ from Translate's.
	if _, split := c.Splitters[other]; other != service && !split && r.IntN(3) == 0 {
		splits = []discovery.Split{{Weight: w, ServiceSubset: "a"}, {Weight: 10000 - w, Service: other}}
	}
	c.Splitters[service] = discovery.ServiceSplitter{Name: service, Splits: splits}
	if r.IntN(3) == 0 {
		c.Routers[service] = discovery.ServiceRouter{Name: service, Routes: []discovery.Route{{
			Match:       discovery.HTTPMatch{Header: []discovery.HeaderMatch{{Name: "x-canary", Exact: "true"}}},
			Destination: discovery.RouteDestination{ServiceSubset: "b", NumRetries: 2, RetryOnConnectFailure: true}}}}
	}
}

// randomService returns a service of a few random instances.
func randomService(r *rand.Rand, name string) discovery.Service {
	svc := discovery.Service{Name: name, Datacenter: "dc1"}
	for i := range r.IntN(4) {
		svc.Instances = append(svc.Instances, discovery.Instance{
			ID: fmt.Sprintf("%s-%d", name, i), Address: randomAddress(r), Port: 8000 + r.IntN(3),
			Health:   discovery.Health(r.IntN(4) + 1),
			Weights:  discovery.Weights{Passing: r.IntN(3), Warning: 1},
			Locality: discovery.Locality{Zone: fmt.Sprintf("z%d", r.IntN(2))},
		})
	}
	return svc
}

// randomAddress returns an IP or, now and then, a hostname.
func randomAddress(r *rand.Rand) string {
	if r.IntN(8) == 0 {
		return fmt.Sprintf("host-%d.example", r.IntN(3))
	}
	return fmt.Sprintf("10.0.0.%d", r.IntN(6))
}

// TestMemoBuilderMatchesReference applies each kind of change, then random
// sequences of them, and checks every rebuild against Translate and Build:
// once with full models changed in place, as a careless caller might, and
// once with models that name their changed services, as discovery sends
// them.
func TestMemoBuilderMatchesReference(t *testing.T) {
	for i, mut := range append(mutations(), mutation{"random sequence", nil}) {
		for _, delta := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/delta=%v", mut.name, delta), func(t *testing.T) {
				r := rand.New(rand.NewPCG(uint64(i), 7))
				for _, f := range Flavours() {
					b := newMemoBuilder(Options{Flavour: f, ListenerPort: 10000})
					m := mixedModel(t)
					checkAgainstReference(t, b, m)
					all := mutations()
					for range 100 {
						step := mut
						if step.do == nil {
							step = all[r.IntN(len(all))]
						}
						prev := cloneModel(m)
						step.do(r, &m)
						next := m
						if delta {
							next = deltaFrom(prev, m)
						}
						checkAgainstReference(t, b, next)
					}
				}
			})
		}
	}
}

// TestMemoBuilderDeltaTouchesOnlyChanged checks that a delta model is
// followed through the services it names alone: a service it does not name
// keeps its resources even if its model changed in place.
func TestMemoBuilderDeltaTouchesOnlyChanged(t *testing.T) {
	b := newMemoBuilder(Options{Flavour: FlavourGRPC, ListenerPort: 10000})
	m := benchModel(5, 2)
	if _, err := b.rebuild(m); err != nil {
		t.Fatal(err)
	}
	b.accept(b.changes())
	m.Services[1].Instances[0].Health = discovery.HealthCritical
	m.Services[3].Instances[0].Health = discovery.HealthCritical // not named
	m.Changed, m.Delta = []string{"service-0001"}, true
	if _, err := b.rebuild(m); err != nil {
		t.Fatal(err)
	}
	got := b.changes()
	if len(got) != 1 || got[0].TypeURL != resourcev3.EndpointType || got[0].Name != "service-0001" {
		t.Fatalf("changes %+v, want service-0001's endpoints alone", got)
	}
}

// FuzzMemoBuilder feeds the builder a sequence of fuzzed models (separated
// by 0xfe bytes) and checks every rebuild against Translate and Build: once
// as full models, once as deltas that name their changed services.
func FuzzMemoBuilder(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 0xfe, 1, 2, 3, 4, 5, 9, 7, 8})
	f.Add([]byte("web\x00127.0.0.1\x00\x01\x90\x1f\xfeweb\x00127.0.0.1\x00\x03\x90\x1f"))
	f.Add([]byte{0xff, 0, 0xff, 0, 3, 3, 3, 200, 17, 0xfe, 0xfe, 3, 3, 3})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, fl := range Flavours() {
			full := newMemoBuilder(Options{Flavour: fl, ListenerPort: 10000})
			delta := newMemoBuilder(Options{Flavour: fl, ListenerPort: 10000})
			var prev discovery.Model
			first := true
			for chunk := range bytes.SplitSeq(data, []byte{0xfe}) {
				m := fuzzModel(chunk)
				checkAgainstReference(t, full, m)
				next := m
				if !first {
					next = deltaFrom(prev, m)
				}
				checkAgainstReference(t, delta, next)
				prev, first = m, false
			}
		}
	})
}
