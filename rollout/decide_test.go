package rollout

import (
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
)

func TestDecide(t *testing.T) {
	started := t0
	held := t0.Add(time.Minute)
	early := t0.Add(59 * time.Second)
	tests := []struct {
		name     string
		phase    Phase
		step     int
		now      time.Time
		splitter int
		passing  int
		total    int
		webhook  string
		want     Decision
	}{
		{"first step at once", PhaseRunning, -1, started, -1, 1, 1, "", Decision{Verdict: ApplyNext}},
		{"first step over an unrelated splitter", PhaseRunning, -1, started, 0, 1, 1, "", Decision{Verdict: ApplyNext}},
		{"first step already written", PhaseRunning, -1, started, 10, 1, 1, "", Decision{Verdict: RecordNext}},
		{"step holding", PhaseRunning, 0, early, 10, 1, 1, "", Decision{Verdict: Hold}},
		{"step held its interval", PhaseRunning, 0, held, 10, 1, 1, "", Decision{Verdict: ApplyNext}},
		{"next step already written", PhaseRunning, 0, early, 50, 1, 1, "", Decision{Verdict: RecordNext}},
		{"last step holding", PhaseRunning, 2, early, 100, 1, 1, "", Decision{Verdict: Hold}},
		{"last step held", PhaseRunning, 2, held, 100, 1, 1, "", Decision{Verdict: Finish}},
		{"edited weights", PhaseRunning, 1, early, 30, 1, 1, "", Decision{Verdict: PauseEdited, Reason: EditedReason}},
		{"edited into another shape", PhaseRunning, 1, held, -1, 1, 1, "", Decision{Verdict: PauseEdited, Reason: EditedReason}},
		{"skipped ahead by hand", PhaseRunning, 0, early, 100, 1, 1, "", Decision{Verdict: PauseEdited, Reason: EditedReason}},
		{"an edit wins over a failing gate", PhaseRunning, 1, early, 30, 0, 1, "", Decision{Verdict: PauseEdited, Reason: EditedReason}},
		{"canary failing before the first step", PhaseRunning, -1, started, -1, 0, 1, "",
			Decision{Verdict: AbortUnhealthy, Reason: "canary v2: 0 of 1 instances passing, want ≥ 100%"}},
		{"canary failing during a step", PhaseRunning, 1, early, 50, 2, 3, "",
			Decision{Verdict: AbortUnhealthy, Reason: "canary v2: 2 of 3 instances passing, want ≥ 100%"}},
		{"canary failing at the last step", PhaseRunning, 2, held, 100, 0, 1, "",
			Decision{Verdict: AbortUnhealthy, Reason: "canary v2: 0 of 1 instances passing, want ≥ 100%"}},
		{"canary gone", PhaseRunning, 0, early, 10, 0, 0, "",
			Decision{Verdict: AbortUnhealthy, Reason: "canary v2: no instances, want ≥ 100% and at least one passing"}},
		{"paused holds", PhasePaused, 0, held, 30, 0, 0, "", Decision{Verdict: Hold}},
		{"succeeded holds", PhaseSucceeded, 2, held, 100, 0, 1, "", Decision{Verdict: Hold}},
		{"webhook failing during a step", PhaseRunning, 1, early, 50, 1, 1, "webhook http://hook answered 500 Internal Server Error",
			Decision{Verdict: AbortUnhealthy, Reason: "webhook http://hook answered 500 Internal Server Error"}},
		{"an edit wins over a failing webhook", PhaseRunning, 1, early, 30, 1, 1, "webhook http://hook answered 500",
			Decision{Verdict: PauseEdited, Reason: EditedReason}},
		{"aborted holds", PhaseAborted, 1, held, 0, 0, 1, "", Decision{Verdict: Hold}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := New(validSpec(), t0, "alice@ops")
			st.Phase, st.Step, st.StepStartedAt, st.AckedAt = tt.phase, tt.step, started, started
			got := Decide(st, Observation{Now: tt.now, Splitter: tt.splitter, Passing: tt.passing, Total: tt.total, Webhook: tt.webhook,
				Acks: &AckReport{Routing: 2, Accepted: 2}})
			if got != tt.want {
				t.Errorf("Decide = %v %q, want %v %q", got.Verdict, got.Reason, tt.want.Verdict, tt.want.Reason)
			}
		})
	}
}

func TestHealthGate(t *testing.T) {
	spec := validSpec()
	for _, tt := range []struct {
		min            float64
		passing, total int
		want           string
	}{
		{1, 1, 1, ""},
		{1, 2, 2, ""},
		{0.9, 9, 10, ""},
		{0.9, 8, 10, "canary v2: 8 of 10 instances passing, want ≥ 90%"},
		{0.5, 1, 2, ""},
		{0.5, 1, 3, "canary v2: 1 of 3 instances passing, want ≥ 50%"},
		{0, 0, 3, "canary v2: 0 of 3 instances passing, want at least one"},
		{0, 1, 3, ""},
		{0.333, 0, 0, "canary v2: no instances, want ≥ 33.3% and at least one passing"},
	} {
		spec.MinHealthy = tt.min
		if got := HealthGate(spec, tt.passing, tt.total); got != tt.want {
			t.Errorf("min %v, %d of %d: %q, want %q", tt.min, tt.passing, tt.total, got, tt.want)
		}
	}
}

func TestSplitterPercent(t *testing.T) {
	spec := validSpec()
	split := func(splits ...api.ServiceSplit) *api.ServiceSplitterConfigEntry {
		return &api.ServiceSplitterConfigEntry{Kind: api.ServiceSplitter, Name: "web", Splits: splits}
	}
	for _, tt := range []struct {
		name string
		sp   *api.ServiceSplitterConfigEntry
		want int
	}{
		{"none", nil, -1},
		{"as written", WeightsFor(spec, 25), 25},
		{"all to from", WeightsFor(spec, 0), 0},
		{"reversed order", split(api.ServiceSplit{Weight: 50, ServiceSubset: "v2"}, api.ServiceSplit{Weight: 50, ServiceSubset: "v1"}), 50},
		{"float noise", split(api.ServiceSplit{Weight: 89.999, ServiceSubset: "v1"}, api.ServiceSplit{Weight: 10.001, ServiceSubset: "v2"}), 10},
		{"service named", split(api.ServiceSplit{Weight: 90, Service: "web", ServiceSubset: "v1"}, api.ServiceSplit{Weight: 10, Service: "web", ServiceSubset: "v2"}), 10},
		{"fractional", split(api.ServiceSplit{Weight: 89.5, ServiceSubset: "v1"}, api.ServiceSplit{Weight: 10.5, ServiceSubset: "v2"}), -1},
		{"another subset", split(api.ServiceSplit{Weight: 90, ServiceSubset: "v3"}, api.ServiceSplit{Weight: 10, ServiceSubset: "v2"}), -1},
		{"another service", split(api.ServiceSplit{Weight: 90, ServiceSubset: "v1"}, api.ServiceSplit{Weight: 10, Service: "other", ServiceSubset: "v2"}), -1},
		{"three ways", split(api.ServiceSplit{Weight: 80, ServiceSubset: "v1"}, api.ServiceSplit{Weight: 10, ServiceSubset: "v2"}, api.ServiceSplit{Weight: 10}), -1},
	} {
		if got := SplitterPercent(spec, tt.sp); got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, got, tt.want)
		}
	}
}
