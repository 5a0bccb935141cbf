package snapshot

import (
	"bytes"
	"fmt"
	"maps"
	"math/rand/v2"
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
// give the same resources, versions, warnings and counts.
func checkAgainstReference(t *testing.T, b *memoBuilder, m discovery.Model) {
	t.Helper()
	got, gotErr := b.rebuild(m)
	want, wantErr := buildReference(m, b.opts)
	if (gotErr == nil) != (wantErr == nil) {
		t.Fatalf("%s: builder error %v, reference error %v", b.opts.Flavour, gotErr, wantErr)
	}
	if wantErr != nil {
		return
	}
	if got.versions != want.versions {
		t.Fatalf("%s: versions %+v, want %+v", b.opts.Flavour, got.versions, want.versions)
	}
	for typ := range types.UnknownType {
		g, w := got.snap.Resources[typ], want.snap.Resources[typ]
		if g.Version != w.Version {
			t.Fatalf("%s type %d: version %q, want %q", b.opts.Flavour, typ, g.Version, w.Version)
		}
		if !sameItems(w.Items, g.Items) {
			t.Fatalf("%s type %d: resources differ (-want +got):\n%s", b.opts.Flavour, typ, cmp.Diff(w.Items, g.Items, protocmp.Transform()))
		}
	}
	checkVersionMap(t, got, want)
	if !slices.Equal(got.warnings, want.warnings) || got.clusters != want.clusters || got.endpoints != want.endpoints {
		t.Fatalf("%s: summary %v/%d/%d, want %v/%d/%d", b.opts.Flavour,
			got.warnings, got.clusters, got.endpoints, want.warnings, want.clusters, want.endpoints)
	}
}

// checkVersionMap checks that the builder's per-resource versions are
// exactly what go-control-plane's own ConstructVersionMap computes for the
// reference snapshot.
func checkVersionMap(t *testing.T, got, want built) {
	t.Helper()
	if got.snap.VersionMap == nil {
		return // a model the builder hands to the reference path
	}
	ref := *want.snap
	ref.VersionMap = nil
	if err := ref.ConstructVersionMap(); err != nil {
		t.Fatal(err)
	}
	for _, url := range []string{resourcev3.ClusterType, resourcev3.EndpointType, resourcev3.ListenerType, resourcev3.RouteType} {
		if !maps.Equal(got.snap.VersionMap[url], ref.VersionMap[url]) {
			t.Fatalf("%s: version map of %s differs from ConstructVersionMap:\n%s", got.snap.GetVersion(url), url,
				cmp.Diff(ref.VersionMap[url], got.snap.VersionMap[url]))
		}
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
// sequences of them, and checks every rebuild against Translate and Build.
// The model is changed in place, as a careless caller might.
func TestMemoBuilderMatchesReference(t *testing.T) {
	for i, mut := range append(mutations(), mutation{"random sequence", nil}) {
		t.Run(mut.name, func(t *testing.T) {
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
					step.do(r, &m)
					checkAgainstReference(t, b, m)
				}
			}
		})
	}
}

// TestMemoBuilderKeepsPublishedMaps checks that a rebuild never writes to a
// map an earlier snapshot holds.
func TestMemoBuilderKeepsPublishedMaps(t *testing.T) {
	b := newMemoBuilder(Options{Flavour: FlavourGRPC, ListenerPort: 10000})
	m := benchModel(5, 2)
	first, err := b.rebuild(m)
	if err != nil {
		t.Fatal(err)
	}
	before := first.snap.Resources[types.Endpoint].Items["service-0001"].Resource
	m.Services[1].Instances[0].Health = discovery.HealthCritical
	m.Services = m.Services[:4]
	if _, err := b.rebuild(m); err != nil {
		t.Fatal(err)
	}
	items := first.snap.Resources[types.Endpoint].Items
	if len(items) != 5 || items["service-0001"].Resource != before {
		t.Fatal("a rebuild changed an earlier snapshot")
	}
}

// FuzzMemoBuilder feeds the builder a sequence of fuzzed models (separated
// by 0xfe bytes) and checks every rebuild against Translate and Build.
func FuzzMemoBuilder(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 0xfe, 1, 2, 3, 4, 5, 9, 7, 8})
	f.Add([]byte("web\x00127.0.0.1\x00\x01\x90\x1f\xfeweb\x00127.0.0.1\x00\x03\x90\x1f"))
	f.Add([]byte{0xff, 0, 0xff, 0, 3, 3, 3, 200, 17, 0xfe, 0xfe, 3, 3, 3})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, fl := range Flavours() {
			b := newMemoBuilder(Options{Flavour: fl, ListenerPort: 10000})
			for chunk := range bytes.SplitSeq(data, []byte{0xfe}) {
				checkAgainstReference(t, b, fuzzModel(chunk))
			}
		}
	})
}
