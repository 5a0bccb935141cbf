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
	// Acks is how the proxies routing the service stand with the current
	// step's routes; nil when the --require-ack gate is off or no step is
	// applied.
	Acks *AckReport
	// Load is what the proxies reported of the canary since the current
	// step started (the --max-error-rate gate).
	Load LoadReport
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
	// RecordAck records that the proxies accepted the current step's
	// routes: its interval starts counting.
	RecordAck
)

// String names the verdict for logs and test failures.
func (v Verdict) String() string {
	return [...]string{"hold", "pause", "abort", "apply next step", "record next step", "succeed", "record acceptance"}[v]
}

// Decision is a verdict and, for a pause or an abort, its reason.
type Decision struct {
	Verdict Verdict
	Reason  string
}

// Decide is the controller's whole judgement of a rollout on one tick, in
// this order: a splitter that carries neither the current step's weights
// nor the next one's was edited by hand (pause); a failing gate aborts the
// rollout (the canary's health, a webhook, a proxy that rejected the
// step's routes, the canary's error rate over the step); a splitter
// already at the next step is recorded; otherwise the first step is
// applied at once. With --require-ack, a step's interval starts counting
// once enough proxies accepted its routes, which they must within
// AckTimeout. Each later step is applied when its predecessor has held for
// Spec.Interval. The last step (100 %) also holds for an interval, under
// the gates, before the rollout succeeds. Only a running rollout is
// judged; anything else holds.
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
	if why := failedGate(st, obs); why != "" {
		return Decision{Verdict: AbortUnhealthy, Reason: why}
	}
	switch {
	case ahead:
		return Decision{Verdict: RecordNext}
	case st.Step == -1:
		return Decision{Verdict: ApplyNext}
	case st.Spec.RequireAck > 0 && st.AckedAt.IsZero():
		return awaitAcks(st, obs)
	case obs.Now.Sub(st.IntervalStart()) < st.Spec.Interval:
		return Decision{Verdict: Hold}
	case st.Step == last:
		return Decision{Verdict: Finish}
	}
	return Decision{Verdict: ApplyNext}
}

// failedGate says why the first failing gate fails, or "" when all hold.
func failedGate(st State, obs Observation) string {
	if why := HealthGate(st.Spec, obs.Passing, obs.Total); why != "" {
		return why
	}
	if obs.Webhook != "" {
		return obs.Webhook
	}
	if why := ackRejected(st, obs.Acks); why != "" {
		return why
	}
	return ErrorGate(st, obs.Load)
}

// awaitAcks judges a step whose routes the proxies have not all accepted
// yet: recorded once enough have, aborted once AckTimeout has passed.
func awaitAcks(st State, obs Observation) Decision {
	if obs.Acks == nil {
		return Decision{Verdict: Hold}
	}
	if AckGate(st.Spec, *obs.Acks) {
		return Decision{Verdict: RecordAck}
	}
	if obs.Now.Sub(st.StepStartedAt) >= AckTimeout(st.Spec) {
		return Decision{Verdict: AbortUnhealthy, Reason: ackTimedOut(st, *obs.Acks)}
	}
	return Decision{Verdict: Hold}
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
