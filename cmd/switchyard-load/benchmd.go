package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// benchMetric is one row of the comparison: how to read it off a report
// and, when the issue sets one, the limit a run must stay within.
type benchMetric struct {
	name, goal string
	// count marks a whole number; larger marks a figure where more is
	// better; noRatio one whose ratio means nothing (a signed change).
	count, larger, noRatio bool
	value                  func(r *report) (float64, bool)
	limit                  func(r *report) (float64, bool)
}

// fixed is a limit that does not depend on the run.
func fixed(v float64) func(*report) (float64, bool) {
	return func(*report) (float64, bool) { return v, true }
}

// ptr reads an optional figure.
func ptr(v *float64, scale float64) (float64, bool) {
	if v == nil {
		return 0, false
	}
	return *v * scale, true
}

// steady reads a figure of the steady-churn phase, if there was one.
func steady(get func(s *steadyResult) (float64, bool)) func(r *report) (float64, bool) {
	return func(r *report) (float64, bool) {
		if r.Steady == nil {
			return 0, false
		}
		return get(r.Steady)
	}
}

// stalled reads a figure of the stalled-streams phase, if there was one.
func stalled(get func(s *stalledResult) (float64, bool)) func(r *report) (float64, bool) {
	return func(r *report) (float64, bool) {
		if r.Stalled == nil {
			return 0, false
		}
		return get(r.Stalled)
	}
}

// benchMetrics are the rows, in order; the goals are issue 3's, for 2
// cores on loopback.
var benchMetrics = []benchMetric{
	{name: "initial sync, wall (ms)", goal: "≤ 1,500", limit: fixed(1500),
		value: func(r *report) (float64, bool) { return r.InitialSyncMS, true }},
	{name: "initial sync, target CPU (s)", goal: "≤ 2", limit: fixed(2),
		value: func(r *report) (float64, bool) { return ptr(r.InitialSyncCPUSeconds, 1) }},
	{name: "one change → last stream, p50 (ms)", goal: "≤ 20", limit: fixed(20),
		value: func(r *report) (float64, bool) { return r.LastStream.P50, r.LastStream.N > 0 }},
	{name: "one change → last stream, p99 (ms)", goal: "≤ 50", limit: fixed(50),
		value: func(r *report) (float64, bool) { return r.LastStream.P99, r.LastStream.N > 0 }},
	{name: "one change → every receipt, p99 (ms)",
		value: func(r *report) (float64, bool) { return r.Propagation.P99, r.Propagation.N > 0 }},
	{name: "missed receipts", count: true,
		value: func(r *report) (float64, bool) { return float64(r.Missed), true }},
	{name: "target CPU per change (ms)", goal: "≤ 15", limit: fixed(15),
		value: func(r *report) (float64, bool) { return ptr(r.CPUSecondsPerChange, 1000) }},
	{name: "bytes per proxy per change", goal: "≤ 1.2 × changed + 64",
		value: func(r *report) (float64, bool) { return r.BytesPerProxyPerChange, r.Changes > 0 },
		limit: func(r *report) (float64, bool) {
			return 1.2*r.ChangedResourceBytes + 64, r.ChangedResourceBytes > 0
		}},
	{name: "changed endpoint assignment (bytes)",
		value: func(r *report) (float64, bool) { return r.ChangedResourceBytes, r.ChangedResourceBytes > 0 }},
	{name: "memory per idle stream, live heap and stacks (kB)", goal: "≤ 40", limit: fixed(40),
		value: func(r *report) (float64, bool) { return ptr(r.LiveBytesPerStream, 1.0/1000) }},
	{name: "RSS per added stream, read right after the sync (kB)",
		value: func(r *report) (float64, bool) { return ptr(r.RSSPerStreamBytes, 1.0/1000) }},
	{name: "target RSS after the changes (MiB)",
		value: func(r *report) (float64, bool) {
			if r.RSSBytes == nil {
				return 0, false
			}
			return float64(*r.RSSBytes) / (1 << 20), true
		}},
	{name: "steady churn → last stream, p99 (ms)", goal: "≤ 100", limit: fixed(100),
		value: steady(func(s *steadyResult) (float64, bool) { return s.LastStream.P99, s.LastStream.N > 0 })},
	{name: "steady churn, achieved changes/s", larger: true,
		value: steady(func(s *steadyResult) (float64, bool) { return float64(s.Changes) / s.WallSeconds, s.WallSeconds > 0 })},
	{name: "steady churn, target CPU (cores)", goal: "≤ 1", limit: fixed(1),
		value: steady(func(s *steadyResult) (float64, bool) { return ptr(s.CPUCores, 1) })},
	{name: "steady churn, missed receipts", count: true,
		value: steady(func(s *steadyResult) (float64, bool) { return float64(s.Missed), true })},
	{name: "stalled streams → healthy last stream, p99 (ms)",
		value: stalled(func(s *stalledResult) (float64, bool) { return s.LastStream.P99, s.LastStream.N > 0 })},
	{name: "stalled streams → rise of that p99 (%)", goal: "≤ 10", limit: fixed(10), noRatio: true,
		value: stalled(func(s *stalledResult) (float64, bool) { return ptr(s.RisePercent, 1) })},
	{name: "stalled streams, missed receipts (healthy streams)", count: true,
		value: stalled(func(s *stalledResult) (float64, bool) { return float64(s.Missed), true })},
	{name: "Consul connections of the target", count: true,
		value: func(r *report) (float64, bool) { return ptr(r.ConsulConnections, 1) }},
}

