package snapshot

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/switchyard/switchyard/discovery"
	"github.com/switchyard/switchyard/fleet"
)

// TestScoperFollowsDeltas checks, over random changes (tags set and
// cleared, services added and removed), that the incremental scoper gives
// the services the full fleetScope gives.
func TestScoperFollowsDeltas(t *testing.T) {
	p, err := fleet.Parse([]byte(`{"version": 1, "listeners": [{"name": "h", "port": 80, "protocol": "http"}],
		"services": {"names": ["svc-1*", "svc-2*"], "tags": ["edge"]}}`))
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	m := discovery.Model{Datacenter: "dc1"}
	for i := range 40 {
		m.Services = append(m.Services, discovery.Service{Name: fmt.Sprintf("svc-%02d", i)})
	}
	var sc scoper
	var plans planSet
	for step := range 500 {
		next := m
		next.Services = slices.Clone(m.Services)
		next.Delta = step > 0
		next.Changed = nil
		for range rng.IntN(3) + 1 {
			name := fmt.Sprintf("svc-%02d", rng.IntN(50))
			i, found := slices.BinarySearchFunc(next.Services, name, compareServiceName)
			switch {
			case !found:
				next.Services = slices.Insert(next.Services, i, discovery.Service{Name: name})
			case rng.IntN(4) == 0:
				next.Services = slices.Delete(next.Services, i, i+1)
			case len(next.Services[i].Tags) == 0:
				next.Services[i].Tags = []string{"edge"}
			default:
				next.Services[i].Tags = nil
			}
			next.Changed = withName(next.Changed, name)
		}
		m = next
		got := serviceNames(sc.scopedModel(m, &p, plans).Services)
		want := serviceNames(fleetScope(m.Services, &p, plans))
		if !slices.Equal(got, want) {
			t.Fatalf("step %d: scoper %v, full scope %v", step, got, want)
		}
	}
}

// withName adds name to a sorted list of unique names.
func withName(names []string, name string) []string {
	return discovery.MergeNames(names, []string{name})
}
