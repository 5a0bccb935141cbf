package rollout

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// EditedReason is why the controller pauses a rollout whose splitter no
// longer carries the weights of its step: a person changed it, and a
// person's edit wins over the rollout.
const EditedReason = "service-splitter edited by hand"

// Observation is what the controller saw of a running rollout's world on
// one tick.
type Observation struct {
	Now time.Time
	// Splitter is the percentage to Spec.To of the service-splitter as
	// SplitterPercent reads it: -1 for none, or for one that is not a split
	// between the rollout's two subsets.
	Splitter int
	// Passing and Total count the instances of the Spec.To subset and
	// those of them whose checks all pass.
	Passing, Total int
	// Webhook says why a webhook gate failed (the first that did), ""
	// when every webhook answered 2xx or there are none.
	Webhook string
}

// Verdict is what the controller does with a rollout on one tick.
type Verdict int

// The verdicts.
const (
	// Hold leaves the rollout as it is.
	Hold Verdict = iota
	// PauseEdited pauses it with EditedReason and leaves the splitter alone.
	PauseEdited
	// AbortUnhealthy sends all traffic back to Spec.From and aborts it.
	AbortUnhealthy
	// ApplyNext writes the next step's weights to the splitter, then
	// records the step.
	ApplyNext
	// RecordNext records the next step without writing: the splitter
	// already carries its weights (a controller stopped between the two
	// writes).
	RecordNext
	// Finish marks it succeeded: its last step held for an interval.
	Finish
)

// String names the verdict for logs and test failures.
func (v Verdict) String() string {
	return [...]string{"hold", "pause", "abort", "apply next step", "record next step", "succeed"}[v]
}

// Decision is a verdict and, for a pause or an abort, its reason.
type Decision struct {
	Verdict Verdict
	Reason  string
}

// Decide is the controller's whole judgement of a rollout on one tick, in
// this order: a splitter that carries neither the current step's weights
// nor the next one's was edited by hand (pause); a canary that fails the
// health gate, or a webhook that does not answer 2xx, aborts the rollout; a splitter already at the next step is
// recorded; otherwise the first step is applied at once and each later
// one when its predecessor has held for Spec.Interval. The last step (100
// %) also holds for an interval, under the gate, before the rollout
// succeeds. Only a running rollout is judged; anything else holds.
func Decide(st State, obs Observation) Decision {
	if st.Phase != PhaseRunning {
		return Decision{Verdict: Hold}
	}
	steps := st.Spec.Steps
	last := len(steps) - 1
	applied := st.Step >= 0 && obs.Splitter == steps[st.Step]
	ahead := st.Step < last && obs.Splitter == steps[st.Step+1]
	if st.Step >= 0 && !applied && !ahead {
		return Decision{Verdict: PauseEdited, Reason: EditedReason}
	}
	if why := HealthGate(st.Spec, obs.Passing, obs.Total); why != "" {
		return Decision{Verdict: AbortUnhealthy, Reason: why}
	}
	if obs.Webhook != "" {
		return Decision{Verdict: AbortUnhealthy, Reason: obs.Webhook}
	}
	switch {
	case ahead:
		return Decision{Verdict: RecordNext}
	case st.Step == -1:
		return Decision{Verdict: ApplyNext}
	case obs.Now.Sub(st.StepStartedAt) < st.Spec.Interval:
		return Decision{Verdict: Hold}
	case st.Step == last:
		return Decision{Verdict: Finish}
	}
	return Decision{Verdict: ApplyNext}
}

// HealthGate says why spec's canary (the Spec.To subset) with passing of
// total instances passing fails the gate, or "" when it holds: at least
// Spec.MinHealthy of the instances, and at least one, must pass.
func HealthGate(spec Spec, passing, total int) string {
	want := formatPercent(spec.MinHealthy)
	switch {
	case total == 0:
		return fmt.Sprintf("canary %s: no instances, want ≥ %s and at least one passing", spec.To, want)
	case float64(passing)+1e-9 < spec.MinHealthy*float64(total):
		return fmt.Sprintf("canary %s: %d of %d instances passing, want ≥ %s", spec.To, passing, total, want)
	case passing == 0:
		return fmt.Sprintf("canary %s: 0 of %d instances passing, want at least one", spec.To, total)
	}
	return ""
}

// formatPercent prints a fraction as a percentage to four decimals at
// most: 0.9 is "90%", not the float's "90.00000000000001%".
func formatPercent(f float64) string {
	return strconv.FormatFloat(math.Round(f*1e6)/1e4, 'f', -1, 64) + "%"
}
