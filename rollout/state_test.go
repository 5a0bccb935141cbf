package rollout

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// t0 is the clock of the state tests.
var t0 = time.Date(2026, 1, 2, 15, 0, 0, 0, time.UTC)

func TestNewState(t *testing.T) {
	s := New(validSpec(), t0, "alice@ops")
	want := State{Spec: validSpec(), Phase: PhaseRunning, Step: -1, History: []Event{
		{At: t0, Actor: "alice@ops", Action: ActionStart, Step: -1, Weight: 0},
	}}
	if diff := cmp.Diff(want, s); diff != "" {
		t.Errorf("new state (-want +got):\n%s", diff)
	}
}

func TestTransitions(t *testing.T) {
	at := t0.Add(time.Hour)
	pause := func(s *State) error { return s.Pause(at, "bob@ops", "canary looks slow") }
	resume := func(s *State) error { return s.Resume(at, "bob@ops") }
	promote := func(s *State) error { return s.Promote(at, "bob@ops") }
	abort := func(s *State) error { return s.Abort(at, "bob@ops", "errors") }
	advance := func(s *State) error { return s.Advance(at, "controller") }
	succeed := func(s *State) error { return s.Succeed(at, "controller") }
	tests := []struct {
		name      string
		phase     Phase
		step      int
		act       func(*State) error
		wantErr   string
		wantPhase Phase
		wantEvent Event
	}{
		{"pause running", PhaseRunning, 1, pause, "", PhasePaused,
			Event{At: at, Actor: "bob@ops", Action: ActionPause, Step: 1, Weight: 50, Reason: "canary looks slow"}},
		{"pause paused", PhasePaused, 1, pause, "cannot pause the rollout of web: it is not running (phase paused)", "", Event{}},
		{"pause succeeded", PhaseSucceeded, 2, pause, "phase succeeded", "", Event{}},
		{"resume paused", PhasePaused, 0, resume, "", PhaseRunning,
			Event{At: at, Actor: "bob@ops", Action: ActionResume, Step: 0, Weight: 10}},
		{"resume running", PhaseRunning, 0, resume, "cannot resume the rollout of web: it is not paused", "", Event{}},
		{"resume aborted", PhaseAborted, 0, resume, "it is not paused (phase aborted)", "", Event{}},
		{"promote running", PhaseRunning, -1, promote, "", PhaseSucceeded,
			Event{At: at, Actor: "bob@ops", Action: ActionPromote, Step: 2, Weight: 100}},
		{"promote paused", PhasePaused, 0, promote, "", PhaseSucceeded,
			Event{At: at, Actor: "bob@ops", Action: ActionPromote, Step: 2, Weight: 100}},
		{"promote succeeded", PhaseSucceeded, 2, promote, "cannot promote the rollout of web: it is over", "", Event{}},
		{"promote aborted", PhaseAborted, 1, promote, "it is over (phase aborted)", "", Event{}},
		{"abort running", PhaseRunning, 1, abort, "", PhaseAborted,
			Event{At: at, Actor: "bob@ops", Action: ActionAbort, Step: 1, Weight: 0, Reason: "errors"}},
		{"abort paused", PhasePaused, 1, abort, "", PhaseAborted,
			Event{At: at, Actor: "bob@ops", Action: ActionAbort, Step: 1, Weight: 0, Reason: "errors"}},
		{"abort aborted", PhaseAborted, 1, abort, "cannot abort", "", Event{}},
		{"abort succeeded", PhaseSucceeded, 2, abort, "it is over (phase succeeded)", "", Event{}},
		{"advance from none", PhaseRunning, -1, advance, "", PhaseRunning,
			Event{At: at, Actor: "controller", Action: ActionStep, Step: 0, Weight: 10}},
		{"advance to last", PhaseRunning, 1, advance, "", PhaseRunning,
			Event{At: at, Actor: "controller", Action: ActionStep, Step: 2, Weight: 100}},
		{"advance past last", PhaseRunning, 2, advance, "cannot step the rollout of web: it is at its last step", "", Event{}},
		{"advance paused", PhasePaused, 0, advance, "it is not running (phase paused)", "", Event{}},
		{"succeed at last", PhaseRunning, 2, succeed, "", PhaseSucceeded,
			Event{At: at, Actor: "controller", Action: ActionSucceed, Step: 2, Weight: 100}},
		{"succeed early", PhaseRunning, 1, succeed, "cannot succeed the rollout of web: it has not reached its last step", "", Event{}},
		{"succeed aborted", PhaseAborted, 2, succeed, "it is not running (phase aborted)", "", Event{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(validSpec(), t0, "alice@ops")
			s.Phase, s.Step = tt.phase, tt.step
			if tt.phase == PhasePaused {
				s.PauseReason = "earlier"
			}
			before := s
			before.History = append([]Event(nil), s.History...)
			err := tt.act(&s)
			checkErr(t, err, tt.wantErr)
			if err != nil {
				if diff := cmp.Diff(before, s); diff != "" {
					t.Errorf("a refused transition changed the state (-before +after):\n%s", diff)
				}
				return
			}
			if s.Phase != tt.wantPhase {
				t.Errorf("phase %s, want %s", s.Phase, tt.wantPhase)
			}
			if s.Phase != PhasePaused && s.PauseReason != "" {
				t.Errorf("pause reason %q kept in phase %s", s.PauseReason, s.Phase)
			}
			if tt.wantEvent.Action == ActionStep && !s.StepStartedAt.Equal(at) {
				t.Errorf("step started at %s, want %s", s.StepStartedAt, at)
			}
			if diff := cmp.Diff(tt.wantEvent, s.History[len(s.History)-1]); diff != "" {
				t.Errorf("last event (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWeight(t *testing.T) {
	s := New(validSpec(), t0, "a")
	for _, tt := range []struct {
		phase Phase
		step  int
		want  int
	}{
		{PhaseRunning, -1, 0}, {PhaseRunning, 0, 10}, {PhasePaused, 1, 50},
		{PhaseSucceeded, 2, 100}, {PhaseAborted, 1, 0}, {PhaseRunning, 7, 0},
	} {
		s.Phase, s.Step = tt.phase, tt.step
		if got := s.Weight(); got != tt.want {
			t.Errorf("%s step %d: weight %d, want %d", tt.phase, tt.step, got, tt.want)
		}
	}
}
