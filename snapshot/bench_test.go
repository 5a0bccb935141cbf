package snapshot

import (
	"fmt"
	"testing"

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

// BenchmarkRebuildOneServiceChange measures the publisher's rebuild after one
// instance of one service changed health, at 1,000 and 10,000 services × 10
// instances.
func BenchmarkRebuildOneServiceChange(b *testing.B) {
	for _, services := range []int{1000, 10000} {
		m := benchModel(services, 10)
		for _, f := range Flavours() {
			b.Run(fmt.Sprintf("services=%d/%s", services, f), func(b *testing.B) {
				builder := newMemoBuilder(Options{Flavour: f, ListenerPort: 10000})
				if _, err := builder.rebuild(m); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					inst := &m.Services[i%services].Instances[0]
					inst.Health = flipHealth(inst.Health)
					i++
					if _, err := builder.rebuild(m); err != nil {
						b.Fatal(err)
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
// 10 instances: the publisher's first model through the memoizing builder,
// and Translate and Build for comparison.
func BenchmarkFullRebuild(b *testing.B) {
	m := benchModel(10000, 10)
	for _, f := range Flavours() {
		opts := Options{Flavour: f, ListenerPort: 10000}
		b.Run(fmt.Sprintf("services=10000/%s/builder", f), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := newMemoBuilder(opts).rebuild(m); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("services=10000/%s/translate+build", f), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := buildReference(m, opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
