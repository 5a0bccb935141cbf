package reliability

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"testing"
	"time"

	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
)

// killedFor is how long Switchyard stays dead.
const killedFor = 30 * time.Second

// TestFailureMode01SwitchyardKilled covers FAILURE_MODES rows 1 and 8:
// Switchyard is killed with SIGKILL for 30 s under load and restarted on
// the same ports. Long: about 50 s.
//
// It asserts that the gRPC clients keep serving from what they hold with
// no failed RPC, that after the restart every resource that did not change
// in Consul is byte for byte what was served before the kill and every
// unchanged type keeps its version (no version churn, and none over the
// following seconds either), and that an instance registered while
// Switchyard was dead reaches every client.
func TestFailureMode01SwitchyardKilled(t *testing.T) {
	w := startWorld(t)
	w.addBackend("other", "other-1")
	w.waitFor("the simulated Envoy holds other", func() bool { return len(w.envoyInstances(w.sim, "other")) == 1 })
	before := w.servedState()
	simBefore := w.sim.State()
	base := w.baseline(w.admin)
	xdsAddr, adminAddr := w.sy.XDSAddr, w.sy.AdminAddr

	if err := w.sy.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	t.Logf("switchyard killed at %s", killed.Format("15:04:05.000"))
	registered := false
	w.hold(killedFor, func(elapsed time.Duration) {
		if !registered && elapsed >= 5*time.Second {
			registered = true
			w.addBackend(service, "echo-4")
			t.Logf("while switchyard is dead: registered echo-4 (at +%s)", elapsed.Round(time.Millisecond))
		}
	})
	for i, l := range w.loads {
		if r := l.result(); r.Failed != 0 {
			t.Errorf("client %d: %d RPCs failed while switchyard was dead: %v", i+1, r.Failed, r.Errors)
		}
	}

	w.startSwitchyard(xdsAddr, adminAddr)
	restarted := time.Now()
	t.Logf("switchyard ready again %s after the restart began", restarted.Sub(killed.Add(killedFor)).Round(time.Millisecond))
	after := w.servedState()
	w.compareServed(before, after)

	sim2 := w.startEnvoy("sim-envoy-2")
	want := []string{"echo-1", "echo-2", "echo-3", "echo-4"}
	dSim := w.waitFor("a new simulated Envoy holds echo-4", func() bool { return sameSet(w.envoyInstances(sim2, service), want...) })
	simAfter := sim2.State()
	for _, typ := range []string{resourcev3.ClusterType, resourcev3.ListenerType, resourcev3.RouteType} {
		if a, b := simBefore.Types[typ].Version, simAfter.Types[typ].Version; a != b {
			t.Errorf("simulated Envoy %s version %q before the kill, %q after the restart", typ, a, b)
		}
	}
	dTraffic := w.trafficConverged(restarted, []string{"echo-4"}, nil)
	t.Logf("after the restart: a new simulated Envoy had echo-4 in %s, the gRPC clients sent to it after %v (their xDS reconnect backoff)",
		dSim.Round(time.Millisecond), roundAll(dTraffic))
	w.assertNoChurn(3 * time.Second)
	w.assertNoFailedRPCs()
	w.backToBaseline(w.admin, base)
}

// served is what Switchyard serves: /status versions by flavour and type,
// and /debug/config_dump by kind and type.
type served struct {
	versions map[string]map[string]string
	dump     map[string]map[string][]json.RawMessage
}

// servedState reads the versions and every resource served to each kind.
func (w *world) servedState() served {
	w.t.Helper()
	st, err := w.admin.status()
	if err != nil {
		w.t.Fatal(err)
	}
	s := served{versions: st.Versions, dump: map[string]map[string][]json.RawMessage{}}
	for _, kind := range []string{"envoy", "grpc"} {
		if s.dump[kind], err = w.admin.configDump(kind); err != nil {
			w.t.Fatal(err)
		}
	}
	return s
}

// compareServed checks that only echo's endpoints differ between before
// and after: the same resources, byte for byte, and the same versions for
// every type but EDS, whose version must change.
func (w *world) compareServed(before, after served) {
	w.t.Helper()
	for _, flavour := range slices.Sorted(maps.Keys(before.versions)) {
		for typ, v := range before.versions[flavour] {
			got := after.versions[flavour][typ]
			switch {
			case typ == "eds" && got == v:
				w.t.Errorf("%s eds version unchanged (%s) although echo-4 was registered", flavour, v)
			case typ != "eds" && got != v:
				w.t.Errorf("%s %s version %s before the kill, %s after the restart", flavour, typ, v, got)
			}
		}
		w.t.Logf("%s versions before the kill %v, after the restart %v", flavour, before.versions[flavour], after.versions[flavour])
	}
	same, differ := 0, 0
	for kind, types := range before.dump {
		for typ, list := range types {
			got := after.dump[kind][typ]
			if len(got) != len(list) {
				w.t.Errorf("%s %s: %d resources before the kill, %d after", kind, typ, len(list), len(got))
				continue
			}
			for i := range list {
				if bytes.Equal(list[i], got[i]) {
					same++
					continue
				}
				differ++
				if !isEchoEndpoints(list[i]) {
					w.t.Errorf("%s %s resource changed across the restart:\nbefore %s\nafter  %s", kind, typ, list[i], got[i])
				}
			}
		}
	}
	w.t.Logf("config_dump across the restart: %d resources identical, %d changed (echo's endpoints)", same, differ)
}

// isEchoEndpoints reports whether a config_dump resource is echo's
// ClusterLoadAssignment.
func isEchoEndpoints(raw json.RawMessage) bool {
	var r struct {
		ClusterName string `json:"clusterName"`
	}
	return json.Unmarshal(raw, &r) == nil && r.ClusterName == service
}

// assertNoChurn checks that no version changes for d.
func (w *world) assertNoChurn(d time.Duration) {
	w.t.Helper()
	first, err := w.admin.status()
	if err != nil {
		w.t.Fatal(err)
	}
	samples := 0
	w.hold(d, func(time.Duration) {
		st, err := w.admin.status()
		if err != nil {
			w.t.Errorf("/status: %v", err)
			return
		}
		samples++
		if !maps.EqualFunc(st.Versions, first.Versions, maps.Equal) {
			w.t.Errorf("versions changed with nothing changing in Consul: %v → %v", first.Versions, st.Versions)
		}
	})
	w.t.Logf("no version change over %s (%d samples)", d, samples)
}
