package reliability

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/switchyard/switchyard/internal/echo"
	"github.com/switchyard/switchyard/internal/simenvoy"
)

const (
	// service is the Consul service the clients dial.
	service = "echo"
	// clients is how many gRPC xDS clients run the load.
	clients = 2
	// workersPerClient is how many goroutines send RPCs on each client.
	workersPerClient = 2
	// quietAfter is how long a removed instance must go without an RPC to
	// count as left.
	quietAfter = time.Second
)

// world is a scenario's running data plane: Switchyard, gRPC clients under
// load and a simulated Envoy, over echo-1..3.
type world struct {
	*env
	admin adminClient
	ccs   []*grpc.ClientConn
	loads []*load
	sim   *simenvoy.Envoy
}

// startWorld registers echo-1..3, starts Switchyard, the clients and the
// simulated Envoy, waits until every client reaches every instance and
// starts the load.
func startWorld(t *testing.T) *world {
	t.Helper()
	return startWorldVia(t, nil)
}

// startWorldVia is startWorld where clientAddr, when set, returns the
// address gRPC client i (from 0) dials for xDS instead of Switchyard's own,
// for example a fault proxy in front of it.
func startWorldVia(t *testing.T, clientAddr func(w *world, i int) string) *world {
	t.Helper()
	w := &world{env: newEnv(t)}
	for _, id := range []string{"echo-1", "echo-2", "echo-3"} {
		w.addBackend(service, id)
	}
	w.startSwitchyard("", "")
	w.admin = newAdmin(w.sy.AdminAddr)
	w.sim = w.startEnvoy("sim-envoy-1")
	for i := range clients {
		addr := w.sy.XDSAddr
		if clientAddr != nil {
			addr = clientAddr(w, i)
		}
		w.ccs = append(w.ccs, w.dialClient(addr, fmt.Sprintf("grpc-client-%d", i+1), service))
	}
	w.waitReaches("echo-1", "echo-2", "echo-3")
	w.waitFor("the simulated Envoy holds echo-1..3", func() bool {
		return sameSet(w.envoyInstances(w.sim, service), "echo-1", "echo-2", "echo-3")
	})
	for _, cc := range w.ccs {
		w.loads = append(w.loads, startLoad([]*grpc.ClientConn{cc}, workersPerClient))
	}
	t.Cleanup(w.stopLoads)
	return w
}

// waitReaches waits until a batch of RPCs on every client reaches every
// id.
func (w *world) waitReaches(ids ...string) {
	w.t.Helper()
	for i, cc := range w.ccs {
		w.waitFor(fmt.Sprintf("client %d reaches %s", i+1, strings.Join(ids, ",")), func() bool {
			counts, _, err := echo.Spread(w.t.Context(), cc, 30)
			if err != nil {
				return false
			}
			for _, id := range ids {
				if counts[id] == 0 {
					return false
				}
			}
			return true
		})
	}
}

// stopLoads stops every load; calling it again does nothing.
func (w *world) stopLoads() {
	for _, l := range w.loads {
		l.stop()
	}
}

// assertNoFailedRPCs stops the load and fails the test on any failed RPC.
func (w *world) assertNoFailedRPCs() {
	w.t.Helper()
	w.stopLoads()
	for i, l := range w.loads {
		r := l.result()
		w.t.Logf("client %d: %s", i+1, r)
		if r.Failed != 0 {
			w.t.Errorf("client %d: %d RPCs failed; first errors: %s", i+1, r.Failed, strings.Join(r.Errors, " | "))
		}
	}
}

// trafficConverged waits until every client has sent an RPC to each of
// added since from and none to any of removed for quietAfter, and returns,
// per client, the time from from to the last of those events: the first
// answer of an added instance, the last answer of a removed one.
func (w *world) trafficConverged(from time.Time, added, removed []string) []time.Duration {
	w.t.Helper()
	out := make([]time.Duration, len(w.loads))
	for i := range w.loads {
		out[i] = w.clientConverged(i, from, added, removed)
	}
	return out
}

// clientConverged is trafficConverged for client i (from 0) alone.
func (w *world) clientConverged(i int, from time.Time, added, removed []string) time.Duration {
	w.t.Helper()
	l := w.loads[i]
	var took time.Duration
	w.waitFor(fmt.Sprintf("client %d: traffic to %v, none to %v", i+1, added, removed), func() bool {
		latest := from
		for _, id := range added {
			at, ok := l.lastOK(id)
			if !ok || at.Before(from) {
				return false
			}
			first, _ := l.firstOK(id)
			latest = maxTime(latest, maxTime(first, from))
		}
		for _, id := range removed {
			at, ok := l.lastOK(id)
			if ok && time.Since(at) < quietAfter {
				return false
			}
			if ok {
				latest = maxTime(latest, at)
			}
		}
		took = latest.Sub(from)
		return true
	})
	return took
}

// maxTime returns the later of a and b.
func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// roundAll rounds durations to the millisecond for logs.
func roundAll(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(time.Millisecond)
	}
	return out
}
