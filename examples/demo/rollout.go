package main

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard/switchyard/rollout"
)

// rolloutView is what `switchyard rollout status -o json` prints: the
// rollout as stored in Consul KV and, beside it, the service-splitter as
// Consul holds it now. The demo reads the operator's view rather than the
// KV value so that it shows what an operator sees.
type rolloutView struct {
	rollout.State
	// Splitter is nil when the service has no service-splitter.
	Splitter []splitterShare `json:"splitter"`
}

// splitterShare is one split of the service-splitter in the status JSON.
type splitterShare struct {
	Subset  string  `json:"subset"`
	Service string  `json:"service"`
	Weight  float32 `json:"weight"`
}

// parseRolloutStatus reads the JSON of `switchyard rollout status -o json`
// and checks that it is a rollout the demo can follow.
func parseRolloutStatus(data []byte) (rolloutView, error) {
	var v rolloutView
	if err := json.Unmarshal(data, &v); err != nil {
		return rolloutView{}, fmt.Errorf("parse rollout status: %w", err)
	}
	switch v.Phase {
	case rollout.PhaseRunning, rollout.PhasePaused, rollout.PhaseSucceeded, rollout.PhaseAborted:
	default:
		return rolloutView{}, fmt.Errorf("parse rollout status: unknown phase %q", v.Phase)
	}
	if n := len(v.Spec.Steps); n == 0 || v.Step < -1 || v.Step >= n {
		return rolloutView{}, fmt.Errorf("parse rollout status: step %d of %d steps", v.Step, n)
	}
	return v, nil
}

// rolloutSplit is the split a rollout of spec sends at percentTo percent
// to spec.To: the rest to spec.From.
func rolloutSplit(spec rollout.Spec, percentTo int) splitStep {
	return splitStep{{spec.From, 100 - percentTo}, {spec.To, percentTo}}
}

// splitterText renders the splitter as "v1 90%, v2 10%", or "none".
func (v rolloutView) splitterText() string {
	if v.Splitter == nil {
		return "none"
	}
	parts := make([]string, len(v.Splitter))
	for i, s := range v.Splitter {
		parts[i] = fmt.Sprintf("%s %g%%", s.Subset, s.Weight)
	}
	return strings.Join(parts, ", ")
}

// splitterHolds reports whether the splitter sends exactly percentTo
// percent to the rollout's To subset and the rest to its From subset.
func (v rolloutView) splitterHolds(percentTo int) bool {
	want := map[string]int{v.Spec.From: 100 - percentTo, v.Spec.To: percentTo}
	if len(v.Splitter) != len(want) {
		return false
	}
	for _, s := range v.Splitter {
		w, ok := want[s.Subset]
		if !ok || s.Service != "" || math.Abs(float64(s.Weight)-float64(w)) > 0.01 {
			return false
		}
	}
	return true
}

// atStep reports whether v is running at step i with the splitter on that
// step's weights, and fails when the rollout can no longer get there: it
// finished, paused or moved past i before the demo saw i.
func (v rolloutView) atStep(i int) (bool, error) {
	want := v.Spec.Steps[i]
	switch {
	case v.Phase == rollout.PhaseAborted || v.Phase == rollout.PhasePaused:
		return false, fmt.Errorf("rollout of %s %s at step %d waiting for %d%%: %s", v.Spec.Service, v.Phase, v.Step+1, want, v.reason())
	case v.Step > i:
		return false, fmt.Errorf("rollout of %s at step %d (%d%%) before the demo saw step %d (%d%%)", v.Spec.Service, v.Step+1, v.Weight(), i+1, want)
	case v.Step < i:
		return false, nil
	case v.Phase == rollout.PhaseSucceeded:
		return true, nil
	}
	return v.splitterHolds(want), nil
}

// finishedUnmet returns why v is not finished in phase with percentTo
// percent to spec.To in both the state and the splitter, or "" if it is.
func (v rolloutView) finishedUnmet(phase rollout.Phase, percentTo int) string {
	var why []string
	if v.Phase != phase {
		why = append(why, fmt.Sprintf("phase %s, want %s", v.Phase, phase))
		if r := v.reason(); r != "" {
			why[0] += " (" + r + ")"
		}
	}
	if v.Weight() != percentTo {
		why = append(why, fmt.Sprintf("rollout weight %d%% to %s, want %d%%", v.Weight(), v.Spec.To, percentTo))
	}
	if !v.splitterHolds(percentTo) {
		why = append(why, fmt.Sprintf("splitter %s, want %s", v.splitterText(), rolloutSplit(v.Spec, percentTo)))
	}
	return strings.Join(why, "; ")
}

// reason is the pause reason, or the reason of the last event that has
// one: the controller's reason for an abort.
func (v rolloutView) reason() string {
	if v.PauseReason != "" {
		return v.PauseReason
	}
	for i := len(v.History) - 1; i >= 0; i-- {
		if v.History[i].Reason != "" {
			return v.History[i].Reason
		}
	}
	return ""
}

// lastEvent returns the last event of the history with action.
func (v rolloutView) lastEvent(action string) (rollout.Event, bool) {
	for i := len(v.History) - 1; i >= 0; i-- {
		if v.History[i].Action == action {
			return v.History[i], true
		}
	}
	return rollout.Event{}, false
}

// historyText renders the history as "start, step 10%, step 50%, succeed".
func (v rolloutView) historyText() string {
	parts := make([]string, len(v.History))
	for i, e := range v.History {
		parts[i] = e.Action
		if e.Action == rollout.ActionStep {
			parts[i] = fmt.Sprintf("step %d%%", e.Weight)
		}
	}
	return strings.Join(parts, ", ")
}

// stepsFlag renders steps as the --steps flag takes them: "10,50,100".
func stepsFlag(steps []int) string {
	parts := make([]string, len(steps))
	for i, p := range steps {
		parts[i] = strconv.Itoa(p)
	}
	return strings.Join(parts, ",")
}

// stepsText renders steps for a heading: "10% → 50% → 100%".
func stepsText(steps []int) string {
	parts := make([]string, len(steps))
	for i, p := range steps {
		parts[i] = strconv.Itoa(p) + "%"
	}
	return strings.Join(parts, " → ")
}

// rollbackTiming is how long each part of a rollback took, counted from
// the moment the canary's health was failed.
type rollbackTiming struct {
	// aborted is until the controller recorded the abort.
	aborted time.Duration
	// lastTo is until the canary version last answered (0 if it did not);
	// its health check removes its endpoints before the abort.
	lastTo time.Duration
	// lastFailed is until the last RPC failed (0 if none did): the share
	// still split to a canary without healthy endpoints fails until the
	// splitter is back on the stable version.
	lastFailed time.Duration
	// back is until traffic was all on the stable version without errors:
	// the later of lastTo and lastFailed.
	back time.Duration
}

// rollbackTimes measures a rollback in r, the rounds from the failure of
// the canary version to at failed until traffic was back, given the
// abort's time abortedAt.
func rollbackTimes(failed, abortedAt time.Time, to string, r round) rollbackTiming {
	after := func(t time.Time) time.Duration {
		if t.IsZero() {
			return 0
		}
		return max(t.Sub(failed), 0)
	}
	t := rollbackTiming{aborted: after(abortedAt), lastTo: after(r.Last[to]), lastFailed: after(r.FailedAt)}
	t.back = max(t.lastTo, t.lastFailed)
	return t
}
