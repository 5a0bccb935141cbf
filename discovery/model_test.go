package discovery

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCoalesce(t *testing.T) {
	delta := func(names ...string) Model { return Model{Datacenter: "dc1", Changed: names, Delta: true} }
	for _, tt := range []struct {
		name         string
		older, newer Model
		want         Model
	}{
		{"union of deltas", delta("a", "c", "d"), delta("b", "c", "e"), delta("a", "b", "c", "d", "e")},
		{"empty older", delta(), delta("b"), delta("b")},
		{"empty newer", delta("a"), delta(), delta("a")},
		{"full older makes a full model", Model{Datacenter: "dc1", Changed: nil}, delta("b"), Model{Datacenter: "dc1"}},
		{"full newer stays full", delta("a"), Model{Datacenter: "dc1"}, Model{Datacenter: "dc1"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, Coalesce(tt.older, tt.newer)); diff != "" {
				t.Errorf("Coalesce (-want +got):\n%s", diff)
			}
		})
	}
}

// TestReplacedModelKeepsItsChanges checks that a model the consumer never
// read hands its changed services on to the model that replaces it.
func TestReplacedModelKeepsItsChanges(t *testing.T) {
	src := offlineSource(t, Config{})
	src.publish(Model{Changed: []string{"web"}, Delta: true})
	src.publish(Model{Changed: []string{"api"}, Delta: true})
	if got := <-src.Models(); !got.Delta || !cmp.Equal(got.Changed, []string{"api", "web"}) {
		t.Fatalf("model after a replaced one: Changed %q, Delta %v; want [api web], true", got.Changed, got.Delta)
	}
}

// TestModelSharesUnchangedServices checks that a model copies only the
// services that changed since the last one, and leaves earlier models as
// they were.
func TestModelSharesUnchangedServices(t *testing.T) {
	ws := newWatchSet(nil, "dc1")
	watch := func(name string, port int) *serviceWatch {
		sw := ws.watches[name]
		if sw == nil {
			sw = &serviceWatch{name: name}
			ws.watches[name] = sw
			ws.names = append(ws.names, name)
		}
		ws.applyHealth(healthUpdate{watch: sw, instances: []Instance{{ID: name + "-1", Address: "127.0.0.1", Port: port}}})
		return sw
	}
	watch("api", 1)
	watch("web", 1)
	first := ws.model()
	watch("web", 2)
	second := ws.model()
	if &first.Services[0].Instances[0] != &second.Services[0].Instances[0] {
		t.Error("an unchanged service was copied again")
	}
	if first.Services[1].Instances[0].Port != 1 || second.Services[1].Instances[0].Port != 2 {
		t.Errorf("web's port: first model %d, second %d; want 1 and 2",
			first.Services[1].Instances[0].Port, second.Services[1].Instances[0].Port)
	}
}

// TestWithVirtual checks that virtual services merge into a sorted list
// in order, flagged, with no instances.
func TestWithVirtual(t *testing.T) {
	for _, tc := range []struct {
		services, virtual, want []string
	}{
		{nil, []string{"web"}, []string{"web"}},
		{[]string{"api", "db"}, []string{"b", "z"}, []string{"api", "b", "db", "z"}},
		{[]string{"b"}, []string{"a"}, []string{"a", "b"}},
	} {
		var in []Service
		for _, n := range tc.services {
			in = append(in, Service{Name: n, Instances: []Instance{{ID: n + "-1"}}})
		}
		out := withVirtual(in, tc.virtual, "dc1")
		var names []string
		for _, s := range out {
			names = append(names, s.Name)
			if s.Virtual != slices.Contains(tc.virtual, s.Name) || s.Virtual && len(s.Instances) > 0 {
				t.Errorf("%s: virtual %v with %d instances", s.Name, s.Virtual, len(s.Instances))
			}
		}
		if !slices.Equal(names, tc.want) {
			t.Errorf("withVirtual(%v, %v) = %v, want %v", tc.services, tc.virtual, names, tc.want)
		}
	}
}
