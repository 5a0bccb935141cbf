package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"
)

// cliEnv makes the test binary run as switchyard-load itself, so that the
// gcp target's child (`switchyard-load serve`) is this binary re-executed.
const cliEnv = "SWITCHYARD_LOAD_TEST_AS_CLI"

func TestMain(m *testing.M) {
	if os.Getenv(cliEnv) == "1" {
		os.Exit(execute(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// TestGCPPeerEndToEnd runs a small scenario against the stock
// go-control-plane peer in a child process, fed by a real Consul dev agent,
// over state of the world and delta: every stream must see every change,
// and the child's CPU, memory and Consul connections must be measured.
func TestGCPPeerEndToEnd(t *testing.T) {
	t.Setenv(cliEnv, "1")
	for _, protocol := range []string{"sotw", "delta"} {
		t.Run(protocol, func(t *testing.T) {
			cfg := smallPeerConfig(t, targetGCP, protocol)
			cfg.LoadBin = os.Args[0]
			cfg.StalledPercent = 10 // one stream of 10
			r := runPeer(t, cfg)
			if r.ConsulConnections == nil || *r.ConsulConnections < 1 {
				t.Errorf("consul connections %v: want the peer's count", r.ConsulConnections)
			}
			if s := r.Stalled; s == nil || s.Stalled != 1 || s.Missed != 0 || s.LastStream.N != cfg.Changes || s.RisePercent == nil {
				t.Errorf("stalled phase %+v: want 1 stalled stream and every change seen by the 9 others", s)
			}
		})
	}
}

// TestConsulPeerEndToEnd runs a small scenario against Consul's own xDS
// server, with its default update rate and with the rate lifted: every
// simulated connect-proxy must see each flip of its upstream's instances.
func TestConsulPeerEndToEnd(t *testing.T) {
	for name, hcl := range map[string][]string{"defaults": nil, "lifted": {"xds { update_max_per_second = 1000000 }"}} {
		t.Run(name, func(t *testing.T) {
			cfg := smallPeerConfig(t, targetConsul, "delta")
			cfg.ConsulHCL = hcl
			r := runPeer(t, cfg)
			for _, c := range r.PerChange {
				if !strings.HasPrefix(c.Instance, cfg.ServicePrefix+"0000-") {
					t.Errorf("change %d flipped %s: want an instance of the upstream service", c.ID, c.Instance)
				}
			}
		})
	}
}

// smallPeerConfig is 10 streams over 10 services × 3 instances, 4 changes.
func smallPeerConfig(t *testing.T, target, protocol string) loadConfig {
	t.Helper()
	cfg := defaultConfig()
	cfg.Target, cfg.Protocol, cfg.Start = target, protocol, true
	cfg.Streams, cfg.Services, cfg.Instances, cfg.Changes = 10, 10, 3, 4
	cfg.SyncTimeout, cfg.ChangeTimeout = 30*time.Second, 10*time.Second
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// runPeer starts the target, measures, stops it and checks what every
// target must report.
func runPeer(t *testing.T, cfg loadConfig) *report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	tgt, ch, err := startTarget(ctx, log, cfg)
	if err != nil {
		t.Fatal(err)
	}
	r, err := measure(ctx, log, cfg, tgt, ch)
	if stopErr := tgt.stop(); stopErr != nil {
		t.Errorf("stop target: %v", stopErr)
	}
	if err != nil {
		t.Fatal(err)
	}
	if r.Target != cfg.Target || r.Missed != 0 || len(r.PerChange) != cfg.Changes {
		t.Fatalf("target %q, missed %d receipts over %d changes: %+v", r.Target, r.Missed, len(r.PerChange), r.PerChange)
	}
	for _, c := range r.PerChange {
		if c.Seen != cfg.Streams || c.LastMS <= 0 || c.LastMS > 5000 {
			t.Errorf("change %d: seen by %d of %d streams, last after %.1f ms", c.ID, c.Seen, cfg.Streams, c.LastMS)
		}
	}
	if r.InitialSyncMS <= 0 || r.BytesPerProxyPerChange <= 0 || r.CPUSecondsPerChange == nil || r.RSSBytes == nil {
		t.Errorf("sync %.1f ms, %.0f bytes/proxy/change, cpu %v, rss %v: want all measured",
			r.InitialSyncMS, r.BytesPerProxyPerChange, r.CPUSecondsPerChange, r.RSSBytes)
	}
	t.Logf("%s %s: sync %.0f ms, last stream p50 %.1f ms max %.1f ms, %.0f bytes/proxy/change",
		cfg.Target, cfg.Protocol, r.InitialSyncMS, r.LastStream.P50, r.LastStream.Max, r.BytesPerProxyPerChange)
	return r
}
