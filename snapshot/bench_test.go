package snapshot

import (
	"fmt"
	"log/slog"
	"runtime"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchyard/switchyard/discovery"
)

// benchModel returns services × instances passing instances spread over
// three zones.
func benchModel(services, instances int) discovery.Model {
	m := discovery.Model{Datacenter: "dc1", Services: make([]discovery.Service, services)}
	for s := range services {
		svc := discovery.Service{Name: fmt.Sprintf("service-%04d", s), Datacenter: "dc1"}
		for i := range instances {
			svc.Instances = append(svc.Instances, discovery.Instance{
				ID: fmt.Sprintf("service-%04d-%02d", s, i), Node: fmt.Sprintf("node-%02d", i),
				Address: fmt.Sprintf("127.%d.%d.%d", s/256, s%256, i+1), Port: 8080,
				Health:   discovery.HealthPassing,
				Weights:  discovery.Weights{Passing: 1, Warning: 1},
				Locality: discovery.Locality{Region: "r1", Zone: fmt.Sprintf("z%d", i%3)},
			})
		}
		m.Services[s] = svc
	}
	return m
}

// BenchmarkTranslate measures translation alone at 1,000 services × 10
// instances.
func BenchmarkTranslate(b *testing.B) {
	m := benchModel(1000, 10)
	for _, f := range Flavours() {
		b.Run(f.String(), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Translate(m, Options{Flavour: f, ListenerPort: 10000}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkTranslateAndBuild adds validation and content hashing: the whole
// cost of one rebuild.
func BenchmarkTranslateAndBuild(b *testing.B) {
	m := benchModel(1000, 10)
	for _, f := range Flavours() {
		b.Run(f.String(), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				res, err := Translate(m, Options{Flavour: f, ListenerPort: 10000})
				if err != nil {
					b.Fatal(err)
				}
				if _, _, err := Build(res); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRebuildOneServiceChange measures what the publisher does in
// package snapshot after one instance of one service changed health, at
// 1,000 and 10,000 services × 10 instances: rebuild the flavour from a
// model that names the changed service, as discovery sends it, and collect
// the update's changes. The figure should not grow with the catalog.
func BenchmarkRebuildOneServiceChange(b *testing.B) {
	for _, services := range []int{1000, 10000} {
		m := benchModel(services, 10)
		for _, f := range Flavours() {
			b.Run(fmt.Sprintf("services=%d/%s", services, f), func(b *testing.B) {
				builder := newMemoBuilder(Options{Flavour: f, ListenerPort: 10000})
				if _, err := builder.rebuild(m); err != nil {
					b.Fatal(err)
				}
				builder.accept(builder.changes())
				runtime.GC() // not the set-up's garbage
				b.ReportAllocs()
				defer reportCPU(b)()
				i := 0
				for b.Loop() {
					svc := &m.Services[i%services]
					svc.Instances[0].Health = flipHealth(svc.Instances[0].Health)
					i++
					next := m
					next.Changed, next.Delta = []string{svc.Name}, true
					if _, err := builder.rebuild(next); err != nil {
						b.Fatal(err)
					}
					if c := builder.changes(); len(c) != 1 {
						b.Fatalf("%d changes, want 1", len(c))
					} else {
						builder.accept(c)
					}
				}
			})
		}
	}
}

// flipHealth swaps passing and critical.
func flipHealth(h discovery.Health) discovery.Health {
	if h == discovery.HealthPassing {
		return discovery.HealthCritical
	}
	return discovery.HealthPassing
}

// BenchmarkFullRebuild measures a rebuild from nothing at 10,000 services ×
// 10 instances: the publisher's first model through the memoizing builder
// up to the changes of its first update, and Translate and Build for
// comparison.
func BenchmarkFullRebuild(b *testing.B) {
	m := benchModel(10000, 10)
	for _, f := range Flavours() {
		opts := Options{Flavour: f, ListenerPort: 10000}
		b.Run(fmt.Sprintf("services=10000/%s/builder", f), func(b *testing.B) {
			b.ReportAllocs()
			defer reportCPU(b)()
			for b.Loop() {
				builder := newMemoBuilder(opts)
				if _, err := builder.rebuild(m); err != nil {
					b.Fatal(err)
				}
				builder.changes()
			}
		})
		b.Run(fmt.Sprintf("services=10000/%s/translate+build", f), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := buildReference(m, opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// reportCPU starts measuring the process's CPU time; the function it returns
// reports it per operation as cpu-ns/op, the figure to compare on a machine
// shared with other work (wall time there depends on the neighbours; with
// parallel workers CPU time can exceed it).
func reportCPU(b *testing.B) func() {
	start := processCPU()
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
		}
	}
}

// discardSink accepts every update.
type discardSink struct{}

func (discardSink) Publish(Update) error { return nil }

// discardFleetSink is a discardSink that serves fleets.
type discardFleetSink struct{ discardSink }

func (discardFleetSink) RemoveFleet(string) {}

// benchFleets returns n fleet profiles, fleet-K scoping the ten services
// service-00K0 to service-00K9 with an HTTP listener.
func benchFleets(n int) *discovery.FleetInputs {
	in := &discovery.FleetInputs{Profiles: map[string]discovery.KVEntry{}, Certs: map[string]discovery.KVEntry{}}
	for k := range n {
		profile := fmt.Sprintf(`{"version": 1, "listeners": [{"name": "http", "port": 8080, "protocol": "http"}],
			"services": {"names": ["service-00%d*"]}}`, k)
		in.Profiles[fmt.Sprintf("fleet-%d", k)] = discovery.KVEntry{Value: []byte(profile), ModifyIndex: uint64(k + 1)}
	}
	return in
}

// BenchmarkPublishOneServiceChange measures everything package snapshot does
// for one health change, both flavours: rebuild, versions, the update's
// changes, the sink call, status, metrics and log lines (to a discarding
// logger).
//
// With fleets=10, ten fleet profiles each scope ten services (a glob), so
// that most changes are out of every fleet's scope: the figure is what
// the fleets add to a publish.
func BenchmarkPublishOneServiceChange(b *testing.B) {
	for _, tc := range []struct{ services, fleets int }{{1000, 0}, {10000, 0}, {10000, 10}} {
		services := tc.services
		b.Run(fmt.Sprintf("services=%d/fleets=%d", services, tc.fleets), func(b *testing.B) {
			var sink Sink = discardSink{}
			if tc.fleets > 0 {
				sink = discardFleetSink{}
			}
			p, err := NewPublisher(PublisherConfig{
				Sink: sink, Translate: Options{ListenerPort: 10000},
				Quiet: time.Millisecond, MaxDelay: time.Millisecond,
				Logger: slog.New(slog.DiscardHandler), Registerer: prometheus.NewRegistry(),
			})
			if err != nil {
				b.Fatal(err)
			}
			m := benchModel(services, 10)
			m.Fleets = benchFleets(tc.fleets)
			p.publishModel(m)
			if st := p.Status().Fleets; len(st) != tc.fleets {
				b.Fatalf("%d fleets in force, want %d", len(st), tc.fleets)
			}
			runtime.GC() // not the set-up's garbage
			b.ReportAllocs()
			defer reportCPU(b)()
			i := 0
			for b.Loop() {
				svc := &m.Services[i%services]
				svc.Instances[0].Health = flipHealth(svc.Instances[0].Health)
				i++
				next := m
				next.Changed, next.Delta = []string{svc.Name}, true
				p.publishModel(next)
			}
		})
	}
}
