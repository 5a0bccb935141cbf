package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBenchMarkdown checks that the table is computed from the reports:
// marks against the limits, ratios, failed runs and raw JSON.
func TestBenchMarkdown(t *testing.T) {
	cpu := 0.010
	sy := &report{Target: targetSwitchyard, Protocol: "delta", Changes: 10, InitialSyncMS: 900,
		LastStream: summary{N: 10, P50: 12, P99: 40}, CPUSecondsPerChange: &cpu,
		BytesPerProxyPerChange: 200, ChangedResourceBytes: 100}
	peer := &report{Target: targetGCP, Protocol: "delta", Changes: 10, InitialSyncMS: 1800,
		LastStream: summary{N: 10, P50: 24, P99: 60}, BytesPerProxyPerChange: 100, ChangedResourceBytes: 100}
	res := &benchResults{Started: time.Unix(0, 0), Scenario: defaultBenchConfig(), Runs: []benchRun{
		{benchTarget: benchTarget{Name: "switchyard-delta"}, Report: sy},
		{benchTarget: benchTarget{Name: "gcp-delta"}, Report: peer},
		{benchTarget: benchTarget{Name: "consul-defaults"}, Error: "consul exploded"},
	}}
	var b strings.Builder
	if err := writeBenchMarkdown(&b, res); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{
		"| initial sync, wall (ms) | ≤ 1,500 | 900 ✓ | 1800 ✗ | failed |",
		"| one change → last stream, p50 (ms) | ≤ 20 | 12.0 ✓ | 24.0 ✗ | failed |",
		"| target CPU per change (ms) | ≤ 15 | 10.0 ✓ | — | failed |",
		"| bytes per proxy per change | ≤ 1.2 × changed + 64 | 200 ✗ | 100 ✓ | failed |",
		"| initial sync, wall (ms) | 0.50× |",
		"**consul-defaults failed** (figures before the failure are shown): `consul exploded`",
		`"initial_sync_ms": 900`,
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

// TestRerender checks that --from writes the tables from saved results.
func TestRerender(t *testing.T) {
	dir := t.TempDir()
	res := benchResults{Runs: []benchRun{{benchTarget: benchTarget{Name: "gcp-delta"}, Report: &report{InitialSyncMS: 1234}}}}
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	from, micro, out := filepath.Join(dir, "r.json"), filepath.Join(dir, "micro.txt"), filepath.Join(dir, "B.md")
	if err := os.WriteFile(from, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(micro, []byte("BenchmarkX 1 2 ns/op"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := rerender(benchConfig{From: from, Micro: micro, Out: out}); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| initial sync, wall (ms) | ≤ 1,500 | 1234 ✓ |", "BenchmarkX 1 2 ns/op"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("rerendered markdown lacks %q", want)
		}
	}
}
