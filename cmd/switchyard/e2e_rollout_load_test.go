package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/switchyard/switchyard/internal/echo"
	"github.com/switchyard/switchyard/rollout"
)

// steadyLoad sends RPCs from several goroutines, back to back, until
// stopped, counting answers per backend and every failure.
type steadyLoad struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	counts map[string]int
	errs   []error
	sent   atomic.Int64
}

// startSteadyLoad starts workers goroutines calling over cc; each stops
// when stop is called or after limit, whichever comes first.
func startSteadyLoad(cc grpc.ClientConnInterface, workers int, limit time.Duration) *steadyLoad {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	l := &steadyLoad{cancel: cancel, counts: map[string]int{}}
	for range workers {
		l.wg.Go(func() {
			for ctx.Err() == nil {
				id, err := echo.Call(ctx, cc)
				if ctx.Err() != nil {
					return // the stop, not a failure
				}
				l.sent.Add(1)
				l.mu.Lock()
				if err != nil {
					l.errs = append(l.errs, err)
				} else {
					l.counts[id]++
				}
				l.mu.Unlock()
			}
		})
	}
	return l
}

// stop ends the load and returns the counts and failures.
func (l *steadyLoad) stop() (map[string]int, []error) {
	l.cancel()
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.counts, l.errs
}

// failures returns how many RPCs have failed so far.
func (l *steadyLoad) failures() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.errs)
}

// TestRolloutZeroFailuresUnderLoad runs a whole rollout 10 → 50 → 100
// (--require-ack 100 %, the default) under steady load from a gRPC xDS
// client: not one RPC may fail, and the load must have reached v2 before
// the end and only v2 after it.
func TestRolloutZeroFailuresUnderLoad(t *testing.T) {
	f := startL7(t, withRolloutTick)
	cli := rolloutCLI{consulAddr: f.c.agent.HTTPAddr}
	load := startSteadyLoad(f.cc, 4, 2*time.Minute)
	t.Cleanup(func() { load.stop() })
	start := time.Now()
	cli.ok(t, "start", "web", "--to", "v2", "--from", "v1", "--steps", "10,50,100", "--interval", "2s")
	st := waitRollout(t, cli, "rollout succeeded", func(s rolloutStatus) bool {
		return s.Phase.Finished() || load.failures() > 0
	})
	took := time.Since(start)
	if st.Phase != rollout.PhaseSucceeded {
		t.Fatalf("rollout %s (history %s), failures so far %d", st.Phase, stepEvents(st.State), load.failures())
	}
	// Traffic after success must reach v2 only: wait until it does, then
	// keep the load on for a moment more.
	waitUntil(t, "traffic on v2 only", func() bool { return servedBy(spread(t, f.cc, 20), webV2...) })
	counts, errs := load.stop()
	total := 0
	for _, n := range counts {
		total += n
	}
	t.Logf("rollout succeeded after %s; %d RPCs under load: %v; history %s", took.Round(time.Millisecond), total, counts, stepEvents(st.State))
	if len(errs) > 0 {
		t.Errorf("%d of %d RPCs failed during the rollout; first: %v", len(errs), int(load.sent.Load()), errors.Join(errs[:min(3, len(errs))]...))
	}
	if total < 500 || counts["web-3"] == 0 || !slices.ContainsFunc(webV1, func(id string) bool { return counts[id] > 0 }) {
		t.Errorf("the load reached %v in %d RPCs; want at least 500 spread over v1 and v2", counts, total)
	}
	if got, want := stepEvents(st.State), "start, step 10%, step 50%, step 100%, succeed"; got != want {
		t.Errorf("history %q, want %q", got, want)
	}
}

// TestRolloutAbortsOnCanaryErrors runs a rollout with --max-error-rate 5%
// under steady load while the canary backend fails 30 % of its calls: the
// gRPC client's own load reports (LRS) show the rate and the rollout rolls
// back to 100 % v1.
func TestRolloutAbortsOnCanaryErrors(t *testing.T) {
	f := startL7(t, withRolloutTick, func(cfg *serveConfig) { cfg.LoadReportInterval = 200 * time.Millisecond })
	f.web["web-3"].SetFailureRate(0.3)
	cli := rolloutCLI{consulAddr: f.c.agent.HTTPAddr}
	load := startSteadyLoad(f.cc, 4, 2*time.Minute)
	t.Cleanup(func() { load.stop() })
	start := time.Now()
	cli.ok(t, "start", "web", "--to", "v2", "--from", "v1", "--steps", "10,50,100", "--interval", "30s", "--max-error-rate", "5%")
	st := waitRollout(t, cli, "rollout aborted", func(s rolloutStatus) bool { return s.Phase.Finished() })
	aborted := time.Since(start)
	last := st.History[len(st.History)-1]
	if st.Phase != rollout.PhaseAborted || !strings.HasPrefix(last.Reason, "canary v2: ") || !strings.HasSuffix(last.Reason, "failed over step 10%, want ≤ 5%") {
		t.Fatalf("phase %s, last event %s %q; want aborted at step 10%% for v2's error rate", st.Phase, last.Action, last.Reason)
	}
	var rate float64
	var requests int
	if _, err := fmt.Sscanf(last.Reason, "canary v2: %f%% of %d requests", &rate, &requests); err != nil {
		t.Fatalf("reason %q: %v", last.Reason, err)
	}
	if rate < 20 || rate > 40 || requests < rollout.MinErrorRateRequests {
		t.Errorf("reported %.1f%% of %d requests failed, want about 30%% of at least %d", rate, requests, rollout.MinErrorRateRequests)
	}
	waitUntil(t, "traffic back on v1", func() bool {
		counts, failed := spreadFailures(t, f.cc, 30)
		return failed == 0 && servedBy(counts, webV1...)
	})
	counts, errs := load.stop()
	t.Logf("aborted %s after start: %s; under load %v answered, %d failed (the canary's 30 %%)",
		aborted.Round(time.Millisecond), last.Reason, counts, len(errs))
}
