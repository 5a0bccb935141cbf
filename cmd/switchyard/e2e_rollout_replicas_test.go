package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/serveproc"
	"github.com/switchyard/switchyard/rollout"
)

// The replica tests run `switchyard serve` as child processes (the binary
// is built once per test binary, see switchyardBinary) against one real
// Consul holding web (v1: web-1 and web-2, v2: the canary web-3), start a
// rollout with the CLI in process, then crash or restart the replica that
// drives it, and read the outcome from the rollout's history.

// Bounds of the replica tests' waits. A crashed leader's session expires
// up to 2 × TTL after its last renewal, and the follower's retry after the
// lock-delay adds about 5 s: 25 s with a 10 s TTL, so 90 s leaves room for
// a slow, shared machine.
const (
	replicaReady    = 60 * time.Second
	takeOverTimeout = 90 * time.Second
	rolloutTimeout  = 90 * time.Second
)

// replicaProc is one `switchyard serve` child process, the id it writes
// into the leader lock, and its log file.
type replicaProc struct {
	*serveproc.Proc
	id      string
	logPath string
}

// startRolloutWeb starts a Consul holding web's backends, its grpc
// service-defaults and its resolver with subsets v1 and v2 by meta version.
func startRolloutWeb(t *testing.T) *consulFixture {
	t.Helper()
	c := startConsul(t)
	startVersionedBackends(t, c, "web", webVersions)
	c.setEntry(t, grpcDefaults("web"))
	c.setEntry(t, webResolver())
	return c
}

// startReplica runs `switchyard serve` with the rollout controller
// ticking every rolloutTick, waits until it is ready, and stops it at the
// end of the test; a failed test shows its log.
func startReplica(t *testing.T, c *consulFixture, name string, extra ...string) *replicaProc {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	t.Cleanup(func() {
		if t.Failed() {
			out, err := os.ReadFile(logPath)
			t.Logf("log of %s (%v):\n%s", name, err, out)
		}
	})
	args := append([]string{"--register=false", "--rollout-tick", rolloutTick.String()}, extra...)
	p, err := serveproc.Start(serveproc.Options{
		Binary: switchyardBinary.MustPath(t), ConsulAddr: c.agent.HTTPAddr, LogPath: logPath, ExtraArgs: args,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Stop(); err != nil {
			t.Errorf("stop %s: %v", name, err)
		}
	})
	if err := p.WaitReady(t.Context(), replicaReady); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return &replicaProc{Proc: p, id: replicaID(p.AdminAddr), logPath: logPath}
}

// waitWithin polls cond until it holds, failing the test after limit, and
// returns how long it took.
func waitWithin(t *testing.T, what string, limit time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for i := 0; !cond(); i++ {
		if time.Since(start) > limit {
			t.Fatalf("%s: not reached within %s", what, limit)
		}
		time.Sleep(min(time.Duration(i+1)*5*time.Millisecond, 50*time.Millisecond))
	}
	return time.Since(start)
}

// waitLeader waits until the leader lock is held by id ("": by anyone)
// and returns the holder.
func waitLeader(t *testing.T, c *consulFixture, id string, limit time.Duration) string {
	t.Helper()
	var holder string
	waitWithin(t, fmt.Sprintf("leader lock held by %q", id), limit, func() bool {
		h, held, err := rollout.Leader(t.Context(), c.client)
		if err != nil {
			t.Fatal(err)
		}
		holder = h
		return held && (id == "" || h == id)
	})
	return holder
}

// waitRolloutWithin polls `rollout status web` until cond holds.
func waitRolloutWithin(t *testing.T, cli rolloutCLI, what string, limit time.Duration, cond func(rolloutStatus) bool) rolloutStatus {
	t.Helper()
	var st rolloutStatus
	waitWithin(t, what, limit, func() bool { st = cli.status(t, "web"); return cond(st) })
	return st
}

