package reliability

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/switchyard/switchyard/internal/faultproxy"
	"github.com/switchyard/switchyard/internal/simenvoy"
)

const (
	// rejectMessage is what the rejecting simulated Envoy answers every
	// route configuration with.
	rejectMessage = "reliability: every route configuration is refused"
	// partitionFor is how long one gRPC client is cut off from Switchyard.
	partitionFor = 20 * time.Second
	// changeEvery paces the Consul changes, so that six of them take
	// about ten seconds.
	changeEvery = 1700 * time.Millisecond
)

// registryChange is one step of the Consul changes a scenario makes: an
// instance added or removed, and the instances serving after it.
type registryChange struct {
	add, remove string
	after       []string
}

// changes registers and deregisters one instance at a time, never more
// than a quarter of the service at once (the drop guard holds more than
// half).
var changes = []registryChange{
	{add: "echo-4", after: []string{"echo-1", "echo-2", "echo-3", "echo-4"}},
	{remove: "echo-1", after: []string{"echo-2", "echo-3", "echo-4"}},
	{add: "echo-5", after: []string{"echo-2", "echo-3", "echo-4", "echo-5"}},
	{remove: "echo-2", after: []string{"echo-3", "echo-4", "echo-5"}},
	{add: "echo-6", after: []string{"echo-3", "echo-4", "echo-5", "echo-6"}},
	{remove: "echo-3", after: []string{"echo-4", "echo-5", "echo-6"}},
}

// TestFailureMode09StalledAndRejectingClients covers FAILURE_MODES rows 7
// and 9 end to end: beside the usual world under load and a service of
// 1,200 instances, a raw ADS client subscribes like an Envoy and never reads
// again, and a simulated Envoy NACKs every route configuration. Six Consul
// changes follow, one every 1.7 s, each adding an instance to the large
// service too, so that the stalled client's 64 KiB flow-control window
// fills. About 30 s.
//
// It asserts that the healthy clients (both gRPC clients and the normal
// simulated Envoy) converge on each change within 2 s, that no RPC fails,
// that /v1/proxies shows the rejecting Envoy's RDS as REJECTED with its
// error, that the rejected route configuration is not sent to it again
// (its RDS responses do not grow with the changes, which touch only
// endpoints), and that Switchyard's goroutines and memory are back within
// the baseline bounds once both bad clients have left.
func TestFailureMode09StalledAndRejectingClients(t *testing.T) {
	w := startWorld(t)
	w.registerBulkAll()
	w.waitFor("the simulated Envoy holds bulk", func() bool { return bulkEndpoints(w.sim) == bulkInstances })
	base := w.baseline(w.admin)
	stalled, err := startStalledClient(w.sy.XDSAddr, "stalled-client", service, bulkService)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stalled.close)
	rej := w.startRejectingEnvoy("rejecting-envoy")
	w.waitFor("the stalled client is listed in /v1/proxies", func() bool {
		ps, err := w.admin.proxies("stalled-client")
		return err == nil && len(ps) == 1
	})
	rejected := w.waitRejected("rejecting-envoy")
	rdsBefore := rej.State().Responses[resourcev3.RouteType]
	t.Logf("rejecting envoy: RDS %s, version %s rejected with %q; %d RDS responses so far",
		rejected.State, rejected.Rejection.Version, rejected.Rejection.Error, rdsBefore)

	start := time.Now()
	for i, c := range changes {
		w.hold(time.Until(start.Add(time.Duration(i)*changeEvery)), nil)
		w.applyChange(i, c, rej)
	}
	t.Logf("%d changes in %s; the simulated Envoy received %d kB of EDS in all",
		len(changes), time.Since(start).Round(time.Millisecond), w.sim.State().Bytes[resourcev3.EndpointType]>>10)

	w.checkNotResent(rej, rdsBefore)
	if ps, err := w.admin.proxies("stalled-client"); err == nil && len(ps) == 1 {
		eds := ps[0].typ("EDS")
		t.Logf("stalled client in /v1/proxies after the changes: %s; EDS %s, %d responses sent, none answered",
			ps[0].State, eds.State, eds.Responses)
	}
	stalled.close()
	rej.Close()
	for _, id := range []string{"stalled-client", "rejecting-envoy"} {
		d := w.waitFor(id+" gone from /v1/proxies", func() bool {
			ps, err := w.admin.proxies(id)
			return err == nil && len(ps) == 0
		})
		t.Logf("%s gone from /v1/proxies %s after it disconnected", id, d.Round(time.Millisecond))
	}
	w.assertNoFailedRPCs()
	w.backToBaseline(w.admin, base)
}

