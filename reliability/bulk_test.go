package reliability

import (
	"errors"
	"fmt"
	"sync"
	"time"

	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/hashicorp/consul/api"

	"github.com/switchyard/switchyard/internal/simenvoy"
)

const (
	// bulkService is a service with many instances and no backends, so
	// that each change to it is a large EDS response (about 20 kB): enough,
	// over a few changes, to fill a stalled client's flow-control window.
	bulkService = "bulk"
	// bulkInstances is how many instances bulk starts with.
	bulkInstances = 1200
	// bulkWorkers is how many goroutines register bulk's instances.
	bulkWorkers = 8
	// bulkPort is the port of bulk-0; nothing listens on these ports.
	bulkPort = 20000
)

// registerBulk registers bulk-i in Consul with a passing TTL check.
func (e *env) registerBulk(i int) {
	e.t.Helper()
	if err := e.tryRegisterBulk(i); err != nil {
		e.t.Fatal(err)
	}
}

// tryRegisterBulk is registerBulk returning its error, for goroutines.
func (e *env) tryRegisterBulk(i int) error {
	id := fmt.Sprintf("bulk-%d", i)
	err := e.direct.Agent().ServiceRegister(&api.AgentServiceRegistration{
		ID: id, Name: bulkService, Address: "127.0.0.1", Port: bulkPort + i,
		Check: &api.AgentServiceCheck{CheckID: "ttl:" + id, TTL: "10m", Status: api.HealthPassing},
	})
	if err != nil {
		return fmt.Errorf("register %s: %w", id, err)
	}
	return nil
}

// registerBulkAll registers bulk-0 … bulk-(bulkInstances-1) from
// bulkWorkers goroutines and logs how long that took.
func (e *env) registerBulkAll() {
	e.t.Helper()
	start := time.Now()
	errs := make([]error, bulkWorkers)
	var wg sync.WaitGroup
	for w := range bulkWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < bulkInstances && errs[w] == nil; i += bulkWorkers {
				errs[w] = e.tryRegisterBulk(i)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		e.t.Fatal(err)
	}
	e.t.Logf("registered %d instances of %s in %s", bulkInstances, bulkService, time.Since(start).Round(time.Millisecond))
}

// bulkEndpoints returns how many endpoints a simulated Envoy holds for
// bulk.
func bulkEndpoints(sim *simenvoy.Envoy) int {
	cla, ok := sim.State().Types[resourcev3.EndpointType].Resources[bulkService].(*endpointv3.ClusterLoadAssignment)
	if !ok {
		return 0
	}
	n := 0
	for _, loc := range cla.GetEndpoints() {
		n += len(loc.GetLbEndpoints())
	}
	return n
}

// firstTimes polls every condition every 20 ms until all have held once
// and returns, for each, how long after from it first held; it fails the
// test after waitTimeout.
func (e *env) firstTimes(from time.Time, conds map[string]func() bool) map[string]time.Duration {
	e.t.Helper()
	out := map[string]time.Duration{}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for len(out) < len(conds) {
		for name, cond := range conds {
			if _, done := out[name]; !done && cond() {
				out[name] = time.Since(from)
			}
		}
		if len(out) == len(conds) {
			break
		}
		if time.Since(from) > waitTimeout {
			e.t.Fatalf("not reached within %s: %d of %d conditions", waitTimeout, len(out), len(conds))
		}
		<-tick.C
	}
	return out
}