// stepEvent returns the step event that set weight pct, if any.
func stepEvent(st rollout.State, pct int) (rollout.Event, bool) {
	for _, e := range st.History {
		if e.Action == rollout.ActionStep && e.Weight == pct {
			return e, true
		}
	}
	return rollout.Event{}, false
}

// leaderGauge reads switchyard_rollout_leader from a replica's /metrics.
func leaderGauge(t *testing.T, p *replicaProc) float64 {
	t.Helper()
	return scrapeOne(t, p.AdminAddr, "switchyard_rollout_leader").GetGauge().GetValue()
}

// becameLeader counts the times a replica logged that it became leader.
func becameLeader(t *testing.T, p *replicaProc) int {
	t.Helper()
	out, err := os.ReadFile(p.logPath)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(out), "became the rollout leader")
}

// checkHistory fails the test unless the rollout succeeded with each step
// recorded once, in order, and the splitter sends everything to v2.
func checkHistory(t *testing.T, c *consulFixture, st rolloutStatus) {
	t.Helper()
	if got, want := stepEvents(st.State), "start, step 10%, step 50%, step 100%, succeed"; got != want {
		t.Errorf("history %q, want %q", got, want)
	}
	for i, e := range st.History[1:] {
		if !rollout.ByController(e.Actor) || (e.Action == rollout.ActionStep && e.Step != i) {
			t.Errorf("event %d: %+v; want by the controller, steps in order", i+1, e)
		}
	}
	if !splitterAt(t, c, 100) {
		t.Errorf("splitter %v, want 100%% v2", splitterWeights(t, c))
	}
}

// TestRolloutSurvivesLeaderKill runs two replicas, starts a rollout, and
// SIGKILLs the one that drives it once step 10 % is recorded: after the
// session expires the other takes over and finishes the rollout, with no
// step repeated or skipped.
func TestRolloutSurvivesLeaderKill(t *testing.T) {
	start := time.Now()
	c := startRolloutWeb(t)
	cli := rolloutCLI{consulAddr: c.agent.HTTPAddr}
	lockTTL := []string{"--rollout-lock-ttl", "10s"}
	replicas := []*replicaProc{startReplica(t, c, "replica-1", lockTTL...), startReplica(t, c, "replica-2", lockTTL...)}
	holder := waitLeader(t, c, "", takeOverTimeout)
	leader, follower := replicas[0], replicas[1]
	if holder == follower.id {
		leader, follower = follower, leader
	} else if holder != leader.id {
		t.Fatalf("the leader lock names %q, neither replica (%s, %s)", holder, leader.id, follower.id)
	}

	cli.ok(t, "start", "web", "--to", "v2", "--from", "v1", "--steps", "10,50,100", "--interval", "5s")
	step10 := waitRolloutWithin(t, cli, "step 10% recorded", rolloutTimeout, func(s rolloutStatus) bool { _, ok := stepEvent(s.State, 10); return ok })
	if l, f := leaderGauge(t, leader), leaderGauge(t, follower); l != 1 || f != 0 {
		t.Errorf("switchyard_rollout_leader: leader %v, follower %v; want 1 and 0", l, f)
	}
	if l, f := becameLeader(t, leader), becameLeader(t, follower); l != 1 || f != 0 {
		t.Errorf("logged \"became the rollout leader\": leader %d times, follower %d; want 1 and 0", l, f)
	}
	if st := cli.status(t, "web"); st.Leader != leader.id {
		t.Errorf("rollout status names leader %q, want %q", st.Leader, leader.id)
	}

	killed := time.Now()
	if err := leader.Kill(); err != nil {
		t.Fatal(err)
	}
	if e, ok := stepEvent(step10.State, 10); ok {
		t.Logf("SIGKILL %s after step 10%% was recorded (the interval is 5s)", killed.Sub(e.At).Round(time.Millisecond))
	}
	took := waitWithin(t, "the follower takes over", takeOverTimeout, func() bool {
		h, held, err := rollout.Leader(t.Context(), c.client)
		return err == nil && held && h == follower.id
	})
	t.Logf("SIGKILL of the leader → the follower holds the lock after %s (lock TTL 10s)", took.Round(time.Millisecond))
	st := waitRolloutWithin(t, cli, "rollout succeeded", rolloutTimeout, func(s rolloutStatus) bool { return s.Phase.Finished() })
	t.Logf("succeeded %s after the kill, %s after the test started; history: %s",
		time.Since(killed).Round(time.Millisecond), time.Since(start).Round(time.Millisecond), stepEvents(st.State))
	checkHistory(t, c, st)
	if e, ok := stepEvent(st.State, 50); !ok || !e.At.After(killed) {
		t.Errorf("step 50%% at %v, want after the kill at %v (the kill must land mid-rollout)", e.At, killed)
	}
	// The history names who drove each step: step 10 % the killed leader,
	// everything after it the replica that took over.
	for _, e := range st.History[1:] {
		want := rollout.ControllerActor(follower.id)
		if e.Action == rollout.ActionStep && e.Weight == 10 {
			want = rollout.ControllerActor(leader.id)
		}
		if e.Actor != want {
			t.Errorf("%s %d%% by %q, want %q", e.Action, e.Weight, e.Actor, want)
		}
	}
	if g := leaderGauge(t, follower); g != 1 {
		t.Errorf("switchyard_rollout_leader of the new leader %v, want 1", g)
	}
}

