package main

import (
	"testing"
	"time"

	"github.com/switchyard/switchyard/rollout"
)

// TestRolloutCommandsEndToEnd drives rollouts by hand while the controller
// runs and a gRPC client sends traffic: pause holds a step past its
// interval, resume goes on to the next step, promote sends all traffic to
// v2, and abort (of a second rollout) all traffic back to v1.
func TestRolloutCommandsEndToEnd(t *testing.T) {
	f := startL7(t, withRolloutTick)
	cli := rolloutCLI{consulAddr: f.c.agent.HTTPAddr}
	const interval = 2 * time.Second
	cli.ok(t, "start", "web", "--to", "v2", "--from", "v1", "--steps", "10,50,100", "--interval", interval.String())
	waitUntil(t, "splitter at 10%", func() bool { return splitterAt(t, f.c, 10) })

	cli.ok(t, "pause", "web", "--reason", "checking dashboards")
	paused := time.Now()
	held := map[string]int{}
	for i := 0; time.Since(paused) < 2*interval && i < 1000; i++ {
		if st := cli.status(t, "web"); st.Phase != rollout.PhasePaused || !splitterAt(t, f.c, 10) {
			t.Fatalf("%s after pause: phase %s, step %d; want paused at 10%%", time.Since(paused).Round(time.Millisecond), st.Phase, st.Step)
		}
		for id, n := range spreadStrict(t, f.cc, 50) {
			held[id] += n
		}
	}
	total := held["web-1"] + held["web-2"] + held["web-3"]
	if share := float64(held["web-3"]) / float64(total); share < 0.05 || share > 0.15 {
		t.Errorf("while paused for two intervals v2 answered %.1f%% of %d RPCs, want 10 ± 5", 100*share, total)
	}

	cli.ok(t, "resume", "web")
	waitUntil(t, "splitter at 50% after resume", func() bool { return splitterAt(t, f.c, 50) })
	waitShare(t, f.cc, "v2", 0.5, 0.1, 200)

	cli.ok(t, "promote", "web")
	waitUntil(t, "traffic on v2 only after promote", func() bool {
		counts, failed := spreadFailures(t, f.cc, 30)
		return failed == 0 && servedBy(counts, webV2...)
	})
	if st := cli.status(t, "web"); st.Phase != rollout.PhaseSucceeded || stepEvents(st.State) != "start, step 10%, pause, resume, step 50%, promote" {
		t.Errorf("after promote: phase %s, history %s", st.Phase, stepEvents(st.State))
	}

	cli.ok(t, "start", "web", "--to", "v2", "--from", "v1", "--steps", "10,50,100", "--interval", "1m")
	waitUntil(t, "second rollout at 10%", func() bool { return splitterAt(t, f.c, 10) })
	cli.ok(t, "abort", "web", "--reason", "wrong build")
	waitUntil(t, "splitter at 0% after abort", func() bool { return splitterAt(t, f.c, 0) })
	// From 10 % a batch of 30 misses v2 one time in 25: the batch that
	// says the abort is in force must be bigger.
	waitUntil(t, "traffic on v1 only after abort", func() bool {
		counts, failed := spreadFailures(t, f.cc, 150)
		return failed == 0 && servedBy(counts, webV1...)
	})
	st := cli.status(t, "web")
	if last := st.History[len(st.History)-1]; st.Phase != rollout.PhaseAborted || last.Reason != "wrong build" {
		t.Errorf("after abort: phase %s, last event %+v", st.Phase, last)
	}
	if counts := spreadStrict(t, f.cc, 300); !servedBy(counts, webV1...) {
		t.Errorf("after abort 300 RPCs answered by %v, want only %v", counts, webV1)
	}
}
