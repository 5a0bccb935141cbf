package reliability

import (
	"testing"
	"time"
)

// pausedFor is how long Consul stays stopped.
const pausedFor = 15 * time.Second

// TestFailureMode01ConsulPaused covers FAILURE_MODES rows 1 and 3: the
// Consul agent is stopped with SIGSTOP for 15 s under load (a hung
// process: its sockets stay open, nothing answers), then continued with
// SIGCONT. Long: about 25 s.
//
// It asserts that no RPC fails, that no instance goes missing from the
// simulated Envoy or /v1/services while Consul is stopped, that /readyz
// stays ready, and that Switchyard's watches are still alive afterwards:
// an instance registered right after SIGCONT reaches every client (time
// logged from the registration).
func TestFailureMode01ConsulPaused(t *testing.T) {
	w := startWorld(t)
	base := w.baseline(w.admin)
	sampled := startSampler([]string{"echo-1", "echo-2", "echo-3"},
		w.envoyView("simulated envoy", w.sim, service), servicesView(w.admin, service))

	if err := w.consul.Pause(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := w.consul.Resume(); err != nil {
			t.Error(err)
		}
	})
	failing := false
	w.hold(pausedFor, func(elapsed time.Duration) {
		st, err := w.admin.status()
		if err != nil {
			t.Errorf("/status: %v", err)
			return
		}
		failing = failing || st.Consul.Failing
		if !st.Ready {
			t.Errorf("/status ready = false %s into the pause", elapsed.Round(time.Second))
		}
	})
	if !failing {
		t.Errorf("/status never showed consul failing while the agent was stopped for %s", pausedFor)
	}
	if err := w.consul.Resume(); err != nil {
		t.Fatal(err)
	}
	w.addBackend(service, "echo-4")
	registered := time.Now()
	want := []string{"echo-1", "echo-2", "echo-3", "echo-4"}
	dEnvoy := w.waitFor("simulated envoy converges", func() bool { return sameSet(w.envoyInstances(w.sim, service), want...) })
	dTraffic := w.trafficConverged(registered, []string{"echo-4"}, nil)
	t.Logf("after SIGCONT: echo-4 reached the simulated Envoy %s after its registration, the gRPC clients' traffic %v after",
		dEnvoy.Round(time.Millisecond), roundAll(dTraffic))
	if dEnvoy > convergeWithin {
		t.Errorf("echo-4 reached the simulated Envoy %s after its registration, want within %s", dEnvoy, convergeWithin)
	}
	res := sampled.stop()
	t.Logf("during and after the pause: %s", res)
	for _, v := range res.Violations {
		t.Errorf("endpoint removed: %s", v)
	}
	w.assertNoFailedRPCs()
	w.backToBaseline(w.admin, base)
}
