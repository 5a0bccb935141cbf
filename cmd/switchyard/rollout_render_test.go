package main

import (
	"bytes"
	"path/filepath"
	"testing"
	"time"

	"github.com/switchyard/switchyard/rollout"
)

// goldenRollout is a paused rollout at its second step, with the "step"
// events the rollout controller records.
func goldenRollout() rolloutStatus {
	at := func(min int) time.Time { return statusNow.Add(time.Duration(min) * time.Minute) }
	spec := rollout.Spec{
		Service: "web", From: "v1", To: "v2", Steps: []int{10, 50, 100}, Interval: 5 * time.Minute,
		MinHealthy: 0.9, RequireAck: 1, MaxErrorRate: 0.015, Webhooks: []string{"https://checks.example.com/web"},
	}
	return rolloutStatus{
		State: rollout.State{
			Spec: spec, Phase: rollout.PhasePaused, Step: 1, StepStartedAt: at(-20), PauseReason: "latency looks high",
			History: []rollout.Event{
				{At: at(-40), Actor: "alice@ops-1", Action: rollout.ActionStart, Step: -1},
				{At: at(-30), Actor: "switchyard-a", Action: rollout.ActionStep, Step: 0, Weight: 10},
				{At: at(-20), Actor: "switchyard-a", Action: rollout.ActionStep, Step: 1, Weight: 50},
				{At: at(-5), Actor: "bob@ops-2", Action: rollout.ActionPause, Step: 1, Weight: 50, Reason: "latency looks high"},
			},
		},
		Splitter: []splitShare{{Subset: "v1", Weight: 50}, {Subset: "v2", Weight: 50}},
		Leader:   "switchyard-ops-1-18080",
	}
}

// TestRolloutGolden renders a rollout's status and a list as tables and as
// JSON.
func TestRolloutGolden(t *testing.T) {
	paused := goldenRollout()
	fresh := rolloutStatus{State: rollout.New(paused.Spec, statusNow.Add(-time.Minute), "alice@ops-1")}
	fresh.Spec.Service, fresh.Spec.MaxErrorRate, fresh.Spec.Webhooks = "api", 0, nil
	done := paused.State
	done.Spec.Service = "cart"
	if err := done.Promote(statusNow.Add(-2*time.Minute), "carol@ops-3"); err != nil {
		t.Fatal(err)
	}
	running := goldenRollout()
	running.Phase, running.PauseReason = rollout.PhaseRunning, ""
	running.History = running.History[:3]
	running.StepStartedAt, running.AckedAt, running.GatesAt = statusNow.Add(-2*time.Minute), statusNow.Add(-110*time.Second), statusNow.Add(-time.Second)
	running.Gates = []rollout.GateResult{
		{Gate: rollout.GateHealth, OK: true, Detail: "3 of 3 instances of v2 passing, want ≥ 90%"},
		{Gate: rollout.GateWebhooks, OK: true, Detail: "1 answered 2xx"},
		{Gate: rollout.GateAcks, OK: true, Detail: "12 of 12 proxies routing web accepted step 50%, want ≥ 100%"},
		{Gate: rollout.GateErrorRate, OK: true, Detail: "0.4% of 5120 requests to v2 failed over step 50%, want ≤ 1.5%"},
	}
	waiting := running
	waiting.AckedAt = time.Time{}
	waiting.Gates = []rollout.GateResult{
		{Gate: rollout.GateHealth, OK: true, Detail: "3 of 3 instances of v2 passing, want ≥ 90%"},
		{Gate: rollout.GateAcks, Detail: "11 of 12 proxies routing web accepted step 50%, want ≥ 100%"},
	}
	list := []rollout.State{fresh.State, done, paused.State}
	tests := []struct {
		golden string
		render func(*bytes.Buffer) error
	}{
		{"status.golden", func(b *bytes.Buffer) error { return renderRolloutStatus(b, paused, statusNow) }},
		{"status_new.golden", func(b *bytes.Buffer) error { return renderRolloutStatus(b, fresh, statusNow) }},
		{"status_running.golden", func(b *bytes.Buffer) error { return renderRolloutStatus(b, running, statusNow) }},
		{"status_waiting.golden", func(b *bytes.Buffer) error { return renderRolloutStatus(b, waiting, statusNow) }},
		{"status_json.golden", func(b *bytes.Buffer) error { return renderJSON(b, paused) }},
		{"list.golden", func(b *bytes.Buffer) error { return renderRolloutList(b, list, statusNow) }},
		{"list_json.golden", func(b *bytes.Buffer) error { return renderJSON(b, list) }},
		{"list_empty.golden", func(b *bytes.Buffer) error { return renderRolloutList(b, nil, statusNow) }},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			var b bytes.Buffer
			if err := tt.render(&b); err != nil {
				t.Fatal(err)
			}
			checkGoldenFile(t, filepath.Join("testdata", "rollout", tt.golden), b.Bytes())
		})
	}
}
