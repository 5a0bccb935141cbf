package rollout

import (
	"fmt"
	"strings"
	"time"
)

// MinAckTimeout is the shortest time the proxies get to accept a step's
// routes; a step's own interval is their time when it is longer.
const MinAckTimeout = 10 * time.Second

// MinErrorRateRequests is how many requests to the canary a step must
// have seen before its error rate is judged: one failure among the first
// handful of requests is no rate.
const MinErrorRateRequests = 20

// AckReport is how the proxies that route a service stand with the routes
// of a rollout's current step.
type AckReport struct {
	// Routing counts the connected proxies that route the service;
	// Accepted counts those of them that accepted routes carrying the
	// step's weights.
	Routing, Accepted int
	// Rejected names each proxy that rejected those routes, with its
	// reason ("envoy-1: <message>").
	Rejected []string
}

// LoadReport counts the requests the proxies reported sending to the
// canary (Spec.To) since the current step started, and those of them that
// failed.
type LoadReport struct {
	Requests, Errors uint64
}

// AckTimeout is how long the proxies routing spec.Service get to accept a
// step's routes before the rollout aborts.
func AckTimeout(spec Spec) time.Duration {
	return max(spec.Interval, MinAckTimeout)
}

// ackRejected says why the step's routes fail the --require-ack gate
// because a proxy rejected them, or "".
func ackRejected(st State, acks *AckReport) string {
	if st.Spec.RequireAck <= 0 || acks == nil || len(acks.Rejected) == 0 {
		return ""
	}
	return fmt.Sprintf("step %d%%: %d proxies rejected the routes of %s: %s",
		st.Weight(), len(acks.Rejected), st.Spec.Service, strings.Join(acks.Rejected, "; "))
}

// AckGate says whether acks meet spec's --require-ack share: at least
// Spec.RequireAck of the proxies routing the service accepted. With no
// proxy routing it there is nothing to wait for.
func AckGate(spec Spec, acks AckReport) bool {
	if acks.Routing == 0 {
		return true
	}
	return float64(acks.Accepted)+1e-9 >= spec.RequireAck*float64(acks.Routing)
}

// ackTimedOut is the reason a step whose routes were not accepted within
// AckTimeout aborts.
func ackTimedOut(st State, acks AckReport) string {
	return fmt.Sprintf("step %d%%: %d of %d proxies routing %s accepted its routes within %s, want ≥ %s",
		st.Weight(), acks.Accepted, acks.Routing, st.Spec.Service, AckTimeout(st.Spec), formatPercent(st.Spec.RequireAck))
}

// ErrorGate says why the canary's load over the current step fails spec's
// --max-error-rate gate, or "" when it holds, the gate is off, or fewer
// than MinErrorRateRequests requests were reported.
func ErrorGate(st State, load LoadReport) string {
	spec := st.Spec
	if spec.MaxErrorRate <= 0 || st.Step < 0 || load.Requests < MinErrorRateRequests {
		return ""
	}
	rate := float64(load.Errors) / float64(load.Requests)
	if rate <= spec.MaxErrorRate {
		return ""
	}
	return fmt.Sprintf("canary %s: %.1f%% of %d requests failed over step %d%%, want ≤ %s",
		spec.To, 100*rate, load.Requests, st.Weight(), formatPercent(spec.MaxErrorRate))
}