// TestRolloutResumesAfterRestart stops the only replica (SIGTERM) once
// step 50 % is recorded and starts a new one: it resumes at the stored
// step and finishes the rollout, each step recorded once.
func TestRolloutResumesAfterRestart(t *testing.T) {
	start := time.Now()
	c := startRolloutWeb(t)
	cli := rolloutCLI{consulAddr: c.agent.HTTPAddr}
	first := startReplica(t, c, "replica-1")
	waitLeader(t, c, first.id, takeOverTimeout)

	cli.ok(t, "start", "web", "--to", "v2", "--from", "v1", "--steps", "10,50,100", "--interval", "4s")
	waitRolloutWithin(t, cli, "step 50% recorded", rolloutTimeout, func(s rolloutStatus) bool { _, ok := stepEvent(s.State, 50); return ok })
	restarted := time.Now()
	if err := first.Stop(); err != nil {
		t.Fatalf("stop the replica: %v", err)
	}
	// A replica stopped by SIGTERM releases the lock: its successor need
	// not wait for the session to expire.
	if holder, held, err := rollout.Leader(t.Context(), c.client); err != nil || held {
		t.Errorf("after SIGTERM the lock is held by %q (%v), want released", holder, err)
	}
	second := startReplica(t, c, "replica-2")
	took := waitWithin(t, "the new replica leads", takeOverTimeout, func() bool {
		h, held, err := rollout.Leader(t.Context(), c.client)
		return err == nil && held && h == second.id
	})
	t.Logf("SIGTERM → new replica started and leading after %s (of which %s waiting for the lock)",
		time.Since(restarted).Round(time.Millisecond), took.Round(time.Millisecond))
	st := waitRolloutWithin(t, cli, "rollout succeeded", rolloutTimeout, func(s rolloutStatus) bool { return s.Phase.Finished() })
	t.Logf("succeeded %s after the restart, %s after the test started; history: %s",
		time.Since(restarted).Round(time.Millisecond), time.Since(start).Round(time.Millisecond), stepEvents(st.State))
	checkHistory(t, c, st)
	if e, ok := stepEvent(st.State, 50); !ok || !e.At.Before(restarted) {
		t.Errorf("step 50%% at %v, want before the restart at %v", e.At, restarted)
	}
	if e, ok := stepEvent(st.State, 100); !ok || !e.At.After(restarted) {
		t.Errorf("step 100%% at %v, want after the restart at %v (by the new replica)", e.At, restarted)
	}
}