// benchPairs are the ratio columns: Switchyard ÷ the peer on the same
// protocol.
var benchPairs = [][2]string{
	{"switchyard-sotw", "gcp-sotw"},
	{"switchyard-delta", "gcp-delta"},
	{"switchyard-delta", "consul-defaults"},
	{"switchyard-delta", "consul-lifted"},
}

// writeBenchMarkdown writes BENCHMARKS.md from the results.
func writeBenchMarkdown(w io.Writer, res *benchResults) error {
	var b strings.Builder
	sc := res.Scenario
	fmt.Fprintf(&b, "# Benchmarks\n\nWritten by `make bench` (`switchyard-load bench`) on %s in %.0f s. Every figure below is computed from the\nraw results at the end of this file; nothing is typed in by hand.\n\n",
		res.Started.UTC().Format("2006-01-02 15:04 UTC"), res.TookSeconds)
	writeMachine(&b, res.Machine)
	writeScenario(&b, sc)
	writeComparison(&b, res.Runs)
	writeRatios(&b, res.Runs)
	writeLeftOut(&b)
	if res.Micro != "" {
		fmt.Fprintf(&b, "## Micro-benchmarks\n\n`go test -run '^$' -bench . -benchmem ./snapshot/ ./xds/`, raw:\n\n```\n%s\n```\n\n", strings.TrimSpace(res.Micro))
	}
	raw, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return fmt.Errorf("encode results: %w", err)
	}
	fmt.Fprintf(&b, "## Raw results\n\n<details><summary>JSON of every run</summary>\n\n```json\n%s\n```\n\n</details>\n", raw)
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write benchmarks: %w", err)
	}
	return nil
}

// writeMachine describes the machine and the versions.
func writeMachine(b *strings.Builder, m machineInfo) {
	fmt.Fprintf(b, "## Machine and versions\n\n| | |\n|---|---|\n")
	fmt.Fprintf(b, "| CPUs (`nproc`) | %d |\n| CPU model | %s |\n| memory | %s |\n", m.CPUs, m.CPUModel, m.Memory)
	fmt.Fprintf(b, "| Go | %s |\n| go-control-plane | %s |\n| Consul | %s |\n| Switchyard | %s |\n", m.Go, m.GoControlPlane, m.Consul, m.SwitchyardVersion)
	fmt.Fprintf(b, "| load average (1, 5, 15 min) before / after | %s / %s |\n\n", m.LoadStart, m.LoadEnd)
	b.WriteString("Everything runs on this one machine, over loopback: the Consul dev agent, the control plane under\n" +
		"measurement and the simulated Envoy fleet (`switchyard-load`, one gRPC connection per stream) share the\n" +
		"same cores, so the clients' own CPU load is in every latency figure. CPU and memory figures are the\n" +
		"target process's own (`/proc/<pid>/stat` utime+stime, `VmRSS`). The machine is shared with other work:\n" +
		"a load average above the core count means the latencies include waiting for a core.\n\n")
}

