package reliability

import (
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/faultproxy"
)

const (
	// resetFor is how long every connection to Consul is reset.
	resetFor = 10 * time.Second
	// slowFor is how long Consul is slow after the resets.
	slowFor = 20 * time.Second
	// slowLatency and slowBandwidth shape Consul's answers while slow.
	slowLatency   = 500 * time.Millisecond
	slowBandwidth = 20_000
)

// TestFailureMode03ConsulResetThenSlow covers FAILURE_MODES rows 1 and 3:
// every connection to Consul is reset (RST) for 10 s, then Consul answers
// with 500 ms latency per chunk each way and 20 kB/s for 20 s, under load.
// Long: about 40 s.
//
// It asserts that no RPC fails, that no instance goes missing from the
// simulated Envoy or /v1/services, that /status shows Consul failing with
// a growing age during the resets, and that an instance registered during
// the resets and one registered while slow reach every client (logged:
// how long after each phase ended).
func TestFailureMode03ConsulResetThenSlow(t *testing.T) {
	w := startWorld(t)
	base := w.baseline(w.admin)
	sampled := startSampler([]string{"echo-1", "echo-2", "echo-3"},
		w.envoyView("simulated envoy", w.sim, service), servicesView(w.admin, service))

	w.proxy.Set(faultproxy.Mode{Kind: faultproxy.Reset})
	var maxAge time.Duration
	failing := false
	registered := false
	w.hold(resetFor, func(elapsed time.Duration) {
		if !registered && elapsed >= 2*time.Second {
			registered = true
			w.addBackend(service, "echo-4")
		}
		st, err := w.admin.status()
		if err != nil {
			t.Errorf("/status: %v", err)
			return
		}
		failing = failing || st.Consul.Failing
		if age, err := time.ParseDuration(st.Consul.Age); err == nil && age > maxAge {
			maxAge = age
		}
	})
	st, _ := w.admin.status()
	t.Logf("during %s of resets: /status failing seen %v, largest age %s, last error %q", resetFor, failing, maxAge, st.Consul.LastError)
	if !failing || maxAge < resetFor/2 {
		t.Errorf("/status during the resets: failing seen %v, largest age %s; want failing with an age of at least %s", failing, maxAge, resetFor/2)
	}

	w.proxy.Set(faultproxy.Mode{Latency: slowLatency, BytesPerSecond: slowBandwidth})
	slowFrom := time.Now()
	var dEcho4 time.Duration
	registered = false
	w.hold(slowFor, func(elapsed time.Duration) {
		if dEcho4 == 0 && w.envoyInstances(w.sim, service)["echo-4"] {
			dEcho4 = time.Since(slowFrom)
		}
		if !registered && elapsed >= 2*time.Second {
			registered = true
			w.addBackend(service, "echo-5")
		}
	})
	got5 := w.envoyInstances(w.sim, service)["echo-5"]
	t.Logf("resets over: echo-4 (registered during them) reached the simulated Envoy %s into the slow phase (0: not during it); echo-5 (registered while slow) reached it while slow: %v",
		dEcho4.Round(time.Second), got5)

	w.proxy.Set(faultproxy.Mode{})
	cleared := time.Now()
	want := []string{"echo-1", "echo-2", "echo-3", "echo-4", "echo-5"}
	dEnvoy := w.waitFor("simulated envoy converges", func() bool { return sameSet(w.envoyInstances(w.sim, service), want...) })
	dTraffic := w.trafficConverged(cleared, []string{"echo-4", "echo-5"}, nil)
	t.Logf("after the faults cleared: simulated envoy converged in %s, gRPC clients had sent to echo-4 and echo-5 %v after", dEnvoy.Round(time.Millisecond), roundAll(dTraffic))
	res := sampled.stop()
	t.Logf("during and after the faults: %s", res)
	for _, v := range res.Violations {
		t.Errorf("endpoint removed: %s", v)
	}
	w.assertNoFailedRPCs()
	w.backToBaseline(w.admin, base)
}
