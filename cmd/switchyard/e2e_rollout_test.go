package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/switchyard/switchyard/rollout"
)

// The rollout end-to-end tests run the rollout controller inside a real
// Switchyard against a real Consul, start rollouts of web (v1: web-1 and
// web-2, v2: the canary web-3) with the CLI in process, and count where a
// gRPC xDS client's RPCs land.

// rolloutTick is the controller's tick in these tests.
const rolloutTick = 100 * time.Millisecond

// withRolloutTick has the controller tick every rolloutTick.
func withRolloutTick(cfg *serveConfig) { cfg.RolloutTick = rolloutTick }

// waitRollout polls `rollout status` until cond holds and returns that
// status.
func waitRollout(t *testing.T, cli rolloutCLI, what string, cond func(rolloutStatus) bool) rolloutStatus {
	t.Helper()
	var st rolloutStatus
	waitUntil(t, what, func() bool { st = cli.status(t, "web"); return cond(st) })
	return st
}

// splitterAt reports whether web's splitter sends pct percent to v2.
func splitterAt(t *testing.T, c *consulFixture, pct int) bool {
	t.Helper()
	sp, _, err := rollout.ReadSplitter(t.Context(), c.client, "web")
	if err != nil {
		t.Fatal(err)
	}
	return rollout.SplitterPercent(rollout.Spec{Service: "web", From: "v1", To: "v2"}, sp) == pct
}

// stepEvents renders a history as "action" or "action weight%" words.
func stepEvents(st rollout.State) string {
	var out []string
	for _, e := range st.History {
		w := ""
		if e.Action == rollout.ActionStep {
			w = fmt.Sprintf(" %d%%", e.Weight)
		}
		out = append(out, e.Action+w)
	}
	return strings.Join(out, ", ")
}

// TestRolloutEndToEnd runs `rollout start web --to v2 --steps 10,50,100
// --interval 8s` (room for a 2,000-RPC batch: about 1.7 s under -race, up
// to 6 s on an overloaded machine): at each step, once the splitter
// carries it, v2 answers the step's share ± 5 % of 2,000 RPCs, none failing, and the splitter
// still carries the step after the batch (so the batch measured that
// step). The rollout succeeds with every step recorded once.
func TestRolloutEndToEnd(t *testing.T) {
	f := startL7(t, withRolloutTick)
	cli := rolloutCLI{consulAddr: f.c.agent.HTTPAddr}
	start := time.Now()
	cli.ok(t, "start", "web", "--to", "v2", "--from", "v1", "--steps", "10,50,100", "--interval", "8s")
	for _, pct := range []int{10, 50, 100} {
		waitUntil(t, fmt.Sprintf("splitter at %d%%", pct), func() bool { return splitterAt(t, f.c, pct) })
		applied := time.Since(start)
		waitShare(t, f.cc, "v2", float64(pct)/100, 0.1, 100)
		t.Logf("step %d%%: splitter written %s after start, in force in traffic %s later",
			pct, applied.Round(time.Millisecond), (time.Since(start) - applied).Round(time.Millisecond))
		batch := time.Now()
		assertShare(t, f.cc, nil, "v2", float64(pct)/100, 0.05, 2000)
		t.Logf("step %d%%: the 2,000 RPCs took %s", pct, time.Since(batch).Round(time.Millisecond))
		if !splitterAt(t, f.c, pct) {
			t.Fatalf("the splitter left %d%% during the batch; the measurement mixed two steps", pct)
		}
	}
	st := waitRollout(t, cli, "rollout succeeded", func(s rolloutStatus) bool { return s.Phase == rollout.PhaseSucceeded })
	t.Logf("succeeded %s after start; history: %s", time.Since(start).Round(time.Millisecond), stepEvents(st.State))
	if got, want := stepEvents(st.State), "start, step 10%, step 50%, step 100%, succeed"; got != want {
		t.Errorf("history %q, want %q", got, want)
	}
	acks := "1 of 1 proxies routing web accepted step 100%, want ≥ 100%"
	if !slices.Contains(st.Gates, rollout.GateResult{Gate: rollout.GateAcks, OK: true, Detail: acks}) {
		t.Errorf("gates %+v, want the acks gate passed with %q", st.Gates, acks)
	}
	for _, e := range st.History[1:] {
		if !rollout.ByController(e.Actor) {
			t.Errorf("event %s by %q, want the controller", e.Action, e.Actor)
		}
	}
	if counts := spreadStrict(t, f.cc, 300); !servedBy(counts, webV2...) {
		t.Errorf("after success 300 RPCs answered by %v, want only %v", counts, webV2)
	}
}