// writeScenario says what was run against each target.
func writeScenario(b *strings.Builder, sc benchConfig) {
	fmt.Fprintf(b, "## Scenario\n\nFor each target, a fresh Consul dev agent, %d services × %d instances registered through the catalog\n"+
		"API (each instance on a synthetic node with one passing check), then %d streams connect at once\n"+
		"(initial sync), then %d single-endpoint changes one at a time (%d for state of the world; one check flipped per change, each once\n"+
		"every stream saw the previous), then, for the delta targets, %g %% of the streams (spread over the fleet) stop\n"+
		"processing (no read, no ACK) and %d more changes are measured on the others, the rise compared with the\n"+
		"first changes' p99 (the stalled streams are released after), then, for switchyard-delta and gcp-delta, a\n"+
		"steady churn of %d changes at %.0f/s, then the fleet grows to %d streams and the target's RSS growth per added stream is the memory per\n"+
		"idle stream. \"Last stream\" figures are per change, from the start of the Consul write to the receipt by the\n"+
		"last stream; with %d changes, p99 is the slowest.\n\n",
		sc.Services, sc.Instances, sc.Streams, sc.Changes, sc.SotWChanges, sc.StalledPercent, sc.StalledChanges,
		sc.SteadyChanges, sc.SteadyRate, sc.SlopeStreams, sc.Changes)
	b.WriteString("| target | what |\n|---|---|\n" +
		"| switchyard-sotw, switchyard-delta | `switchyard serve` (defaults: 50 ms debounce quiet, 500 ms max), state of the world or delta ADS |\n" +
		"| gcp-sotw, gcp-delta | stock go-control-plane " + "server (`cachev3.NewSnapshotCache(true, …)` keyed by `node.cluster`, `serverv3.NewServer`) in a child process (`switchyard-load serve`), fed by Switchyard's own `discovery.NewConsulSource` and the pure `snapshot.Translate` + `snapshot.Build`, a `SetSnapshot` per model, no debounce |\n" +
		"| consul-defaults | Consul's own xDS server (delta only: 1.14 answers state of the world with gRPC status Unimplemented), agent defaults |\n" +
		"| consul-lifted | the same with `" + liftedHCL + "` (Consul 1.14's key; default 250) |\n\n")
	fmt.Fprintf(b, "Consul is measured differently, because its proxies see only their upstreams: the same %d × %d\n"+
		"instances are registered Connect-native, %d `connect-proxy` services are registered on the agent (node.id\n"+
		"= the proxy's service id, node.cluster = its service name), each with one upstream, the first service, and\n"+
		"those of the streams added for the memory figure only then (every registered proxy gets every update of\n"+
		"its upstream, connected or not), so Consul's memory per stream includes the proxy's registration;\n"+
		"every change flips an instance of that service (Consul then sends it marked unhealthy, counted as gone).\n"+
		"Its streams hold 2 clusters, 1 endpoint assignment and 2 listeners, not the whole catalog, so its sync\n"+
		"and bytes are not comparable with the others; its CPU includes Consul handling the catalog write. The\n"+
		"other Consul settings are the dev agent's, and no config entry is written (default discovery chain: no RDS).\n\n",
		sc.Services, sc.Instances, sc.Streams+1)
}

// writeComparison writes the metric × target table, each value with ✓ or
// ✗ against the limit.
func writeComparison(b *strings.Builder, runs []benchRun) {
	b.WriteString("## Results\n\n| metric | issue 3 target |")
	for _, r := range runs {
		fmt.Fprintf(b, " %s |", r.Name)
	}
	b.WriteString("\n|---|---|" + strings.Repeat("---:|", len(runs)) + "\n")
	for _, m := range benchMetrics {
		fmt.Fprintf(b, "| %s | %s |", m.name, m.goal)
		for _, r := range runs {
			fmt.Fprintf(b, " %s |", cell(m, r))
		}
		b.WriteString("\n")
	}
	b.WriteString("\n✓ within the issue's target, ✗ not; — not measured for this target.\n\n")
	for _, r := range runs {
		if r.Error != "" {
			fmt.Fprintf(b, "- **%s failed** (figures before the failure are shown): `%s`\n", r.Name, r.Error)
		}
	}
	b.WriteString("\n")
}

