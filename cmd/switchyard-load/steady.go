package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// steadyResult is the steady-churn phase: changes started at a fixed rate
// on the synced fleet, after the one-at-a-time and the stalled changes.
type steadyResult struct {
	Rate    float64 `json:"rate_per_second"`
	Changes int     `json:"changes"`
	// WallSeconds runs from the first write to the last receipt.
	WallSeconds float64 `json:"wall_seconds"`
	Propagation summary `json:"propagation_ms"`
	LastStream  summary `json:"last_stream_ms"`
	Missed      int     `json:"missed"`
	// CPUCores is the target's CPU time over the phase ÷ its wall time.
	CPUCores *float64 `json:"cpu_cores,omitempty"`
}

// steadyPhase makes cfg.SteadyChanges changes at cfg.SteadyRate per second
// and records how they propagated and what they cost.
func steadyPhase(ctx context.Context, log *slog.Logger, cfg loadConfig, tgt *target, f *fleet, ch *churn, r *report) error {
	scfg := cfg
	scfg.Rate, scfg.Changes = cfg.SteadyRate, cfg.SteadyChanges
	cpu0, cpuErr := cpuOf(tgt.pid)
	start := time.Now()
	changes, err := makeChanges(ctx, scfg, f, ch, cfg.Changes+cfg.stalledChanges())
	if err != nil {
		return fmt.Errorf("steady churn: %w", err)
	}
	wall := time.Since(start)
	if err := f.failed(); err != nil {
		return fmt.Errorf("during the steady churn: %w", err)
	}
	var p report
	fillPropagation(&p, changes, cfg.ChangeTimeout)
	s := &steadyResult{Rate: cfg.SteadyRate, Changes: len(changes), WallSeconds: wall.Seconds(),
		Propagation: p.Propagation, LastStream: p.LastStream, Missed: p.Missed}
	if cpu1, err := cpuOf(tgt.pid); cpuErr == nil && err == nil {
		v := (cpu1 - cpu0) / wall.Seconds()
		s.CPUCores = &v
	}
	r.Steady = s
	log.Info("steady churn", "changes", len(changes), "took", wall.Round(time.Millisecond), "p99_ms", s.LastStream.P99)
	return nil
}
