package main

import (
	"fmt"
	"io"
	"time"

	"github.com/switchyard/switchyard/rollout"
)

// nextStepText says what the controller does next with a rollout, and
// when.
func nextStepText(st rollout.State, now time.Time) string {
	s := st.Spec
	last := len(s.Steps) - 1
	switch {
	case st.Phase != rollout.PhaseRunning:
		return "-"
	case st.Step < 0:
		return "the first step, on the controller's next tick"
	case s.RequireAck > 0 && st.AckedAt.IsZero():
		return fmt.Sprintf("waiting for the proxies to accept step %s; aborts if they have not by %s",
			stepNumber(st.Step, len(s.Steps)), timeAndWhen(st.StepStartedAt.Add(rollout.AckTimeout(s)), now))
	case st.Step == last:
		return "succeeds at " + timeAndWhen(st.IntervalStart().Add(s.Interval), now)
	}
	return fmt.Sprintf("step %s (%d%%) at %s", stepNumber(st.Step+1, len(s.Steps)), s.Steps[st.Step+1],
		timeAndWhen(st.IntervalStart().Add(s.Interval), now))
}

// timeAndWhen prints a time and how far it is from now, either way.
func timeAndWhen(t, now time.Time) string {
	if t.After(now) {
		return formatTime(t) + " (in " + humanDuration(t.Sub(now)) + ")"
	}
	return timeAndAge(t, now)
}

// renderGateResults writes the gates' results on the controller's last
// look at a running rollout, one gate a line.
func renderGateResults(w io.Writer, st rollout.State, now time.Time) error {
	if st.Phase != rollout.PhaseRunning || len(st.Gates) == 0 {
		return nil
	}
	fmt.Fprintf(w, "\nGate results, as of %s:\n", timeAndAge(st.GatesAt, now))
	tw := newTabWriter(w)
	for _, g := range st.Gates {
		verdict := "ok"
		if !g.OK {
			verdict = "NOT YET"
			if g.Gate != rollout.GateAcks {
				verdict = "FAILED"
			}
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", verdict, g.Gate, g.Detail)
	}
	return tw.Flush()
}
