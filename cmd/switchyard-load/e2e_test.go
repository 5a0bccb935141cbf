package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/switchyard/switchyard/internal/consulagent"
)

// TestLoadEndToEnd runs a small scenario, over state-of-the-world and delta
// ADS, against a real Consul dev agent and Switchyard's pipeline in this
// process: every stream must sync and see every change.
func TestLoadEndToEnd(t *testing.T) {
	for _, protocol := range []string{"sotw", "delta"} {
		t.Run(protocol, func(t *testing.T) { runSmallScenario(t, protocol) })
	}
}

// runSmallScenario runs 20 streams over 20 services × 3 instances with 5
// changes and checks every figure of the report.
func runSmallScenario(t *testing.T, protocol string) {
	agent := consulagent.StartT(t)
	sy := startInProcess(t, agent.HTTPAddr)
	cfg := defaultConfig()
	cfg.Protocol = protocol
	cfg.XDSAddr, cfg.ConsulAddr, cfg.AdminAddr = sy.xdsAddr, agent.HTTPAddr, sy.adminAddr
	cfg.SwitchyardPID = os.Getpid() // the pipeline runs here, next to the fleet
	cfg.Streams, cfg.Services, cfg.Instances, cfg.Changes = 20, 20, 3, 5
	cfg.SyncTimeout, cfg.ChangeTimeout = 20*time.Second, 10*time.Second
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	tgt, ch, err := openExternal(ctx, log, cfg)
	if err != nil {
		t.Fatal(err)
	}
	nodes, _, err := ch.client.Catalog().Nodes(&api.QueryOptions{NodeMeta: map[string]string{"switchyard-load": "true"}})
	if err != nil || len(nodes) != cfg.Services*cfg.Instances {
		t.Fatalf("catalog holds %d synthetic nodes (%v), want one per instance: %d", len(nodes), err, cfg.Services*cfg.Instances)
	}
	for _, n := range nodes {
		if ip := net.ParseIP(n.Address); ip == nil || !ip.IsLoopback() {
			t.Errorf("node %s at %q: want a loopback address", n.Node, n.Address)
		}
	}
	r, err := measure(ctx, log, cfg, tgt, ch)
	if err := tgt.stop(); err != nil {
		t.Errorf("deregister: %v", err)
	}
	if left, _, err := ch.client.Catalog().Nodes(&api.QueryOptions{NodeMeta: map[string]string{"switchyard-load": "true"}}); err != nil || len(left) != 0 {
		t.Errorf("after deregistering, %d synthetic nodes left (%v)", len(left), err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if r.Missed != 0 || len(r.PerChange) != cfg.Changes {
		t.Fatalf("missed %d receipts over %d changes: %+v", r.Missed, len(r.PerChange), r.PerChange)
	}
	for _, c := range r.PerChange {
		if c.Seen != cfg.Streams || c.LastMS <= 0 || c.LastMS > 5000 {
			t.Errorf("change %d: seen by %d of %d streams, last after %.1f ms", c.ID, c.Seen, cfg.Streams, c.LastMS)
		}
	}
	if r.InitialSyncMS <= 0 || r.BytesPerProxyPerChange <= 0 {
		t.Errorf("initial sync %.1f ms, %.0f bytes per proxy per change: want both > 0", r.InitialSyncMS, r.BytesPerProxyPerChange)
	}
	if r.CPUSecondsPerChange == nil || r.RSSBytes == nil || r.ConsulConnections == nil || *r.ConsulConnections < 1 {
		t.Errorf("cpu %v, rss %v, consul connections %v: want all measured", r.CPUSecondsPerChange, r.RSSBytes, r.ConsulConnections)
	}
	t.Logf("sync %.0f ms, propagation p50 %.1f ms max %.1f ms, %.0f bytes/proxy/change",
		r.InitialSyncMS, r.Propagation.P50, r.Propagation.Max, r.BytesPerProxyPerChange)
}
