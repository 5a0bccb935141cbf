package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"google.golang.org/grpc"

	"github.com/switchyard/switchyard/internal/consulagent"
	"github.com/switchyard/switchyard/internal/echo"
	"github.com/switchyard/switchyard/internal/grpcxds"
)

// waitTimeout bounds every wait of the end-to-end tests.
const waitTimeout = 30 * time.Second

// testSwitchyard is one Switchyard running in the test process.
type testSwitchyard struct {
	app  *app
	stop func()
}

// startSwitchyard runs Switchyard against a Consul on loopback ports and waits
// until /readyz says ready. Each option may change the configuration first.
//
// The drop guard is off unless an option sets DropConfirm. It does not
// register the replica in Consul unless an option sets Register
// (withRegister): a registration is a Consul service of its own,
// named by the replica's random admin port and checked on its own clock,
// so it would move the versions and resources the other tests pin.
func startSwitchyard(t *testing.T, consulAddr string, opts ...func(*serveConfig)) *testSwitchyard {
	t.Helper()
	cfg := defaultServeConfig()
	cfg.ConsulAddr = consulAddr
	cfg.XDSAddr = "127.0.0.1:0"
	cfg.AdminAddr = "127.0.0.1:0"
	cfg.ConsulWait = 30 * time.Second
	cfg.Register = false
	// The drop guard holds a service's failover for --drop-confirm; only
	// its own tests turn it on (e2e_dropguard_test.go).
	cfg.DropConfirm = 0
	for _, o := range opts {
		o(&cfg)
	}
	var logOut io.Writer = io.Discard
	if os.Getenv("SWITCHYARD_TEST_LOG") != "" {
		logOut = os.Stderr
	}
	a, err := newApp(cfg, slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("switchyard run: %v", err)
		}
	}
	t.Cleanup(stop)
	waitUntil(t, "switchyard ready", func() bool { return httpStatus(a.AdminAddr(), "/readyz") == http.StatusOK })
	return &testSwitchyard{app: a, stop: stop}
}

// withRegister has startSwitchyard register the replica in Consul.
func withRegister(cfg *serveConfig) { cfg.Register = true }

