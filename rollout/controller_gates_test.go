package rollout

import (
	"context"
	"slices"
	"testing"
	"time"
)

// startGated stores a running rollout of web from v1 to v2 in 10, 50, 100
// with --require-ack 100 % and --max-error-rate 5 %.
func (f *controllerFixture) startGated(t *testing.T) {
	t.Helper()
	spec := validSpec()
	spec.Webhooks, spec.MaxErrorRate = nil, 0.05
	if err := f.store.Create(context.Background(), New(spec, f.now, "alice@ops")); err != nil {
		t.Fatal(err)
	}
}

// TestControllerWaitsForAcks holds a step until every proxy routing web
// accepted it, counts the interval from then, and aborts when a proxy
// rejects the routes.
func TestControllerWaitsForAcks(t *testing.T) {
	f := newControllerFixture(t)
	f.fleet.acks = AckReport{Routing: 2, Accepted: 1}
	f.startGated(t)
	f.tick(t)
	f.now = f.now.Add(5 * time.Second)
	st, _ := f.tick(t)
	if !st.AckedAt.IsZero() {
		t.Fatalf("acks recorded at %s with 1 of 2 proxies", st.AckedAt)
	}
	want := []GateResult{
		{Gate: GateHealth, OK: true, Detail: "1 of 1 instances of v2 passing, want ≥ 100%"},
		{Gate: GateAcks, Detail: "1 of 2 proxies routing web accepted step 10%, want ≥ 100%"},
		{Gate: GateErrorRate, OK: true, Detail: "0 requests to v2 reported over step 10%, judged from 20, want ≤ 5% failed"},
	}
	if !slices.Equal(st.Gates, want) || !st.GatesAt.Equal(f.now) {
		t.Errorf("gates at %s:\n%+v\nwant at %s:\n%+v", st.GatesAt, st.Gates, f.now, want)
	}
	f.fleet.acks.Accepted = 2
	if st, _ := f.tick(t); !st.AckedAt.Equal(f.now) {
		t.Fatalf("acks recorded at %v, want %v", st.AckedAt, f.now)
	}
	f.now = f.now.Add(59 * time.Second) // 64 s after the step, 59 s after the acks
	if st, w := f.tick(t); st.Step != 0 || w != 10 {
		t.Fatalf("step %d splitter %d%% 59 s after the acks, want step 0 still", st.Step, w)
	}
	f.now = f.now.Add(time.Second)
	st, w := f.tick(t)
	if st.Step != 1 || w != 50 {
		t.Fatalf("step %d splitter %d%% an interval after the acks, want step 1 at 50%%", st.Step, w)
	}
	f.fleet.acks.Rejected = []string{"envoy-1: weights do not add up"}
	st, w = f.tick(t)
	if st.Phase != PhaseAborted || w != 0 {
		t.Fatalf("after a rejection: phase %s splitter %d%%, want aborted at 0%%", st.Phase, w)
	}
	if got, want := st.History[len(st.History)-1].Reason, "step 50%: 1 proxies rejected the routes of web: envoy-1: weights do not add up"; got != want {
		t.Errorf("abort reason %q, want %q", got, want)
	}
}

// TestControllerAbortsOnSlowAcks aborts a step whose routes too few proxies
// accepted within AckTimeout.
func TestControllerAbortsOnSlowAcks(t *testing.T) {
	f := newControllerFixture(t)
	f.fleet.acks = AckReport{Routing: 3, Accepted: 1}
	f.startGated(t)
	f.tick(t)
	f.now = f.now.Add(AckTimeout(validSpec()))
	st, w := f.tick(t)
	if st.Phase != PhaseAborted || w != 0 {
		t.Fatalf("phase %s splitter %d%%, want aborted at 0%%", st.Phase, w)
	}
	if got, want := st.History[len(st.History)-1].Reason, "step 10%: 1 of 3 proxies routing web accepted its routes within 1m0s, want ≥ 100%"; got != want {
		t.Errorf("abort reason %q, want %q", got, want)
	}
}

// TestControllerJudgesTheStepsLoad counts only what the replicas reported
// since the step started: errors before it (the baseline) do not count, a
// replica seen late counts from then, and a replica that restarted counts
// from zero.
func TestControllerJudgesTheStepsLoad(t *testing.T) {
	f := newControllerFixture(t)
	f.fleet.loads = map[string]LoadReport{"a": {Requests: 1000, Errors: 900}}
	f.startGated(t)
	f.tick(t) // applies 10 %
	f.tick(t) // baseline a=1000/900; acks recorded
	f.fleet.loads = map[string]LoadReport{"a": {Requests: 1100, Errors: 902}, "b": {Requests: 5000, Errors: 5000}}
	if st, _ := f.tick(t); st.Phase != PhaseRunning {
		t.Fatalf("phase %s after 2 errors in 100 requests (b only seen now): %s", st.Phase, history(st))
	}
	f.fleet.loads = map[string]LoadReport{"a": {Requests: 50, Errors: 0}, "b": {Requests: 5100, Errors: 5020}}
	// a restarted: 50 requests since, none failed; b: 100 more, 20 failed.
	st, w := f.tick(t)
	if st.Phase != PhaseAborted || w != 0 {
		t.Fatalf("phase %s splitter %d%% with 20 of 150 requests failed, want aborted", st.Phase, w)
	}
	if got, want := st.History[len(st.History)-1].Reason, "canary v2: 13.3% of 150 requests failed over step 10%, want ≤ 5%"; got != want {
		t.Errorf("abort reason %q, want %q", got, want)
	}
}
