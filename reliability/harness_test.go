package reliability

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"google.golang.org/grpc"

	"github.com/switchyard/switchyard/internal/consulagent"
	"github.com/switchyard/switchyard/internal/echo"
	"github.com/switchyard/switchyard/internal/faultproxy"
	"github.com/switchyard/switchyard/internal/grpcxds"
	"github.com/switchyard/switchyard/internal/serveproc"
	"github.com/switchyard/switchyard/internal/simenvoy"
)

const (
	// readyTimeout bounds a Switchyard start, /readyz included.
	readyTimeout = 60 * time.Second
	// waitTimeout bounds every wait for a state the suite expects.
	waitTimeout = 60 * time.Second
	// logTailBytes is how much of Switchyard's log a failed test prints.
	logTailBytes = 8 << 10
)

// env is one scenario's world: a Consul agent, the fault proxy in front of
// it, a Consul client that bypasses the proxy, echo backends and
// Switchyard.
type env struct {
	t      *testing.T
	bin    string
	consul *consulagent.Agent
	// direct talks to Consul without the proxy, so the test can change
	// the registry while Switchyard cannot see it.
	direct *api.Client
	proxy  *faultproxy.Proxy
	sy     *serveproc.Proc
	starts int

	// mu guards ports, which the samplers read while the test registers.
	mu sync.Mutex
	// ports maps each backend's port to its instance id.
	ports map[uint32]string
}

// newEnv starts Consul and the fault proxy in front of it.
func newEnv(t *testing.T) *env {
	t.Helper()
	if testing.Short() {
		t.Skip("fault-injection scenarios wait out real outages; skipped with -short")
	}
	e := &env{t: t, bin: switchyardBinary.MustPath(t), ports: map[uint32]string{}}
	e.consul = consulagent.StartT(t)
	c, err := e.consul.Client()
	if err != nil {
		t.Fatal(err)
	}
	e.direct = c
	if e.proxy, err = faultproxy.Start(e.consul.HTTPAddr); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.proxy.Close(); err != nil {
			t.Errorf("close fault proxy: %v", err)
		}
	})
	return e
}

// addBackend starts an echo backend and registers it in Consul as an
// instance of service with a passing TTL check.
func (e *env) addBackend(service, id string) {
	e.t.Helper()
	b, err := echo.Start("127.0.0.1:0", id)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(b.Stop)
	e.mu.Lock()
	e.ports[uint32(b.Port)] = id
	e.mu.Unlock()
	err = e.direct.Agent().ServiceRegister(&api.AgentServiceRegistration{
		ID: id, Name: service, Address: "127.0.0.1", Port: b.Port,
		Check: &api.AgentServiceCheck{CheckID: "ttl:" + id, TTL: "10m", Status: api.HealthPassing},
	})
	if err != nil {
		e.t.Fatalf("register %s: %v", id, err)
	}
}

// deregister removes an instance from Consul; its backend keeps running,
// so a client that still sends to it is served.
func (e *env) deregister(id string) {
	e.t.Helper()
	if err := e.direct.Agent().ServiceDeregister(id); err != nil {
		e.t.Fatalf("deregister %s: %v", id, err)
	}
}

// startSwitchyard runs `switchyard serve` against the fault proxy, on the
// given addresses (empty: free ports), and waits until it is ready. The
// replica registration and the rollout controller are off: the first
// would add a service of its own to the versions the tests compare. A
// free port can be taken by another process before Switchyard binds it;
// with ports of its own choosing it then tries again, up to three times.
func (e *env) startSwitchyard(xdsAddr, adminAddr string) *serveproc.Proc {
	e.t.Helper()
	const attempts = 3
	for attempt := 1; ; attempt++ {
		p, logPath := e.spawnSwitchyard(xdsAddr, adminAddr)
		ctx, cancel := context.WithTimeout(e.t.Context(), readyTimeout)
		err := p.WaitReady(ctx, readyTimeout)
		cancel()
		if err == nil {
			e.sy = p
			return p
		}
		log := tail(logPath)
		if attempt < attempts && xdsAddr == "" && adminAddr == "" && strings.Contains(log, "address already in use") {
			e.t.Logf("switchyard start %d: a free port was taken before it bound it; trying other ports", attempt)
			continue
		}
		e.t.Fatalf("switchyard: %v\n%s", err, log)
	}
}

// spawnSwitchyard starts one `switchyard serve` with its own log file,
// stopped when the test ends.
func (e *env) spawnSwitchyard(xdsAddr, adminAddr string) (*serveproc.Proc, string) {
	e.t.Helper()
	e.starts++
	logPath := filepath.Join(e.t.TempDir(), fmt.Sprintf("switchyard-%d.log", e.starts))
	p, err := serveproc.Start(serveproc.Options{
		Binary: e.bin, ConsulAddr: e.proxy.Addr(), LogPath: logPath,
		XDSAddr: xdsAddr, AdminAddr: adminAddr,
		ExtraArgs: []string{"--register=false", "--rollouts=false", "--log-level", "info"},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		if err := p.Stop(); err != nil {
			e.t.Errorf("stop switchyard: %v", err)
		}
		if e.t.Failed() {
			e.t.Logf("switchyard log %s (tail):\n%s", logPath, tail(logPath))
		}
	})
	return p, logPath
}

// tail returns the end of a log file, or why it could not be read.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(read %s: %v)", path, err)
	}
	if len(b) > logTailBytes {
		b = b[len(b)-logTailBytes:]
	}
	return string(b)
}

// dialClient dials xds:///<service> with a gRPC xDS client of its own
// whose xDS server is at xdsAddr.
func (e *env) dialClient(xdsAddr, nodeID, service string) *grpc.ClientConn {
	e.t.Helper()
	cc, err := grpcxds.Dial(grpcxds.BootstrapJSON(xdsAddr, nodeID, "reliability"), "xds:///"+service)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = cc.Close() })
	return cc
}

// startEnvoy connects a simulated Envoy to Switchyard.
func (e *env) startEnvoy(nodeID string) *simenvoy.Envoy {
	e.t.Helper()
	sim, err := simenvoy.Start(context.Background(), e.sy.XDSAddr, simenvoy.Config{NodeID: nodeID, Cluster: "reliability"})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(sim.Close)
	return sim
}

// waitFor polls cond every 20 ms until it holds and returns how long that
// took, failing the test after waitTimeout.
func (e *env) waitFor(what string, cond func() bool) time.Duration {
	e.t.Helper()
	start := time.Now()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Since(start) > waitTimeout {
			e.t.Fatalf("%s: not reached within %s", what, waitTimeout)
		}
		<-tick.C
	}
	return time.Since(start)
}

// hold keeps a fault in place for d while calling every once a second
// (for example to sample /status), and returns when d has passed.
func (e *env) hold(d time.Duration, every func(elapsed time.Duration)) {
	e.t.Helper()
	start := time.Now()
	end := time.NewTimer(d)
	defer end.Stop()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for range int(d/time.Second) + 1 {
		select {
		case <-end.C:
			return
		case <-tick.C:
			if every != nil {
				every(time.Since(start))
			}
		}
	}
	<-end.C
}
