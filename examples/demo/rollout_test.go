package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/rollout"
)

// loadStatus parses testdata/name, a `switchyard rollout status -o json`.
func loadStatus(t *testing.T, name string) rolloutView {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	v, err := parseRolloutStatus(data)
	if err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
	return v
}

func TestParseRolloutStatus(t *testing.T) {
	for _, tc := range []struct {
		file         string
		phase        rollout.Phase
		step, weight int
		splitter     string
		started      time.Time
	}{
		{"status-running.json", rollout.PhaseRunning, 1, 50, "v1 50%, v2 50%", time.Date(2026, 11, 26, 1, 43, 10, 864e6, time.UTC)},
		{"status-aborted.json", rollout.PhaseAborted, 0, 0, "v1 100%, v2 0%", time.Date(2026, 11, 26, 1, 43, 17, 115e6, time.UTC)},
		{"status-no-splitter.json", rollout.PhaseRunning, -1, 0, "none", time.Time{}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			v := loadStatus(t, tc.file)
			if v.Phase != tc.phase || v.Step != tc.step || v.Weight() != tc.weight {
				t.Errorf("phase %s, step %d, weight %d; want %s, %d, %d", v.Phase, v.Step, v.Weight(), tc.phase, tc.step, tc.weight)
			}
			if got := v.splitterText(); got != tc.splitter {
				t.Errorf("splitterText() = %q, want %q", got, tc.splitter)
			}
			if !v.StepStartedAt.Equal(tc.started) {
				t.Errorf("StepStartedAt = %s, want %s", v.StepStartedAt, tc.started)
			}
			if v.Spec.From != "v1" || v.Spec.To != "v2" || v.Spec.Service != "web" {
				t.Errorf("spec %+v, want web v1 → v2", v.Spec)
			}
		})
	}
}

func TestParseRolloutStatusRejects(t *testing.T) {
	for _, tc := range []struct{ name, json, want string }{
		{"not JSON", `Error: no rollout`, "parse rollout status"},
		{"unknown phase", `{"spec":{"steps":[100],"interval":"1s"},"phase":"done","step":0}`, `unknown phase "done"`},
		{"step past the steps", `{"spec":{"steps":[50,100],"interval":"1s"},"phase":"running","step":2}`, "step 2 of 2 steps"},
		{"no steps", `{"spec":{"interval":"1s"},"phase":"running","step":-1}`, "step -1 of 0 steps"},
		{"bad interval", `{"spec":{"steps":[100],"interval":"soon"},"phase":"running","step":0}`, "spec interval"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseRolloutStatus([]byte(tc.json))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// view is a rollout of web from v1 to v2 in steps 10, 50, 100, in phase at
// step with the splitter at percentTo percent to v2 (-1: no splitter).
func view(phase rollout.Phase, step, percentTo int, history ...rollout.Event) rolloutView {
	v := rolloutView{State: rollout.State{
		Spec:  rollout.Spec{Service: "web", From: "v1", To: "v2", Steps: []int{10, 50, 100}, Interval: 3 * time.Second},
		Phase: phase, Step: step, History: history,
	}}
	if percentTo >= 0 {
		v.Splitter = []splitterShare{{Subset: "v1", Weight: float32(100 - percentTo)}, {Subset: "v2", Weight: float32(percentTo)}}
	}
	return v
}

func TestAtStep(t *testing.T) {
	abort := rollout.Event{Action: rollout.ActionAbort, Actor: rollout.Actor, Reason: "canary v2: 0 of 1 instances passing, want ≥ 100%"}
	for _, tc := range []struct {
		name    string
		v       rolloutView
		step    int
		want    bool
		wantErr string
	}{
		{"not started", view(rollout.PhaseRunning, -1, 0), 0, false, ""},
		{"at the step", view(rollout.PhaseRunning, 0, 10), 0, true, ""},
		{"recorded, splitter behind", view(rollout.PhaseRunning, 1, 10), 1, false, ""},
		{"splitter ahead of the record", view(rollout.PhaseRunning, 0, 50), 1, false, ""},
		{"last step, succeeded", view(rollout.PhaseSucceeded, 2, 100), 2, true, ""},
		{"moved past it", view(rollout.PhaseRunning, 2, 100), 1, false, "at step 3 (100%) before the demo saw step 2 (50%)"},
		{"aborted", view(rollout.PhaseAborted, 0, 0, abort), 1, false, "aborted at step 1 waiting for 50%: canary v2: 0 of 1"},
		{"paused", func() rolloutView {
			v := view(rollout.PhasePaused, 0, 30)
			v.PauseReason = rollout.EditedReason
			return v
		}(), 1, false, "paused at step 1 waiting for 50%: service-splitter edited by hand"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.v.atStep(tc.step)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("atStep(%d) = %v, %v; want %v, nil", tc.step, got, err, tc.want)
			}
		})
	}
}

func TestSplitterHolds(t *testing.T) {
	for _, tc := range []struct {
		name      string
		splitter  []splitterShare
		percentTo int
		want      bool
	}{
		{"exact", []splitterShare{{Subset: "v1", Weight: 90}, {Subset: "v2", Weight: 10}}, 10, true},
		{"either order, float noise", []splitterShare{{Subset: "v2", Weight: 33.000002}, {Subset: "v1", Weight: 67}}, 33, true},
		{"other weights", []splitterShare{{Subset: "v1", Weight: 70}, {Subset: "v2", Weight: 30}}, 10, false},
		{"none", nil, 0, false},
		{"one split", []splitterShare{{Subset: "v1", Weight: 100}}, 0, false},
		{"another subset", []splitterShare{{Subset: "v1", Weight: 90}, {Subset: "v3", Weight: 10}}, 10, false},
		{"another service", []splitterShare{{Subset: "v1", Weight: 90}, {Subset: "v2", Service: "api", Weight: 10}}, 10, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := view(rollout.PhaseRunning, 0, -1)
			v.Splitter = tc.splitter
			if got := v.splitterHolds(tc.percentTo); got != tc.want {
				t.Errorf("splitterHolds(%d) = %v, want %v", tc.percentTo, got, tc.want)
			}
		})
	}
}