// TestRolloutAbortsOnFailingCanary turns the canary's check critical while
// the rollout holds at 50 %: the controller sends all traffic back to v1
// and records the abort with the health reason.
func TestRolloutAbortsOnFailingCanary(t *testing.T) {
	f := startL7(t, withRolloutTick)
	cli := rolloutCLI{consulAddr: f.c.agent.HTTPAddr}
	cli.ok(t, "start", "web", "--to", "v2", "--from", "v1", "--steps", "50,100", "--interval", "1m")
	waitUntil(t, "splitter at 50%", func() bool { return splitterAt(t, f.c, 50) })
	waitShare(t, f.cc, "v2", 0.5, 0.1, 200)

	start := time.Now()
	f.c.setHealth(t, "web-3", api.HealthCritical)
	waitUntil(t, "splitter back at 0%", func() bool { return splitterAt(t, f.c, 0) })
	rolledBack := time.Since(start)
	// While the 50 % split still holds, the RPCs sent to v2 fail (its one
	// instance is critical), so a batch counts only when none failed.
	waitUntil(t, "traffic back on v1", func() bool {
		counts, failed := spreadFailures(t, f.cc, 30)
		return failed == 0 && servedBy(counts, webV1...)
	})
	back := time.Since(start)
	t.Logf("canary critical → splitter 100%% v1 after %s, traffic on v1 only after %s (tick %s)",
		rolledBack.Round(time.Millisecond), back.Round(time.Millisecond), rolloutTick)
	if back > rolloutTick+time.Second {
		t.Errorf("traffic back on v1 after %s, want within one tick (%s) plus a second of propagation", back.Round(time.Millisecond), rolloutTick)
	}
	if counts := spreadStrict(t, f.cc, 500); !servedBy(counts, webV1...) {
		t.Errorf("after the abort 500 RPCs answered by %v, want only %v", counts, webV1)
	}
	st := cli.status(t, "web")
	last := st.History[len(st.History)-1]
	if st.Phase != rollout.PhaseAborted || last.Action != rollout.ActionAbort || last.Reason != "canary v2: 0 of 1 instances passing, want ≥ 100%" {
		t.Errorf("phase %s, last event %+v; want aborted for the canary's health", st.Phase, last)
	}
	if table := cli.ok(t, "status", "web"); !strings.Contains(table, "canary v2: 0 of 1 instances passing") {
		t.Errorf("status table lacks the reason:\n%s", table)
	}
}

// TestRolloutPausesOnHandEdit rewrites the splitter by hand during a
// rollout: the controller pauses it with that reason and leaves the edit
// in place.
func TestRolloutPausesOnHandEdit(t *testing.T) {
	f := startL7(t, withRolloutTick)
	cli := rolloutCLI{consulAddr: f.c.agent.HTTPAddr}
	cli.ok(t, "start", "web", "--to", "v2", "--from", "v1", "--steps", "10,50,100", "--interval", "1m")
	waitUntil(t, "splitter at 10%", func() bool { return splitterAt(t, f.c, 10) })

	f.c.setEntry(t, webSplit(70, 30))
	st := waitRollout(t, cli, "rollout paused", func(s rolloutStatus) bool { return s.Phase == rollout.PhasePaused })
	if st.PauseReason != rollout.EditedReason || st.Step != 0 {
		t.Errorf("paused at step %d for %q, want step 0 for %q", st.Step, st.PauseReason, rollout.EditedReason)
	}
	if got := splitterWeights(t, f.c); !slices.Equal(got, []string{"v1=70", "v2=30"}) {
		t.Errorf("splitter %v, want the hand edit v1=70 v2=30", got)
	}
	assertShare(t, f.cc, nil, "v2", 0.3, 0.05, 2000)
}
