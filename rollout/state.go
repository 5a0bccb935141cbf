package rollout

import (
	"fmt"
	"time"
)

// Phase is where a rollout is in its life.
type Phase string

// The phases. A rollout starts running; succeeded and aborted are final.
const (
	PhaseRunning   Phase = "running"
	PhasePaused    Phase = "paused"
	PhaseSucceeded Phase = "succeeded"
	PhaseAborted   Phase = "aborted"
)

// Finished reports whether p is final: no transition leaves it, and a new
// rollout of the same service may replace it.
func (p Phase) Finished() bool { return p == PhaseSucceeded || p == PhaseAborted }

// The actions recorded in the history.
const (
	ActionStart   = "start"
	ActionPause   = "pause"
	ActionResume  = "resume"
	ActionPromote = "promote"
	ActionAbort   = "abort"
	ActionStep    = "step"
	ActionSucceed = "succeed"
)

// State is one service's rollout as stored in Consul KV: the spec, where
// it is, and everything that happened to it.
type State struct {
	Spec  Spec  `json:"spec"`
	Phase Phase `json:"phase"`
	// Step indexes Spec.Steps; -1 before the first step is applied.
	Step int `json:"step"`
	// StepStartedAt is when the current step was applied; zero before the
	// first.
	StepStartedAt time.Time `json:"stepStartedAt,omitzero"`
	// AckedAt is when the proxies routing the service had accepted the
	// current step's routes (the --require-ack gate): the step's interval
	// counts from then. Zero until then, and when the gate is off.
	AckedAt time.Time `json:"ackedAt,omitzero"`
	// Gates are the gates' results on the controller's last look at the
	// running rollout, taken at GatesAt.
	Gates   []GateResult `json:"gates,omitempty"`
	GatesAt time.Time    `json:"gatesAt,omitzero"`
	// PauseReason says why a paused rollout is paused.
	PauseReason string  `json:"pauseReason,omitempty"`
	History     []Event `json:"history"`
}

// Event is one line of a rollout's history.
type Event struct {
	At time.Time `json:"at"`
	// Actor is who acted: user@host for the CLI, the replica for the
	// controller.
	Actor  string `json:"actor"`
	Action string `json:"action"`
	// Step and Weight are the step index and the percentage to Spec.To
	// after the action.
	Step   int    `json:"step"`
	Weight int    `json:"weight"`
	Reason string `json:"reason,omitempty"`
}

// New returns a running rollout of spec that has not applied its first
// step, with a start event by actor at at.
func New(spec Spec, at time.Time, actor string) State {
	s := State{Spec: spec, Phase: PhaseRunning, Step: -1}
	s.record(at, actor, ActionStart, "")
	return s
}

// Weight is the percentage of traffic the state sends to Spec.To: the
// current step's, 0 before the first step and after an abort.
func (s State) Weight() int {
	if s.Phase == PhaseAborted || s.Step < 0 || s.Step >= len(s.Spec.Steps) {
		return 0
	}
	return s.Spec.Steps[s.Step]
}

// check reports a state no transition can produce: an invalid spec, an
// unknown phase or a step outside the spec's steps.
func (s State) check() error {
	if err := s.Spec.Validate(); err != nil {
		return fmt.Errorf("invalid spec: %w", err)
	}
	switch s.Phase {
	case PhaseRunning, PhasePaused, PhaseSucceeded, PhaseAborted:
	default:
		return fmt.Errorf("unknown phase %q", s.Phase)
	}
	if s.Step < -1 || s.Step >= len(s.Spec.Steps) {
		return fmt.Errorf("step %d is outside the %d steps", s.Step, len(s.Spec.Steps))
	}
	return nil
}

// Pause stops a running rollout where it is, for reason.
func (s *State) Pause(at time.Time, actor, reason string) error {
	if s.Phase != PhaseRunning {
		return s.refuse(ActionPause, "it is not running")
	}
	s.Phase, s.PauseReason = PhasePaused, reason
	s.record(at, actor, ActionPause, reason)
	return nil
}

// Resume lets a paused rollout continue from its current step.
func (s *State) Resume(at time.Time, actor string) error {
	if s.Phase != PhasePaused {
		return s.refuse(ActionResume, "it is not paused")
	}
	s.Phase, s.PauseReason = PhaseRunning, ""
	s.record(at, actor, ActionResume, "")
	return nil
}

// Promote ends a running or paused rollout at its last step: all traffic
// to Spec.To.
func (s *State) Promote(at time.Time, actor string) error {
	if s.Phase.Finished() {
		return s.refuse(ActionPromote, "it is over")
	}
	s.Phase, s.PauseReason = PhaseSucceeded, ""
	s.Step, s.StepStartedAt = len(s.Spec.Steps)-1, at
	s.record(at, actor, ActionPromote, "")
	return nil
}

// Abort ends a running or paused rollout with all traffic back on
// Spec.From, for reason.
func (s *State) Abort(at time.Time, actor, reason string) error {
	if s.Phase.Finished() {
		return s.refuse(ActionAbort, "it is over")
	}
	s.Phase, s.PauseReason = PhaseAborted, ""
	s.record(at, actor, ActionAbort, reason)
	return nil
}

// Advance records that the next step's weights are in the service-splitter:
// the step it applies starts counting its interval at at. The caller
// writes the splitter first, so a state never claims a step the splitter
// has not seen.
func (s *State) Advance(at time.Time, actor string) error {
	if s.Phase != PhaseRunning {
		return s.refuse(ActionStep, "it is not running")
	}
	if s.Step >= len(s.Spec.Steps)-1 {
		return s.refuse(ActionStep, "it is at its last step")
	}
	s.Step, s.StepStartedAt, s.AckedAt = s.Step+1, at, time.Time{}
	s.record(at, actor, ActionStep, "")
	return nil
}

// Acknowledge records that the proxies routing the service accepted the
// current step's routes at at: the step's interval counts from then.
func (s *State) Acknowledge(at time.Time) error {
	if s.Phase != PhaseRunning || s.Step < 0 {
		return s.refuse("acknowledge", "no step of it is running")
	}
	s.AckedAt = at
	return nil
}

// IntervalStart is when the current step's interval started counting:
// when its routes were accepted if the --require-ack gate is on, else when
// it was applied.
func (s State) IntervalStart() time.Time {
	if s.Spec.RequireAck > 0 {
		return s.AckedAt
	}
	return s.StepStartedAt
}

// Succeed ends a running rollout that has held its last step (100 % to
// Spec.To) for an interval.
func (s *State) Succeed(at time.Time, actor string) error {
	if s.Phase != PhaseRunning {
		return s.refuse(ActionSucceed, "it is not running")
	}
	if s.Step != len(s.Spec.Steps)-1 {
		return s.refuse(ActionSucceed, "it has not reached its last step")
	}
	s.Phase = PhaseSucceeded
	s.record(at, actor, ActionSucceed, "")
	return nil
}

// refuse is the error of an action the phase does not allow.
func (s *State) refuse(action, why string) error {
	return fmt.Errorf("cannot %s the rollout of %s: %s (phase %s)", action, s.Spec.Service, why, s.Phase)
}

// record appends an event with the state's step and weight after action.
func (s *State) record(at time.Time, actor, action, reason string) {
	s.History = append(s.History, Event{At: at, Actor: actor, Action: action, Step: s.Step, Weight: s.Weight(), Reason: reason})
}
