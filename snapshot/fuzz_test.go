package snapshot

import (
	"fmt"
	"testing"

	"github.com/switchyard/switchyard/discovery"
)

// FuzzTranslate builds models from fuzzed bytes and checks that translation
// never panics, that Build either accepts or rejects cleanly, and that
// accepted output is deterministic.
func FuzzTranslate(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8})
	f.Add([]byte("web\x00127.0.0.1\x00\x01\x90\x1f"))
	f.Add([]byte{0xff, 0, 0xff, 0, 3, 3, 3, 200, 17})
	f.Fuzz(func(t *testing.T, data []byte) {
		m := fuzzModel(data)
		for _, fl := range Flavours() {
			res, err := Translate(m, Options{Flavour: fl, ListenerPort: 10000})
			if err != nil {
				t.Fatal(err)
			}
			_, v1, err := Build(res)
			if err != nil {
				continue
			}
			res2, _ := Translate(m, Options{Flavour: fl, ListenerPort: 10000})
			if _, v2, err := Build(res2); err != nil || v1 != v2 {
				t.Fatalf("non-deterministic build: %v %+v %+v", err, v1, v2)
			}
		}
	})
}

// fuzzModel derives a small model from bytes: names, addresses (IPs or
// hostnames), ports, health and weights all come from the input.
func fuzzModel(data []byte) discovery.Model {
	next := func() int {
		if len(data) == 0 {
			return 0
		}
		b := data[0]
		data = data[1:]
		return int(b)
	}
	m := discovery.Model{Datacenter: "dc1"}
	for s := range next()%4 + 1 {
		svc := discovery.Service{Name: fmt.Sprintf("svc-%d-%d", s, next()%3)}
		for i := range next() % 5 {
			addr := fmt.Sprintf("127.0.%d.%d", next(), next())
			if next()%7 == 0 {
				addr = fmt.Sprintf("host-%d.example", next())
			}
			svc.Instances = append(svc.Instances, discovery.Instance{
				ID: fmt.Sprintf("i-%d", i), Address: addr, Port: next()<<8 | next(),
				Health:   discovery.Health(next()%5 + 0),
				Weights:  discovery.Weights{Passing: next() - 10, Warning: next() - 10},
				Locality: discovery.Locality{Zone: fmt.Sprintf("z%d", next()%3)},
			})
		}
		m.Services = append(m.Services, svc)
	}
	return m
}