// startRejectingEnvoy connects a simulated Envoy that NACKs every route
// configuration and accepts everything else.
func (w *world) startRejectingEnvoy(nodeID string) *simenvoy.Envoy {
	w.t.Helper()
	sim, err := simenvoy.Start(context.Background(), w.sy.XDSAddr, simenvoy.Config{
		NodeID: nodeID, Cluster: "reliability",
		Reject: func(resp *discoveryv3.DiscoveryResponse) error {
			if resp.GetTypeUrl() == resourcev3.RouteType {
				return errors.New(rejectMessage)
			}
			return nil
		},
	})
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(sim.Close)
	return sim
}

// waitRejected waits until /v1/proxies shows node id's RDS as REJECTED
// with the rejecting Envoy's error, and returns that RDS state.
func (w *world) waitRejected(id string) proxyType {
	w.t.Helper()
	var rds proxyType
	w.waitFor(id+"'s RDS REJECTED in /v1/proxies", func() bool {
		ps, err := w.admin.proxies(id)
		if err != nil || len(ps) != 1 {
			return false
		}
		rds = ps[0].typ("RDS")
		return rds.State == "REJECTED" && rds.Rejection != nil && strings.Contains(rds.Rejection.Error, rejectMessage)
	})
	return rds
}

// applyChange makes change i in Consul, with one more bulk instance, and
// checks that the simulated Envoys and both gRPC clients' traffic follow
// within convergeWithin.
func (w *world) applyChange(i int, c registryChange, rej *simenvoy.Envoy) {
	w.t.Helper()
	w.registerBulk(bulkInstances + i)
	var added, removed []string
	if c.add != "" {
		w.addBackend(service, c.add)
		added = append(added, c.add)
	}
	if c.remove != "" {
		w.deregister(c.remove)
		removed = append(removed, c.remove)
	}
	from := time.Now()
	follows := func(sim *simenvoy.Envoy) func() bool {
		return func() bool {
			return sameSet(w.envoyInstances(sim, service), c.after...) && bulkEndpoints(sim) == bulkInstances+i+1
		}
	}
	d := w.firstTimes(from, map[string]func() bool{"simulated envoy": follows(w.sim), "rejecting envoy": follows(rej)})
	dTraffic := w.trafficConverged(from, added, removed)
	w.t.Logf("change %d (+%s -%s +bulk-%d): simulated envoy %s, rejecting envoy's EDS %s, gRPC clients' traffic %v",
		i+1, c.add, c.remove, bulkInstances+i, d["simulated envoy"].Round(time.Millisecond),
		d["rejecting envoy"].Round(time.Millisecond), roundAll(dTraffic))
	if d["simulated envoy"] > convergeWithin {
		w.t.Errorf("change %d: simulated envoy converged after %s, want within %s", i+1, d["simulated envoy"], convergeWithin)
	}
	for j, d := range dTraffic {
		if d > convergeWithin {
			w.t.Errorf("change %d: client %d's traffic converged after %s, want within %s", i+1, j+1, d, convergeWithin)
		}
	}
}

// checkNotResent checks that the rejecting Envoy got no route
// configuration again (the changes touch endpoints only, so every RDS
// response after the first would be the rejected version re-sent), at
// most one per change, and that /v1/proxies still shows the rejection.
func (w *world) checkNotResent(rej *simenvoy.Envoy, before int) {
	w.t.Helper()
	st := rej.State()
	rds := st.Responses[resourcev3.RouteType]
	w.t.Logf("rejecting envoy: %d RDS responses (%d NACKed) in all, %d after the first rejection, over %d changes; %d EDS responses, %d kB",
		rds, st.NACKs[resourcev3.RouteType], rds-before, len(changes), st.Responses[resourcev3.EndpointType], st.Bytes[resourcev3.EndpointType]>>10)
	if rds-before > len(changes) {
		w.t.Errorf("rejecting envoy got %d RDS responses over %d changes: the rejected version is re-sent", rds-before, len(changes))
	}
	ps, err := w.admin.proxies("rejecting-envoy")
	if err != nil || len(ps) != 1 {
		w.t.Fatalf("/v1/proxies for rejecting-envoy: %v, %d streams", err, len(ps))
	}
	got := ps[0].typ("RDS")
	w.t.Logf("/v1/proxies rejecting-envoy: %s; RDS %s, %d responses, %d rejections, error %q",
		ps[0].State, got.State, got.Responses, got.Rejections, got.Rejection.Error)
	if got.State != "REJECTED" || ps[0].State != "REJECTED" {
		w.t.Errorf("/v1/proxies rejecting-envoy state %s, RDS %s after the changes, want REJECTED", ps[0].State, got.State)
	}
}

