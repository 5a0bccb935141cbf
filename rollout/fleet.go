package rollout

import (
	"context"
	"fmt"
	"time"
)

// Fleet is the controller's view of the proxies, for the --require-ack and
// --max-error-rate gates.
type Fleet interface {
	// Acks reports how the proxies that route spec.Service stand with
	// routes that send weight percent of it to spec.To.
	Acks(ctx context.Context, spec Spec, weight int) (AckReport, error)
	// Load returns, by replica, the requests to spec.To and the errors
	// among them that the proxies reported since that replica started.
	Load(ctx context.Context, spec Spec) (map[string]LoadReport, error)
}

// loadBaseline is what the replicas had reported of a rollout's canary
// when the controller first looked at its current step.
type loadBaseline struct {
	step      int
	startedAt time.Time
	replicas  map[string]LoadReport
}

// observeFleet fills in what the gates of a rollout with an applied step
// need from the proxies.
func (c *Controller) observeFleet(ctx context.Context, st State, obs *Observation) error {
	if st.Step < 0 || (st.Spec.RequireAck <= 0 && st.Spec.MaxErrorRate <= 0) {
		return nil
	}
	if c.fleet == nil {
		return fmt.Errorf("the rollout of %s needs --require-ack or --max-error-rate, and this controller has no view of the proxies", st.Spec.Service)
	}
	if st.Spec.RequireAck > 0 {
		acks, err := c.fleet.Acks(ctx, st.Spec, st.Weight())
		if err != nil {
			return fmt.Errorf("proxies' acceptance of %s's routes: %w", st.Spec.Service, err)
		}
		obs.Acks = &acks
	}
	if st.Spec.MaxErrorRate > 0 {
		loads, err := c.fleet.Load(ctx, st.Spec)
		if err != nil {
			return fmt.Errorf("load reports of %s subset %s: %w", st.Spec.Service, st.Spec.To, err)
		}
		obs.Load = c.stepLoad(st, loads)
	}
	return nil
}

// stepLoad returns the canary's load since the controller first looked at
// st's current step: a leader that takes over mid-step judges the step
// from then on. A replica seen for the first time counts from then, and
// one whose counts went down (it restarted) from zero.
func (c *Controller) stepLoad(st State, loads map[string]LoadReport) LoadReport {
	b, ok := c.baselines[st.Spec.Service]
	if !ok || b.step != st.Step || !b.startedAt.Equal(st.StepStartedAt) {
		b = loadBaseline{step: st.Step, startedAt: st.StepStartedAt, replicas: map[string]LoadReport{}}
		c.baselines[st.Spec.Service] = b
	}
	var out LoadReport
	for replica, now := range loads {
		base, seen := b.replicas[replica]
		switch {
		case !seen:
			b.replicas[replica] = now
			continue
		case now.Requests < base.Requests || now.Errors < base.Errors:
			base = LoadReport{}
			b.replicas[replica] = base
		}
		out.Requests += now.Requests - base.Requests
		out.Errors += now.Errors - base.Errors
	}
	return out
}

// forgetBaselines drops the baselines of rollouts that are not running.
func (c *Controller) forgetBaselines(running map[string]bool) {
	for service := range c.baselines {
		if !running[service] {
			delete(c.baselines, service)
		}
	}
}