// httpStatus returns the status code of a GET on the admin server, or 0.
func httpStatus(addr, path string) int {
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// adminJSON decodes a GET on the admin server.
func adminJSON(t *testing.T, addr, path string, out any) {
	t.Helper()
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
}

// adminText returns the body of a GET on the admin server.
func adminText(t *testing.T, addr, path string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}

// waitUntil polls cond until it holds, failing the test after waitTimeout.
func waitUntil(t *testing.T, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for i := 0; !cond(); i++ {
		if time.Since(start) > waitTimeout {
			t.Fatalf("%s: not reached within %s", what, waitTimeout)
		}
		time.Sleep(min(time.Duration(i+1)*2*time.Millisecond, 50*time.Millisecond))
	}
	return time.Since(start)
}

// consulFixture is a dev agent with a client.
type consulFixture struct {
	agent  *consulagent.Agent
	client *api.Client
}

func startConsul(t *testing.T) *consulFixture {
	t.Helper()
	a := consulagent.StartT(t)
	c, err := a.Client()
	if err != nil {
		t.Fatal(err)
	}
	return &consulFixture{agent: a, client: c}
}

// register registers an instance of service on 127.0.0.1:port with a TTL
// check that starts passing.
func (c *consulFixture) register(t *testing.T, service, id string, port int) {
	t.Helper()
	err := c.client.Agent().ServiceRegister(&api.AgentServiceRegistration{
		ID: id, Name: service, Address: "127.0.0.1", Port: port,
		Check: &api.AgentServiceCheck{CheckID: "ttl:" + id, TTL: "10m", Status: api.HealthPassing},
	})
	if err != nil {
		t.Fatalf("register %s: %v", id, err)
	}
}

// setHealth sets an instance's TTL check to passing, warning or critical.
func (c *consulFixture) setHealth(t *testing.T, id, status string) {
	t.Helper()
	if err := c.client.Agent().UpdateTTL("ttl:"+id, "set by test", status); err != nil {
		t.Fatalf("set %s %s: %v", id, status, err)
	}
}

func (c *consulFixture) deregister(t *testing.T, id string) {
	t.Helper()
	if err := c.client.Agent().ServiceDeregister(id); err != nil {
		t.Fatalf("deregister %s: %v", id, err)
	}
}

// startBackends starts echo backends with the given ids and registers each
// as an instance of service.
func startBackends(t *testing.T, c *consulFixture, service string, ids ...string) map[string]*echo.Backend {
	t.Helper()
	out := map[string]*echo.Backend{}
	for _, id := range ids {
		b, err := echo.Start("127.0.0.1:0", id)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(b.Stop)
		c.register(t, service, id, b.Port)
		out[id] = b
	}
	return out
}

// dialXDS dials xds:///<service> with a gRPC xDS client of its own.
func dialXDS(t *testing.T, xdsAddr, nodeID, service string) *grpc.ClientConn {
	t.Helper()
	cc, err := grpcxds.Dial(grpcxds.BootstrapJSON(xdsAddr, nodeID, "e2e"), "xds:///"+service)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

// spread sends n RPCs and returns how many each instance answered. While
// traffic converges some RPCs may fail; spreadStrict is for when none may.
func spread(t *testing.T, cc *grpc.ClientConn, n int) map[string]int {
	t.Helper()
	counts, _ := spreadFailures(t, cc, n)
	return counts
}

// spreadStrict is spread that fails the test on any failed RPC.
func spreadStrict(t *testing.T, cc *grpc.ClientConn, n int) map[string]int {
	t.Helper()
	counts, failed := spreadFailures(t, cc, n)
	if failed > 0 {
		t.Fatalf("%d of %d RPCs failed (answers %v)", failed, n, counts)
	}
	return counts
}

// spreadFailures sends n RPCs and returns the answers per instance and the
// number of failed RPCs.
func spreadFailures(t *testing.T, cc *grpc.ClientConn, n int) (map[string]int, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	counts, failed, err := echo.Spread(ctx, cc, n)
	if err != nil {
		t.Fatal(err)
	}
	return counts, failed
}

// servedBy reports whether a batch of RPCs was answered by exactly ids.
func servedBy(counts map[string]int, ids ...string) bool {
	want := slices.Sorted(slices.Values(ids))
	return slices.Equal(slices.Sorted(maps.Keys(counts)), want)
}

// durationStats returns the median and the worst of ds, formatted.
func durationStats(ds []time.Duration) string {
	s := slices.Clone(ds)
	slices.Sort(s)
	parts := []string{
		fmt.Sprintf("n=%d", len(s)),
		fmt.Sprintf("median=%s", s[len(s)/2].Round(time.Millisecond)),
		fmt.Sprintf("worst=%s", s[len(s)-1].Round(time.Millisecond)),
	}
	return strings.Join(parts, " ")
}

// registerMeta is register with service meta (for example {"version":
// "v1"}), which resolver subset filters select on.
func (c *consulFixture) registerMeta(t *testing.T, service, id string, port int, meta map[string]string) {
	t.Helper()
	c.registerWith(t, &api.AgentServiceRegistration{ID: id, Name: service, Port: port, Meta: meta})
}

// registerWith registers reg on 127.0.0.1 with a TTL check that starts
// passing.
func (c *consulFixture) registerWith(t *testing.T, reg *api.AgentServiceRegistration) {
	t.Helper()
	reg.Address = "127.0.0.1"
	reg.Check = &api.AgentServiceCheck{CheckID: "ttl:" + reg.ID, TTL: "10m", Status: api.HealthPassing}
	if err := c.client.Agent().ServiceRegister(reg); err != nil {
		t.Fatalf("register %s: %v", reg.ID, err)
	}
}

// startVersionedBackends starts an echo backend per id and registers each
// as an instance of service with meta {"version": versions[id]}.
func startVersionedBackends(t *testing.T, c *consulFixture, service string, versions map[string]string) map[string]*echo.Backend {
	t.Helper()
	out := map[string]*echo.Backend{}
	for _, id := range slices.Sorted(maps.Keys(versions)) {
		b, err := echo.Start("127.0.0.1:0", id)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(b.Stop)
		c.registerMeta(t, service, id, b.Port, map[string]string{"version": versions[id]})
		out[id] = b
	}
	return out
}

// setEntry writes a config entry to Consul, failing the test if Consul
// refuses it.
func (c *consulFixture) setEntry(t *testing.T, entry api.ConfigEntry) {
	t.Helper()
	if _, _, err := c.client.ConfigEntries().Set(entry, nil); err != nil {
		t.Fatalf("write %s %q: %v", entry.GetKind(), entry.GetName(), err)
	}
}

// deleteEntry deletes a config entry from Consul.
func (c *consulFixture) deleteEntry(t *testing.T, kind, name string) {
	t.Helper()
	if _, err := c.client.ConfigEntries().Delete(kind, name, nil); err != nil {
		t.Fatalf("delete %s %q: %v", kind, name, err)
	}
}
