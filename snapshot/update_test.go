package snapshot

import (
	"fmt"
	"slices"
	"testing"

	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/switchyard/switchyard/discovery"
)

// TestUpdatesRebuildTheReference publishes a sequence of models into a sink
// that applies each update to a map, and checks after every step that the
// map holds exactly Translate and Build of the last model the sink
// accepted, whatever was rejected or refused in between.
func TestUpdatesRebuildTheReference(t *testing.T) {
	instance := func(id, addr string, h discovery.Health) discovery.Instance {
		return discovery.Instance{ID: id, Address: addr, Port: 8080, Health: h, Weights: discovery.Weights{Passing: 1, Warning: 1}}
	}
	steps := []struct {
		name string
		// change makes the step's model from the previous one.
		change func(m *discovery.Model)
		// sinkFails makes the sink refuse the update.
		sinkFails bool
		// accepted is whether the sink takes an update of this model.
		accepted bool
		// changes is how many changes the Envoy flavour's update carries;
		// -1 means every resource.
		changes int
	}{
		{"first model carries everything", func(*discovery.Model) {}, false, true, -1},
		{"one health flip", func(m *discovery.Model) {
			m.Services[0].Instances[0].Health = discovery.HealthCritical
		}, false, true, 1},
		{"no change publishes nothing", func(*discovery.Model) {}, false, false, 0},
		{"rejected model adds a service and breaks another", func(m *discovery.Model) {
			m.Services = append(m.Services, discovery.Service{Name: "added", Instances: []discovery.Instance{instance("a-1", "10.0.0.1", discovery.HealthPassing)}})
			m.Services[1].Instances[0].Port = 70000
		}, false, false, 0},
		{"fixed model carries the rejected one's changes too", func(m *discovery.Model) {
			m.Services[1].Instances[0].Port = 8081
		}, false, true, 4}, // added's cluster and endpoints, the service's endpoints, the route
		{"refused update removes a service", func(m *discovery.Model) {
			m.Services = slices.DeleteFunc(m.Services, func(s discovery.Service) bool { return s.Name == "added" })
			m.Services[0].Instances[0].Health = discovery.HealthPassing
		}, true, false, 0},
		{"next update carries the refused one's changes too", func(m *discovery.Model) {
			m.Services[2].Instances[0].Health = discovery.HealthMaintenance
		}, false, true, 3}, // two endpoint changes and the route; added's cluster and endpoints go in a follow-up
		{"duplicate name goes the reference way", func(m *discovery.Model) {
			m.Services = append(m.Services, discovery.Service{Name: m.Services[0].Name, Instances: []discovery.Instance{instance("d-1", "10.0.0.9", discovery.HealthPassing)}})
		}, false, true, 1},
		{"back from the duplicate", func(m *discovery.Model) {
			m.Services = m.Services[:len(m.Services)-1]
		}, false, true, 1},
		{"flip back to the first model's health", func(m *discovery.Model) {
			m.Services[2].Instances[0].Health = discovery.HealthPassing
		}, false, true, 1},
	}
	for _, delta := range []bool{false, true} {
		t.Run(fmt.Sprintf("delta=%v", delta), func(t *testing.T) {
			sink := newRecordingSink(t)
			p := newTestPublisher(t, sink, nil)
			m := mixedModel(t)
			var accepted discovery.Model
			for i, step := range steps {
				prev := cloneModel(m)
				step.change(&m)
				next := m
				if delta && i > 0 {
					next = deltaFrom(prev, m)
				}
				before := sink.count(FlavourEnvoy)
				sink.setFail(step.sinkFails)
				p.publishModel(next)
				sink.setFail(false)
				published := sink.count(FlavourEnvoy) > before
				n := len(sink.lastUpdate(FlavourEnvoy).Changes)
				if p.removals {
					// What Run does after RemovalDelay.
					p.removals = false
					p.publishModel(p.last)
				}
				if published != step.accepted {
					t.Fatalf("step %q: published %v, want %v", step.name, published, step.accepted)
				}
				if published {
					accepted = cloneModel(m)
					if step.changes == -1 {
						step.changes = countResources(t, m)
					}
					if n != step.changes {
						t.Errorf("step %q: %d changes, want %d: %v", step.name, n, step.changes, changeNames(sink.lastUpdate(FlavourEnvoy).Changes))
					}
				}
				for _, f := range Flavours() {
					sink.checkHolds(t, f, accepted)
				}
				if t.Failed() {
					t.Fatalf("after step %q", step.name)
				}
			}
		})
	}
}

// countResources counts the Envoy flavour's resources of a model.
func countResources(t *testing.T, m discovery.Model) int {
	t.Helper()
	res, err := Translate(m, Options{Flavour: FlavourEnvoy, ListenerPort: 10000})
	if err != nil {
		t.Fatal(err)
	}
	return len(res.Clusters) + len(res.Endpoints) + len(res.Listeners) + len(res.Routes)
}

// changeNames lists changes as type/name for failure messages.
func changeNames(changes []Change) []string {
	short := map[string]string{resourcev3.ClusterType: "cds", resourcev3.EndpointType: "eds", resourcev3.ListenerType: "lds", resourcev3.RouteType: "rds"}
	var out []string
	for _, c := range changes {
		out = append(out, short[c.TypeURL]+"/"+c.Name)
	}
	return out
}

// TestRemovalsGoLast checks make before break: an update that moves a
// route off a cluster and removes the cluster carries the route, and the
// cluster's removal follows in an update of its own.
func TestRemovalsGoLast(t *testing.T) {
	sink := newRecordingSink(t)
	p := newTestPublisher(t, sink, nil)
	m := splitModel(5000, 5000)
	p.publishModel(m)
	next := splitModel(10000, 0)
	r := next.Config.Resolvers["web"]
	r.Subsets = map[string]discovery.ResolverSubset{"v1": r.Subsets["v1"]}
	next.Config.Resolvers["web"] = r
	next.Config.Splitters["web"] = discovery.ServiceSplitter{Name: "web", Splits: []discovery.Split{{Weight: 10000, ServiceSubset: "v1"}}}
	p.publishModel(next)
	first := changeNames(sink.lastUpdate(FlavourGRPC).Changes)
	if !slices.Contains(first, "rds/web") || slices.Contains(first, "cds/web~v2") || slices.Contains(first, "eds/web~v2") {
		t.Fatalf("first update = %v, want the route without the v2 removals", first)
	}
	if !p.removals {
		t.Fatal("no follow-up publish scheduled for the held removals")
	}
	p.removals = false
	p.publishModel(p.last)
	if got, want := changeNames(sink.lastUpdate(FlavourGRPC).Changes), []string{"cds/web~v2", "eds/web~v2"}; !slices.Equal(got, want) {
		t.Fatalf("follow-up update = %v, want %v", got, want)
	}
	sink.checkHolds(t, FlavourGRPC, next)
}
