package rollout

import (
	"fmt"
	"slices"
	"time"
)

// gatesRefresh is how often the controller rewrites the gate results of a
// rollout whose gates still pass: often enough for `rollout status`, rare
// enough to spare Consul a write per tick.
const gatesRefresh = 5 * time.Second

// The gates, as GateResult names them.
const (
	GateHealth    = "health"
	GateWebhooks  = "webhooks"
	GateAcks      = "acks"
	GateErrorRate = "error-rate"
)

// GateResult is one gate's result on the controller's last look at a
// running rollout.
type GateResult struct {
	Gate string `json:"gate"`
	// OK is false when the gate fails or, for acks, is still waiting.
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// gateResults describes every gate of st as obs shows it.
func gateResults(st State, obs Observation) []GateResult {
	spec := st.Spec
	out := []GateResult{healthResult(spec, obs)}
	if len(spec.Webhooks) > 0 {
		r := GateResult{Gate: GateWebhooks, OK: obs.Webhook == "", Detail: obs.Webhook}
		if r.OK {
			r.Detail = fmt.Sprintf("%d answered 2xx", len(spec.Webhooks))
		}
		out = append(out, r)
	}
	if spec.RequireAck > 0 && obs.Acks != nil {
		out = append(out, acksResult(st, *obs.Acks))
	}
	if spec.MaxErrorRate > 0 && st.Step >= 0 {
		out = append(out, errorRateResult(st, obs.Load))
	}
	return out
}

// healthResult is the health gate's result.
func healthResult(spec Spec, obs Observation) GateResult {
	if why := HealthGate(spec, obs.Passing, obs.Total); why != "" {
		return GateResult{Gate: GateHealth, Detail: why}
	}
	return GateResult{Gate: GateHealth, OK: true, Detail: fmt.Sprintf("%d of %d instances of %s passing, want ≥ %s",
		obs.Passing, obs.Total, spec.To, formatPercent(spec.MinHealthy))}
}

// acksResult is the --require-ack gate's result.
func acksResult(st State, acks AckReport) GateResult {
	if why := ackRejected(st, &acks); why != "" {
		return GateResult{Gate: GateAcks, Detail: why}
	}
	return GateResult{Gate: GateAcks, OK: AckGate(st.Spec, acks), Detail: fmt.Sprintf("%d of %d proxies routing %s accepted step %d%%, want ≥ %s",
		acks.Accepted, acks.Routing, st.Spec.Service, st.Weight(), formatPercent(st.Spec.RequireAck))}
}

// errorRateResult is the --max-error-rate gate's result.
func errorRateResult(st State, load LoadReport) GateResult {
	if why := ErrorGate(st, load); why != "" {
		return GateResult{Gate: GateErrorRate, Detail: why}
	}
	want := formatPercent(st.Spec.MaxErrorRate)
	if load.Requests < MinErrorRateRequests {
		return GateResult{Gate: GateErrorRate, OK: true, Detail: fmt.Sprintf("%d requests to %s reported over step %d%%, judged from %d, want ≤ %s failed",
			load.Requests, st.Spec.To, st.Weight(), MinErrorRateRequests, want)}
	}
	return GateResult{Gate: GateErrorRate, OK: true, Detail: fmt.Sprintf("%.1f%% of %d requests to %s failed over step %d%%, want ≤ %s",
		100*float64(load.Errors)/float64(load.Requests), load.Requests, st.Spec.To, st.Weight(), want)}
}

// gatesChanged reports whether results should replace st's stored ones
// while the rollout holds: a gate's verdict changed, or the stored ones
// are older than gatesRefresh.
func gatesChanged(st State, results []GateResult, now time.Time) bool {
	if now.Sub(st.GatesAt) >= gatesRefresh || len(results) != len(st.Gates) {
		return true
	}
	return !slices.EqualFunc(results, st.Gates, func(a, b GateResult) bool { return a.Gate == b.Gate && a.OK == b.OK })
}