// cell formats one value of a run.
func cell(m benchMetric, r benchRun) string {
	if r.Report == nil {
		return "failed"
	}
	v, ok := m.value(r.Report)
	if !ok {
		return "—"
	}
	s := num(v)
	if m.count {
		s = fmt.Sprintf("%.0f", v)
	}
	if m.limit != nil {
		if lim, ok := m.limit(r.Report); ok {
			if v <= lim {
				s += " ✓"
			} else {
				s += " ✗"
			}
		}
	}
	return s
}

// writeRatios writes Switchyard ÷ peer for every metric both measured.
func writeRatios(b *strings.Builder, runs []benchRun) {
	byName := map[string]*report{}
	for _, r := range runs {
		if r.Report != nil {
			byName[r.Name] = r.Report
		}
	}
	b.WriteString("## Switchyard ÷ peer\n\nBelow 1 means Switchyard's figure is the smaller: better for every row but the achieved change rate.\n\n| metric |")
	var pairs [][2]string
	for _, p := range benchPairs {
		if byName[p[0]] != nil && byName[p[1]] != nil {
			pairs = append(pairs, p)
			fmt.Fprintf(b, " %s ÷ %s |", p[0], p[1])
		}
	}
	b.WriteString("\n|---|" + strings.Repeat("---:|", len(pairs)) + "\n")
	for _, m := range benchMetrics {
		if m.count || m.noRatio {
			continue
		}
		fmt.Fprintf(b, "| %s |", m.name)
		for _, p := range pairs {
			sy, ok1 := m.value(byName[p[0]])
			peer, ok2 := m.value(byName[p[1]])
			if !ok1 || !ok2 || peer == 0 {
				b.WriteString(" — |")
				continue
			}
			fmt.Fprintf(b, " %s× |", num(sy/peer))
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
}

// writeLeftOut lists how to read the figures and the scenarios
// that `make bench` does not run.
func writeLeftOut(b *strings.Builder) {
	b.WriteString("## Reading the figures\n\n" +
		"- **Memory per idle stream** is, for the Go targets, the growth of heap and stacks in use after a\n" +
		"  collection forced through the target's admin address, from the fleet synced at the first size to the\n" +
		"  added streams synced, ÷ added streams: what an idle stream keeps. The RSS row is the RSS growth read\n" +
		"  right after the sync, which also holds the sync traffic's garbage not yet collected or returned to\n" +
		"  the system; Consul has only that one.\n" +
		"- **Steady churn** offers 1,000 changes/s to 1,000 streams, i.e. up to 10⁶ endpoint assignments a\n" +
		"  second for the simulated fleet to read on the same 2 shared cores: when the achieved rate falls short\n" +
		"  and receipts are missed (not seen within the change timeout), the machine as a whole saturated, and\n" +
		"  the figures bound the target from above.\n" +
		"- **Target CPU per change** is in clock ticks of 10 ms over all the changes; for Consul it includes\n" +
		"  handling the catalog write itself and rebuilding every registered proxy's configuration.\n" +
		"- **Missed receipts** are (change, stream) pairs not seen within the change timeout; the change's\n" +
		"  last-stream time is then the timeout.\n\n")
	b.WriteString("## Left out of `make bench`\n\n" +
		"- **10,000 streams** (target p99 ≤ 250 ms): each stream syncs ~1,000 clusters and endpoint\n" +
		"  assignments on a connection of its own; 10,000 of them, six targets, on 2 shared cores do not fit in\n" +
		"  the 15 minutes. Run it by hand: `switchyard-load run --start --protocol delta --streams 10000 --services 1000 --instances 10 --changes 10`.\n" +
		"- **Steady churn against Consul**: its proxies have one upstream, and the load tool keeps one change per\n" +
		"  service in flight, so 1,000 changes/s cannot be offered to it.\n" +
		"- **Steady churn and stalled streams over state of the world**, and more than a few changes: stock\n" +
		"  go-control-plane pushes every endpoint assignment to every stream on each change (about 0.5 MB ×\n" +
		"  1,000 streams here; a first run took 2 min 25 s for 10 changes, most missed), so the state-of-the-world\n" +
		"  targets get fewer changes and neither phase.\n\n" +
		"What bounds each missed target, with profiles: README, section \"Performance\".\n\n")
}

// num formats a figure with precision by magnitude.
func num(v float64) string {
	switch {
	case v >= 100 || v <= -100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10 || v <= -10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}
