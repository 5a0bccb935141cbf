package discovery

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/goleak"

	"github.com/switchyard/switchyard/internal/consulagent"
)

// waitFor bounds every wait on Consul or on the source in these tests.
const waitFor = 20 * time.Second

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// harness runs a ConsulSource against a real agent for one test.
type harness struct {
	t      *testing.T
	agent  *consulagent.Agent
	client *api.Client
	src    *ConsulSource
	reg    *prometheus.Registry
	// conns counts the source's connections when the harness built its
	// client.
	conns  *ConnCounter
	cancel context.CancelFunc
	done   chan error
	// failureExpected stops cleanup from requiring that Run returned nil.
	failureExpected bool
}

// newHarness creates a source for agent with short waits and backoffs; edit
// adjusts the config before the source is created. Call run to start it.
func newHarness(t *testing.T, agent *consulagent.Agent, edit func(*Config)) *harness {
	t.Helper()
	client, err := agent.Client()
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, agent: agent, client: client, reg: prometheus.NewRegistry(), done: make(chan error, 1)}
	cfg := Config{
		WaitTime:   30 * time.Second,
		MinBackoff: 10 * time.Millisecond,
		MaxBackoff: 100 * time.Millisecond,
		Logger:     slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Registerer: h.reg,
	}
	if edit != nil {
		edit(&cfg)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	if cfg.Client == nil {
		cfg.Client, cfg.Conns = countedClient(t, agent, cfg.MaxConns)
	}
	h.conns = cfg.Conns
	if h.src, err = NewConsulSource(cfg); err != nil {
		t.Fatal(err)
	}
	return h
}

// countedClient returns a client for agent whose transport counts its
// connections and opens at most maxConns (DefaultMaxConns when 0) of them.
func countedClient(t *testing.T, agent *consulagent.Agent, maxConns int) (*api.Client, *ConnCounter) {
	t.Helper()
	conns := &ConnCounter{}
	// Only the pooled transport is taken from DefaultConfig: the rest of it
	// reads CONSUL_* variables, which must not leak into tests.
	acfg := &api.Config{Address: agent.HTTPAddr, Scheme: "http", Transport: api.DefaultConfig().Transport}
	conns.Wrap(acfg.Transport, orDefault(maxConns, DefaultMaxConns))
	client, err := api.NewClient(acfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(acfg.Transport.CloseIdleConnections)
	return client, conns
}

// run starts Run; the test's cleanup stops it and checks it returned nil.
func (h *harness) run() {
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- h.src.Run(ctx) }()
	h.t.Cleanup(func() {
		if err := h.stop(); err != nil && !h.failureExpected {
			h.t.Errorf("Run() = %v, want nil after cancel", err)
		}
	})
}

// stop cancels Run and returns its result; it fails the test if Run does not
// return promptly. Calling it twice is safe.
func (h *harness) stop() error {
	h.t.Helper()
	h.cancel()
	select {
	case err := <-h.done:
		h.done <- err // keep it for a second call
		return err
	case <-time.After(waitFor):
		h.t.Fatalf("Run did not return within %s of cancel", waitFor)
		return nil
	}
}

// waitModel returns the first model that satisfies cond.
func (h *harness) waitModel(desc string, cond func(Model) bool) Model {
	h.t.Helper()
	deadline := time.NewTimer(waitFor)
	defer deadline.Stop()
	var last *Model
	for {
		select {
		case m := <-h.src.Models():
			if cond(m) {
				return m
			}
			last = &m
		case err := <-h.done:
			h.done <- err
			h.t.Fatalf("Run returned %v while waiting for a model where %s", err, desc)
		case <-deadline.C:
			h.t.Fatalf("no model where %s within %s; last model: %+v; %s", desc, waitFor, last, h.diagnosis())
		}
	}
}

// diagnosis summarises the source's connections, queries and watches, to
// tell a stalled query from a change the source dropped.
func (h *harness) diagnosis() string {
	conns := h.conns
	if conns == nil { // the test built its own client
		conns = &ConnCounter{}
	}
	return fmt.Sprintf("connections open %d (peak %d); queries ok: catalog %v health %v detector %v read %v config %v kv %v; errors %v; watches %v; promotions %v; status %+v",
		conns.Open(), conns.Peak(),
		h.metric("switchyard_consul_requests_total", "endpoint", "catalog", "result", "ok"),
		h.metric("switchyard_consul_requests_total", "endpoint", "health", "result", "ok"),
		h.metric("switchyard_consul_requests_total", "endpoint", "detector", "result", "ok"),
		h.metric("switchyard_consul_requests_total", "endpoint", "read", "result", "ok"),
		h.metric("switchyard_consul_requests_total", "endpoint", "config", "result", "ok"),
		h.metric("switchyard_consul_requests_total", "endpoint", "kv", "result", "ok"),
		h.metric("switchyard_consul_requests_total", "result", "error"),
		h.metric("switchyard_consul_watches"),
		h.metric("switchyard_consul_watch_promotions_total"),
		h.src.Status())
}

// eventually waits until cond holds, checking every few milliseconds.
func (h *harness) eventually(desc string, cond func() bool) {
	h.t.Helper()
	deadline := time.NewTimer(waitFor)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			h.t.Fatalf("not true within %s: %s", waitFor, desc)
		case <-tick.C:
		}
	}
}

// metric returns the value of the counter or gauge name with the given
// labels, 0 when it has not been set.
func (h *harness) metric(name string, labels ...string) float64 {
	h.t.Helper()
	families, err := h.reg.Gather()
	if err != nil {
		h.t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if hasLabels(m, labels) {
				return m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
		}
	}
	return 0
}

// hasLabels reports whether m carries the name, value pairs in kv.
func hasLabels(m *dto.Metric, kv []string) bool {
	for i := 0; i+1 < len(kv); i += 2 {
		if !slices.ContainsFunc(m.GetLabel(), func(l *dto.LabelPair) bool {
			return l.GetName() == kv[i] && l.GetValue() == kv[i+1]
		}) {
			return false
		}
	}
	return true
}

// register registers a service instance on the agent with a TTL check
// "ttl-<id>" in the given state.
func (h *harness) register(id, name string, port int, status string) {
	h.t.Helper()
	err := h.client.Agent().ServiceRegister(&api.AgentServiceRegistration{
		ID: id, Name: name, Address: "127.0.0.1", Port: port,
		Tags:  []string{"v1"},
		Meta:  map[string]string{"team": "payments"},
		Check: &api.AgentServiceCheck{CheckID: "ttl-" + id, TTL: "10m", Status: status},
	})
	if err != nil {
		h.t.Fatalf("register %s: %v", id, err)
	}
}

// instance finds an instance by service name and ID.
func instance(m Model, service, id string) (Instance, bool) {
	for _, s := range m.Services {
		if s.Name != service {
			continue
		}
		for _, in := range s.Instances {
			if in.ID == id {
				return in, true
			}
		}
	}
	return Instance{}, false
}

// hasHealth returns a model condition: the instance exists with health want.
func hasHealth(service, id string, want Health) func(Model) bool {
	return func(m Model) bool {
		in, ok := instance(m, service, id)
		return ok && in.Health == want
	}
}

// serviceNames lists the model's service names in order.
func serviceNames(m Model) []string {
	var names []string
	for _, s := range m.Services {
		names = append(names, s.Name)
	}
	return names
}

// testWriter sends log lines to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p))
	return len(p), nil
}
