package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// summary is the distribution of a set of durations, in milliseconds.
type summary struct {
	// N is how many durations there were.
	N   int     `json:"n"`
	P50 float64 `json:"p50"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// changeResult is what became of one change.
type changeResult struct {
	ID       int    `json:"id"`
	Instance string `json:"instance"`
	Status   string `json:"status"`
	// Seen is how many streams received it within the timeout.
	Seen int `json:"seen"`
	// LastMS is the time from the Consul write to the last stream's
	// receipt; with missing streams, to the timeout.
	LastMS float64 `json:"last_ms"`
}

// report is everything one run measured. Pointer fields are absent when
// they could not be measured (no pid, no admin address).
type report struct {
	Target string `json:"target"`
	// ConsulHCL is the extra Consul agent configuration of the run.
	ConsulHCL []string `json:"consul_hcl,omitempty"`
	Protocol  string   `json:"protocol"`
	Streams   int      `json:"streams"`
	Services  int      `json:"services"`
	Instances int      `json:"instances_per_service"`
	Changes   int      `json:"changes"`
	Rate      float64  `json:"rate_per_second,omitempty"`
	// InitialSyncMS runs from the first connect to the last stream holding
	// clusters, endpoints, listeners and routes.
	InitialSyncMS float64 `json:"initial_sync_ms"`
	// InitialSyncCPUSeconds is the target's CPU time over the initial sync.
	InitialSyncCPUSeconds *float64 `json:"initial_sync_cpu_seconds,omitempty"`
	// Propagation covers every (change, stream) receipt; LastStream the
	// receipt by the last stream of each change.
	Propagation summary `json:"propagation_ms"`
	LastStream  summary `json:"last_stream_ms"`
	// Missed counts (change, stream) pairs not seen within the timeout.
	Missed                 int     `json:"missed"`
	BytesPerProxyPerChange float64 `json:"bytes_per_proxy_per_change"`
	// ChangedResourceBytes is the mean size of the endpoint assignment
	// that carried a change.
	ChangedResourceBytes float64  `json:"changed_resource_bytes"`
	CPUSecondsPerChange  *float64 `json:"cpu_seconds_per_change,omitempty"`
	RSSBytes             *int64   `json:"rss_bytes,omitempty"`
	RSSPerStreamBytes    *float64 `json:"rss_per_stream_bytes,omitempty"`
	// LiveBytesPerStream is the growth of heap and stacks in use, after a
	// forced collection, per added stream (Go targets with an admin
	// address only).
	LiveBytesPerStream *float64       `json:"live_bytes_per_stream,omitempty"`
	SlopeStreams       int            `json:"slope_streams,omitempty"`
	ConsulConnections  *float64       `json:"consul_connections,omitempty"`
	PerChange          []changeResult `json:"per_change"`
	// Steady is the steady-churn phase, when there was one.
	Steady *steadyResult `json:"steady,omitempty"`
	// Stalled is the stalled-streams phase, when there was one.
	Stalled *stalledResult `json:"stalled,omitempty"`
}

// percentile returns the nearest-rank p-th percentile (0 < p ≤ 100) of
// sorted values, or 0 for none.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// summarize returns the distribution of ds.
func summarize(ds []time.Duration) summary {
	s := slices.Clone(ds)
	slices.Sort(s)
	out := summary{N: len(s), P50: ms(percentile(s, 50)), P99: ms(percentile(s, 99))}
	if len(s) > 0 {
		out.Max = ms(s[len(s)-1])
	}
	return out
}

// ms converts to fractional milliseconds.
func ms(d time.Duration) float64 {
	return float64(d) / float64(time.Millisecond)
}

// perProxyPerChange divides bytes by streams × changes, 0 when either is 0.
func perProxyPerChange(bytes int64, streams, changes int) float64 {
	if streams == 0 || changes == 0 {
		return 0
	}
	return float64(bytes) / float64(streams) / float64(changes)
}

// writeJSON prints r as indented JSON.
func (r *report) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// writeTable prints r as an aligned two-column table, then the changes.
func (r *report) writeTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, format string, args ...any) { fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{k}, args...)...) }
	row("target", "%s %s", r.Target, strings.Join(r.ConsulHCL, " "))
	row("scenario", "%s, %d streams, %d services × %d instances, %d changes", r.Protocol, r.Streams, r.Services, r.Instances, r.Changes)
	if r.Rate > 0 {
		row("change rate", "%.1f/s", r.Rate)
	}
	row("initial sync", "%.0f ms, %s CPU", r.InitialSyncMS, optional(r.InitialSyncCPUSeconds, "%.2f s"))
	row("propagation, all receipts", "p50 %.1f ms  p99 %.1f ms  max %.1f ms  (n=%d)", r.Propagation.P50, r.Propagation.P99, r.Propagation.Max, r.Propagation.N)
	row("propagation, last stream", "p50 %.1f ms  p99 %.1f ms  max %.1f ms  (n=%d)", r.LastStream.P50, r.LastStream.P99, r.LastStream.Max, r.LastStream.N)
	row("missed receipts", "%d", r.Missed)
	row("bytes per proxy per change", "%.0f (changed endpoint assignment: %.0f)", r.BytesPerProxyPerChange, r.ChangedResourceBytes)
	row("control-plane CPU per change", "%s", optional(r.CPUSecondsPerChange, "%.3f s"))
	row("control-plane RSS", "%s", optionalInt(r.RSSBytes))
	if r.RSSPerStreamBytes != nil {
		row("RSS per stream", "%.0f bytes (%d → %d streams)", *r.RSSPerStreamBytes, r.Streams, r.SlopeStreams)
	}
	if r.LiveBytesPerStream != nil {
		row("live memory per stream", "%.0f bytes (heap and stacks after a collection)", *r.LiveBytesPerStream)
	}
	row("Consul connections", "%s", optional(r.ConsulConnections, "%.0f"))
	if s := r.Stalled; s != nil {
		row("stalled streams", "%d (%.1f%%), %d changes: healthy last stream p99 %.1f ms (%s vs none stalled), %d missed",
			s.Stalled, s.Percent, s.Changes, s.LastStream.P99, optional(s.RisePercent, "%+.0f%%"), s.Missed)
	}
	if s := r.Steady; s != nil {
		row("steady churn", "%.0f changes/s × %d: last stream p50 %.1f ms  p99 %.1f ms  max %.1f ms, %d missed, %s cores",
			s.Rate, s.Changes, s.LastStream.P50, s.LastStream.P99, s.LastStream.Max, s.Missed, optional(s.CPUCores, "%.2f"))
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "change\tinstance\tstatus\tseen\tlast stream")
	for _, c := range r.PerChange {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d/%d\t%.1f ms\n", c.ID, c.Instance, c.Status, c.Seen, r.Streams, c.LastMS)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// optional formats v, or "n/a" when it was not measured.
func optional(v *float64, format string) string {
	if v == nil {
		return "n/a"
	}
	return fmt.Sprintf(format, *v)
}

// optionalInt formats a byte count in MiB, or "n/a".
func optionalInt(v *int64) string {
	if v == nil {
		return "n/a"
	}
	return fmt.Sprintf("%.1f MiB", float64(*v)/(1<<20))
}
