package main

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// stallSet holds the streams that have stopped processing, as a stuck
// Envoy does: each blocks before handling its next response, so it neither
// ACKs nor reads further, until released.
type stallSet struct {
	any     atomic.Bool
	mu      sync.Mutex
	stalled map[int]bool
	resume  chan struct{}
}

func newStallSet() *stallSet {
	return &stallSet{stalled: map[int]bool{}, resume: make(chan struct{})}
}

// stall marks ids stalled.
func (s *stallSet) stall(ids []int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		s.stalled[id] = true
	}
	s.any.Store(len(s.stalled) > 0)
}

// release lets every stalled stream go on.
func (s *stallSet) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.stalled)
	s.any.Store(false)
	close(s.resume)
	s.resume = make(chan struct{})
}

// count returns how many streams are stalled; a nil set has none.
func (s *stallSet) count() int {
	if s == nil || !s.any.Load() {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.stalled)
}

// wait blocks while stream id is stalled, or until ctx ends.
func (s *stallSet) wait(ctx context.Context, id int) error {
	if s == nil || !s.any.Load() {
		return nil
	}
	s.mu.Lock()
	stalled, resume := s.stalled[id], s.resume
	s.mu.Unlock()
	if !stalled {
		return nil
	}
	select {
	case <-resume:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stalled stream %d: %w", id, ctx.Err())
	}
}

// stallable makes handle wait while stream id is stalled.
func stallable[R any](ctx context.Context, s *stallSet, id int, handle func(R, time.Time) error) func(R, time.Time) error {
	if s == nil {
		return handle
	}
	return func(resp R, at time.Time) error {
		if err := s.wait(ctx, id); err != nil {
			return err
		}
		return handle(resp, at)
	}
}

// stalledChanges is how many changes the stalled-streams phase makes.
func (c loadConfig) stalledChanges() int {
	switch {
	case c.StalledPercent == 0:
		return 0
	case c.StalledChanges > 0:
		return c.StalledChanges
	default:
		return c.Changes
	}
}

// stalledResult is the stalled-streams phase: the same one-at-a-time
// changes with a share of the streams stalled, measured on the others.
type stalledResult struct {
	Percent float64 `json:"percent"`
	Stalled int     `json:"stalled_streams"`
	Changes int     `json:"changes"`
	// LastStream is over the healthy streams only.
	LastStream summary `json:"last_stream_ms"`
	Missed     int     `json:"missed"`
	// RisePercent is how much the healthy streams' last-stream p99 rose
	// over the same figure of the changes without stalled streams.
	RisePercent *float64 `json:"p99_rise_percent,omitempty"`
}

// stallPhase stalls cfg.StalledPercent of the streams, spread over the
// fleet, makes cfg.StalledChanges (else cfg.Changes) more changes one at a
// time, measures them on
// the healthy streams, and releases the stalled ones.
func stallPhase(ctx context.Context, log *slog.Logger, cfg loadConfig, f *fleet, ch *churn, r *report) error {
	n := int(math.Ceil(float64(len(f.streams)) * cfg.StalledPercent / 100))
	ids := make([]int, n)
	for k := range ids {
		ids[k] = k * len(f.streams) / n
	}
	f.cfg.stalls.stall(ids)
	defer f.cfg.stalls.release()
	scfg := cfg
	scfg.Rate, scfg.Changes = 0, cfg.stalledChanges()
	changes, err := makeChanges(ctx, scfg, f, ch, cfg.Changes)
	if err != nil {
		return fmt.Errorf("stalled streams: %w", err)
	}
	var p report
	fillPropagation(&p, changes, cfg.ChangeTimeout)
	s := &stalledResult{Percent: cfg.StalledPercent, Stalled: n, Changes: len(changes), LastStream: p.LastStream, Missed: p.Missed}
	if base := r.LastStream.P99; base > 0 && p.LastStream.N > 0 {
		v := (p.LastStream.P99/base - 1) * 100
		s.RisePercent = &v
	}
	r.Stalled = s
	log.Info("stalled streams", "stalled", n, "changes", len(changes), "p99_ms", s.LastStream.P99)
	return nil
}
