package rollout

import (
	"context"
	"fmt"
	"time"
)

// apply carries out d on st (read at index) whose splitter was read at
// spIndex. The splitter is always written before the state, so a state
// never records a step the splitter has not carried; a controller that
// stops between the two writes finds the splitter a step ahead and
// records it (RecordNext) without writing it again.
func (c *Controller) apply(ctx context.Context, st State, index, spIndex uint64, d Decision, now time.Time) error {
	service := st.Spec.Service
	switch d.Verdict {
	case Hold:
		return nil
	case PauseEdited:
		if err := st.Pause(now, c.actor, d.Reason); err != nil {
			return err
		}
		c.log.Warn("rollout paused", "service", service, "step", st.Step, "reason", d.Reason)
	case AbortUnhealthy:
		if err := WriteSplitter(ctx, c.client, st.Spec, 0); err != nil {
			return fmt.Errorf("roll back: %w", err)
		}
		if err := st.Abort(now, c.actor, d.Reason); err != nil {
			return err
		}
		c.aborts.WithLabelValues(service).Inc()
		c.log.Warn("rollout aborted: all traffic back on "+st.Spec.From, "service", service, "step", st.Step, "reason", d.Reason)
	case ApplyNext, RecordNext:
		if d.Verdict == ApplyNext {
			if err := CASSplitter(ctx, c.client, st.Spec, st.Spec.Steps[st.Step+1], spIndex); err != nil {
				return err
			}
		}
		if err := st.Advance(now, c.actor); err != nil {
			return err
		}
		c.log.Info("rollout step applied", "service", service, "step", st.Step, "weight", st.Weight(), "recorded_only", d.Verdict == RecordNext)
	case RecordAck:
		if err := st.Acknowledge(now); err != nil {
			return err
		}
		c.log.Info("rollout step's routes accepted; its interval starts", "service", service, "step", st.Step, "weight", st.Weight())
	case Finish:
		if err := st.Succeed(now, c.actor); err != nil {
			return err
		}
		c.log.Info("rollout succeeded", "service", service, "weight", st.Weight())
	}
	return c.store.Update(ctx, st, index)
}