// TestFailureMode09ClientPartitioned covers FAILURE_MODES row 9 for a
// partition between one gRPC client and Switchyard: a fault proxy sits
// between gRPC client 1 and the xDS port and is blackholed for 20 s under
// load while echo-4 is registered and echo-3 deregistered (its backend
// keeps running). About 40 s.
//
// It asserts that client 1 keeps serving from what it holds with no failed
// RPC (still sending to echo-3, never to echo-4, until the partition
// heals), that it converges on the change once the blackhole clears
// (timed, within 2 s), and that client 2 and the simulated Envoy converge
// within 2 s of the change, during the partition.
func TestFailureMode09ClientPartitioned(t *testing.T) {
	var xdsProxy *faultproxy.Proxy
	w := startWorldVia(t, func(w *world, i int) string {
		if i != 0 {
			return w.sy.XDSAddr
		}
		xdsProxy = w.startXDSProxy()
		return xdsProxy.Addr()
	})
	base := w.baseline(w.admin)

	xdsProxy.Set(faultproxy.Mode{Kind: faultproxy.Blackhole})
	cut := time.Now()
	t.Logf("client 1 cut off from switchyard at %s", cut.Format("15:04:05.000"))
	w.hold(2*time.Second, nil)
	w.addBackend(service, "echo-4")
	w.deregister("echo-3")
	changed := time.Now()
	dSim := w.waitFor("simulated envoy follows", func() bool {
		return sameSet(w.envoyInstances(w.sim, service), "echo-1", "echo-2", "echo-4")
	})
	dOther := w.clientConverged(1, changed, []string{"echo-4"}, []string{"echo-3"})
	t.Logf("during the partition: registered echo-4, deregistered echo-3 at +%s; simulated envoy converged in %s, client 2's traffic in %s",
		changed.Sub(cut).Round(time.Millisecond), dSim.Round(time.Millisecond), dOther.Round(time.Millisecond))
	for name, d := range map[string]time.Duration{"simulated envoy": dSim, "client 2's traffic": dOther} {
		if d > convergeWithin {
			t.Errorf("%s converged %s after the change during the partition, want within %s", name, d, convergeWithin)
		}
	}
	w.hold(partitionFor-time.Since(cut), nil)
	w.checkPartitioned(changed)

	xdsProxy.Set(faultproxy.Mode{})
	healed := time.Now()
	dHealed := w.clientConverged(0, healed, []string{"echo-4"}, []string{"echo-3"})
	t.Logf("after the partition healed: client 1's traffic converged in %s", dHealed.Round(time.Millisecond))
	if dHealed > convergeWithin {
		t.Errorf("client 1's traffic converged %s after the partition healed, want within %s", dHealed, convergeWithin)
	}
	w.assertNoFailedRPCs()
	w.backToBaseline(w.admin, base)
}

// startXDSProxy starts a fault proxy in front of Switchyard's xDS port,
// closed when the test ends.
func (w *world) startXDSProxy() *faultproxy.Proxy {
	w.t.Helper()
	p, err := faultproxy.Start(w.sy.XDSAddr)
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() {
		if err := p.Close(); err != nil {
			w.t.Errorf("close xds fault proxy: %v", err)
		}
	})
	return p
}

// checkPartitioned checks, at the end of the partition, that client 1
// served from its cache: no RPC failed, none reached echo-4, and echo-3,
// deregistered at changed, still answered it within the last second.
func (w *world) checkPartitioned(changed time.Time) {
	w.t.Helper()
	l := w.loads[0]
	r := l.result()
	last3, _ := l.lastOK("echo-3")
	_, reached4 := l.firstOK("echo-4")
	w.t.Logf("end of the partition: client 1 %s; echo-3 last answered it %s after the change", r, last3.Sub(changed).Round(time.Millisecond))
	if r.Failed != 0 {
		w.t.Errorf("client 1: %d RPCs failed during the partition: %v", r.Failed, r.Errors)
	}
	if reached4 {
		w.t.Errorf("client 1 reached echo-4 during the partition: the fault proxy let xDS through")
	}
	if time.Since(last3) > quietAfter {
		w.t.Errorf("client 1 stopped sending to echo-3 %s before the partition healed: it did not serve from its cache", time.Since(last3).Round(time.Millisecond))
	}
	if ps, err := w.admin.proxies("grpc-client-1"); err == nil {
		for _, p := range ps {
			w.t.Logf("/v1/proxies grpc-client-1 at the end of the partition: %s, EDS %s", p.State, p.typ("EDS").State)
		}
	}
}