func TestFinishedUnmet(t *testing.T) {
	abort := rollout.Event{Action: rollout.ActionAbort, Actor: rollout.Actor, Reason: "canary v2: 0 of 1 instances passing, want ≥ 100%"}
	for _, tc := range []struct {
		name      string
		v         rolloutView
		phase     rollout.Phase
		percentTo int
		want      string
	}{
		{"succeeded", view(rollout.PhaseSucceeded, 2, 100), rollout.PhaseSucceeded, 100, ""},
		{"aborted", view(rollout.PhaseAborted, 0, 0, abort), rollout.PhaseAborted, 0, ""},
		{"aborted instead of succeeded", view(rollout.PhaseAborted, 1, 0, abort), rollout.PhaseSucceeded, 100,
			"phase aborted, want succeeded (canary v2: 0 of 1 instances passing, want ≥ 100%); rollout weight 0% to v2, want 100%; splitter v1 100%, v2 0%, want v1 0% / v2 100%"},
		{"aborted, splitter left on the canary", view(rollout.PhaseAborted, 0, 20, abort), rollout.PhaseAborted, 0,
			"splitter v1 80%, v2 20%, want v1 100% / v2 0%"},
		{"still running", view(rollout.PhaseRunning, 2, 100), rollout.PhaseSucceeded, 100, "phase running, want succeeded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.v.finishedUnmet(tc.phase, tc.percentTo); got != tc.want {
				t.Errorf("finishedUnmet() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestHistoryAndEvents(t *testing.T) {
	v := loadStatus(t, "status-aborted.json")
	if got, want := v.historyText(), "start, step 20%, abort"; got != want {
		t.Errorf("historyText() = %q, want %q", got, want)
	}
	e, ok := v.lastEvent(rollout.ActionAbort)
	if !ok || !rollout.ByController(e.Actor) || !strings.HasPrefix(e.Reason, "canary v2: 0 of 1") {
		t.Errorf("lastEvent(abort) = %+v, %v", e, ok)
	}
	if _, ok := v.lastEvent(rollout.ActionSucceed); ok {
		t.Error("lastEvent(succeed) found an event that is not there")
	}
	if got := v.reason(); !strings.HasPrefix(got, "canary v2") {
		t.Errorf("reason() = %q, want the abort's", got)
	}
	if got := loadStatus(t, "status-running.json").reason(); got != "" {
		t.Errorf("reason() of a running rollout = %q, want none", got)
	}
}

func TestStepsRendering(t *testing.T) {
	for _, tc := range []struct {
		steps      []int
		flag, text string
	}{
		{[]int{10, 50, 100}, "10,50,100", "10% → 50% → 100%"},
		{[]int{100}, "100", "100%"},
	} {
		if got := stepsFlag(tc.steps); got != tc.flag {
			t.Errorf("stepsFlag(%v) = %q, want %q", tc.steps, got, tc.flag)
		}
		if got := stepsText(tc.steps); got != tc.text {
			t.Errorf("stepsText(%v) = %q, want %q", tc.steps, got, tc.text)
		}
	}
	spec := rollout.Spec{From: "v1", To: "v2"}
	if got, want := rolloutSplit(spec, 20).String(), "v1 80% / v2 20%"; got != want {
		t.Errorf("rolloutSplit(20) = %q, want %q", got, want)
	}
}

func TestRollbackTimes(t *testing.T) {
	failed := time.Date(2026, 11, 26, 1, 0, 0, 0, time.UTC)
	ms := func(n int) time.Time { return failed.Add(time.Duration(n) * time.Millisecond) }
	withLast := func(last map[string]time.Time, failedAt time.Time) round {
		r := newRound()
		r.Last, r.FailedAt = last, failedAt
		return r
	}
	for _, tc := range []struct {
		name    string
		aborted time.Time
		r       round
		want    rollbackTiming
	}{
		{"drained, then errors until the abort", ms(870), withLast(map[string]time.Time{"v1": ms(2000), "v2": ms(860)}, ms(928)),
			rollbackTiming{aborted: 870 * time.Millisecond, lastTo: 860 * time.Millisecond, lastFailed: 928 * time.Millisecond, back: 928 * time.Millisecond}},
		{"no errors: the abort came first", ms(500), withLast(map[string]time.Time{"v2": ms(540)}, time.Time{}),
			rollbackTiming{aborted: 500 * time.Millisecond, lastTo: 540 * time.Millisecond, back: 540 * time.Millisecond}},
		{"canary never answered after the failure", ms(300), withLast(map[string]time.Time{"v1": ms(100)}, time.Time{}),
			rollbackTiming{aborted: 300 * time.Millisecond}},
		{"an answer just before the failure counts as none", ms(300), withLast(map[string]time.Time{"v2": ms(-5)}, time.Time{}),
			rollbackTiming{aborted: 300 * time.Millisecond}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := rollbackTimes(failed, tc.aborted, "v2", tc.r); got != tc.want {
				t.Errorf("rollbackTimes() = %+v, want %+v", got, tc.want)
			}
		})
	}
}
