package reliability

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/switchyard/switchyard/internal/simenvoy"
)

// sampleEvery is how often the sampler reads the views.
const sampleEvery = 100 * time.Millisecond

// envoyInstances returns the instance ids of the healthy endpoints a
// simulated Envoy holds for service, by the backends' ports.
func (e *env) envoyInstances(sim *simenvoy.Envoy, service string) map[string]bool {
	out := map[string]bool{}
	res := sim.State().Types[resourcev3.EndpointType].Resources[service]
	cla, ok := res.(*endpointv3.ClusterLoadAssignment)
	if !ok {
		return out
	}
	e.mu.Lock()
	byPort := maps.Clone(e.ports)
	e.mu.Unlock()
	for _, loc := range cla.GetEndpoints() {
		for _, lb := range loc.GetLbEndpoints() {
			if h := lb.GetHealthStatus(); h != corev3.HealthStatus_UNKNOWN && h != corev3.HealthStatus_HEALTHY {
				continue
			}
			port := lb.GetEndpoint().GetAddress().GetSocketAddress().GetPortValue()
			if id, ok := byPort[port]; ok {
				out[id] = true
			} else {
				out[fmt.Sprintf("port:%d", port)] = true
			}
		}
	}
	return out
}

// sameSet reports whether a holds exactly want.
func sameSet(a map[string]bool, want ...string) bool {
	if len(a) != len(want) {
		return false
	}
	for _, w := range want {
		if !a[w] {
			return false
		}
	}
	return true
}

// keys lists a set, sorted.
func keys(a map[string]bool) []string {
	return slices.Sorted(maps.Keys(a))
}

// view is one way of looking at which instances the data plane has.
type view struct {
	name string
	read func() (map[string]bool, error)
}

// sampler reads views every 100 ms and records each sample where an
// instance that must stay is missing.
type sampler struct {
	must  []string
	views []view
	stopc chan struct{}
	wg    sync.WaitGroup

	mu         sync.Mutex
	samples    int
	readErrors int
	violations []string
	minSeen    map[string]int // smallest set size seen per view
}

// startSampler samples views until stop, requiring every id in must.
func startSampler(must []string, views ...view) *sampler {
	s := &sampler{must: must, views: views, stopc: make(chan struct{}), minSeen: map[string]int{}}
	s.wg.Add(1)
	go s.run()
	return s
}

// run samples until stopped.
func (s *sampler) run() {
	defer s.wg.Done()
	tick := time.NewTicker(sampleEvery)
	defer tick.Stop()
	for {
		select {
		case <-s.stopc:
			return
		case <-tick.C:
			s.sample()
		}
	}
}

// sample reads each view once.
func (s *sampler) sample() {
	for _, v := range s.views {
		got, err := v.read()
		s.mu.Lock()
		s.samples++
		if err != nil {
			s.readErrors++
			s.mu.Unlock()
			continue
		}
		if n, ok := s.minSeen[v.name]; !ok || len(got) < n {
			s.minSeen[v.name] = len(got)
		}
		var missing []string
		for _, id := range s.must {
			if !got[id] {
				missing = append(missing, id)
			}
		}
		if len(missing) > 0 && len(s.violations) < 20 {
			s.violations = append(s.violations, fmt.Sprintf("%s %s lacks %s (has %s)",
				time.Now().Format("15:04:05.000"), v.name, strings.Join(missing, ","), strings.Join(keys(got), ",")))
		}
		s.mu.Unlock()
	}
}

// samplerResult is what a sampler saw.
type samplerResult struct {
	Samples, ReadErrors int
	Violations          []string
	MinSeen             map[string]int
}

// stop ends sampling and returns what was seen.
func (s *sampler) stop() samplerResult {
	close(s.stopc)
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	return samplerResult{Samples: s.samples, ReadErrors: s.readErrors, Violations: s.violations, MinSeen: maps.Clone(s.minSeen)}
}

// String summarises a sampler result for the test log.
func (r samplerResult) String() string {
	var mins []string
	for _, k := range slices.Sorted(maps.Keys(r.MinSeen)) {
		mins = append(mins, fmt.Sprintf("%s≥%d", k, r.MinSeen[k]))
	}
	sort.Strings(mins)
	return fmt.Sprintf("%d samples, %d read errors, %d with an endpoint missing, smallest views %s",
		r.Samples, r.ReadErrors, len(r.Violations), strings.Join(mins, " "))
}

// envoyView is a view of the instances a simulated Envoy holds.
func (e *env) envoyView(name string, sim *simenvoy.Envoy, service string) view {
	return view{name: name, read: func() (map[string]bool, error) { return e.envoyInstances(sim, service), nil }}
}

// servicesView is a view of the instances Switchyard serves, from
// /v1/services.
func servicesView(admin adminClient, service string) view {
	return view{name: "switchyard /v1/services", read: func() (map[string]bool, error) { return admin.instances(service) }}
}
