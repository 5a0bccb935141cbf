package rollout

import (
	"testing"
	"time"
)

// TestDecideAckAndErrorGates runs a rollout at step 1 (50 %) of validSpec
// (--require-ack 100 %, --max-error-rate 1 %, interval 1m) through the
// acceptance and error-rate gates.
func TestDecideAckAndErrorGates(t *testing.T) {
	started := t0
	acked := t0.Add(2 * time.Second)
	tests := []struct {
		name    string
		ackedAt time.Time
		now     time.Time
		acks    *AckReport
		load    LoadReport
		require float64
		want    Decision
	}{
		{"waiting for acks", time.Time{}, started.Add(time.Second), &AckReport{Routing: 3, Accepted: 2}, LoadReport{}, 1,
			Decision{Verdict: Hold}},
		{"all accepted", time.Time{}, started.Add(time.Second), &AckReport{Routing: 3, Accepted: 3}, LoadReport{}, 1,
			Decision{Verdict: RecordAck}},
		{"enough accepted", time.Time{}, started.Add(time.Second), &AckReport{Routing: 4, Accepted: 3}, LoadReport{}, 0.75,
			Decision{Verdict: RecordAck}},
		{"no proxy routes it", time.Time{}, started.Add(time.Second), &AckReport{}, LoadReport{}, 1,
			Decision{Verdict: RecordAck}},
		{"not measured", time.Time{}, started.Add(time.Hour), nil, LoadReport{}, 1,
			Decision{Verdict: Hold}},
		{"acks too slow", time.Time{}, started.Add(time.Minute), &AckReport{Routing: 3, Accepted: 2}, LoadReport{}, 1,
			Decision{Verdict: AbortUnhealthy, Reason: "step 50%: 2 of 3 proxies routing web accepted its routes within 1m0s, want ≥ 100%"}},
		{"a proxy rejected", time.Time{}, started.Add(time.Second), &AckReport{Routing: 3, Accepted: 2, Rejected: []string{"envoy-1: bad weights"}}, LoadReport{}, 1,
			Decision{Verdict: AbortUnhealthy, Reason: "step 50%: 1 proxies rejected the routes of web: envoy-1: bad weights"}},
		{"a rejection after the acks", acked, acked.Add(time.Second), &AckReport{Routing: 3, Accepted: 2, Rejected: []string{"envoy-1: bad"}}, LoadReport{}, 1,
			Decision{Verdict: AbortUnhealthy, Reason: "step 50%: 1 proxies rejected the routes of web: envoy-1: bad"}},
		{"interval counts from the acks", acked, started.Add(time.Minute), &AckReport{Routing: 3, Accepted: 3}, LoadReport{}, 1,
			Decision{Verdict: Hold}},
		{"interval held after the acks", acked, acked.Add(time.Minute), &AckReport{Routing: 3, Accepted: 3}, LoadReport{}, 1,
			Decision{Verdict: ApplyNext}},
		{"gate off: interval from the step", time.Time{}, started.Add(time.Minute), nil, LoadReport{}, 0,
			Decision{Verdict: ApplyNext}},
		{"errors under the rate", acked, acked.Add(time.Second), &AckReport{}, LoadReport{Requests: 1000, Errors: 10}, 1,
			Decision{Verdict: Hold}},
		{"errors over the rate", acked, acked.Add(time.Second), &AckReport{}, LoadReport{Requests: 1000, Errors: 312}, 1,
			Decision{Verdict: AbortUnhealthy, Reason: "canary v2: 31.2% of 1000 requests failed over step 50%, want ≤ 1%"}},
		{"too few requests to judge", acked, acked.Add(time.Second), &AckReport{}, LoadReport{Requests: MinErrorRateRequests - 1, Errors: 5}, 1,
			Decision{Verdict: Hold}},
		{"errors while waiting for acks", time.Time{}, started.Add(time.Second), &AckReport{Routing: 1}, LoadReport{Requests: 100, Errors: 50}, 1,
			Decision{Verdict: AbortUnhealthy, Reason: "canary v2: 50.0% of 100 requests failed over step 50%, want ≤ 1%"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := validSpec()
			spec.RequireAck = tt.require
			st := New(spec, t0, "alice@ops")
			st.Step, st.StepStartedAt, st.AckedAt = 1, started, tt.ackedAt
			got := Decide(st, Observation{Now: tt.now, Splitter: 50, Passing: 1, Total: 1, Acks: tt.acks, Load: tt.load})
			if got != tt.want {
				t.Errorf("Decide = %v %q, want %v %q", got.Verdict, got.Reason, tt.want.Verdict, tt.want.Reason)
			}
		})
	}
}

func TestAdvanceForgetsTheAcks(t *testing.T) {
	st := New(validSpec(), t0, "alice@ops")
	st.Step, st.StepStartedAt, st.AckedAt = 0, t0, t0.Add(time.Second)
	if err := st.Advance(t0.Add(time.Minute), Actor); err != nil {
		t.Fatal(err)
	}
	if !st.AckedAt.IsZero() || !st.IntervalStart().IsZero() {
		t.Errorf("after Advance AckedAt %v, interval start %v; want both zero until the new step's acks", st.AckedAt, st.IntervalStart())
	}
	if err := st.Acknowledge(t0.Add(61 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if want := t0.Add(61 * time.Second); !st.IntervalStart().Equal(want) {
		t.Errorf("interval start %v, want %v", st.IntervalStart(), want)
	}
}
