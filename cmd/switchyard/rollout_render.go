package main

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard/switchyard/rollout"
)

// renderRolloutStatus writes one rollout as labelled lines, then its
// history as a table, with ages relative to now.
func renderRolloutStatus(w io.Writer, st rolloutStatus, now time.Time) error {
	s := st.Spec
	tw := newTabWriter(w)
	fmt.Fprintf(tw, "Service:\t%s\n", s.Service)
	fmt.Fprintf(tw, "Phase:\t%s\n", st.Phase)
	if st.Phase == rollout.PhasePaused {
		fmt.Fprintf(tw, "Pause reason:\t%s\n", orDash(st.PauseReason))
	}
	fmt.Fprintf(tw, "From → to:\t%s → %s\n", s.From, s.To)
	fmt.Fprintf(tw, "Steps:\t%s, every %s\n", stepList(s.Steps), s.Interval)
	fmt.Fprintf(tw, "Step:\t%s\n", stepText(st.State))
	fmt.Fprintf(tw, "Weights (rollout):\t%s\n", weights(s, st.Weight()))
	fmt.Fprintf(tw, "Splitter (Consul now):\t%s\n", splitterText(st.Splitter))
	fmt.Fprintf(tw, "Step started:\t%s\n", timeAndAge(st.StepStartedAt, now))
	if st.Spec.RequireAck > 0 && !st.AckedAt.IsZero() {
		fmt.Fprintf(tw, "Step accepted:\t%s\n", timeAndAge(st.AckedAt, now))
	}
	fmt.Fprintf(tw, "Next:\t%s\n", nextStepText(st.State, now))
	fmt.Fprintf(tw, "Gates:\t%s\n", gatesText(s))
	fmt.Fprintf(tw, "Driven by:\t%s\n", leaderText(st.Leader))
	if err := tw.Flush(); err != nil {
		return err
	}
	if err := renderGateResults(w, st.State, now); err != nil {
		return err
	}
	fmt.Fprint(w, "\nHistory:\n")
	tw = newTabWriter(w)
	fmt.Fprintln(tw, "TIME\tACTOR\tACTION\tSTEP\tWEIGHT\tREASON")
	for _, e := range st.History {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d%%\t%s\n", formatTime(e.At), e.Actor, e.Action, stepNumber(e.Step, len(s.Steps)), e.Weight, orDash(e.Reason))
	}
	return tw.Flush()
}

// renderRolloutList writes one line per rollout.
func renderRolloutList(w io.Writer, list []rollout.State, now time.Time) error {
	if len(list) == 0 {
		_, err := fmt.Fprintf(w, "No rollouts in Consul KV under %s.\n", rollout.KeyPrefix)
		return err
	}
	tw := newTabWriter(w)
	fmt.Fprintln(tw, "SERVICE\tPHASE\tFROM\tTO\tSTEP\tWEIGHTS\tLAST EVENT")
	for _, st := range list {
		last := "-"
		if n := len(st.History); n > 0 {
			e := st.History[n-1]
			last = fmt.Sprintf("%s by %s %s", e.Action, e.Actor, ago(e.At, now))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", st.Spec.Service, st.Phase, st.Spec.From, st.Spec.To,
			stepNumber(st.Step, len(st.Spec.Steps)), weights(st.Spec, st.Weight()), last)
	}
	return tw.Flush()
}

// stepList prints steps as "10%, 50%, 100%".
func stepList(steps []int) string {
	parts := make([]string, len(steps))
	for i, p := range steps {
		parts[i] = strconv.Itoa(p) + "%"
	}
	return strings.Join(parts, ", ")
}

// stepNumber prints a step index as "2/3", or "-" before the first step.
func stepNumber(step, total int) string {
	if step < 0 {
		return "-"
	}
	return fmt.Sprintf("%d/%d", step+1, total)
}

// stepText describes where a rollout is.
func stepText(st rollout.State) string {
	if st.Step < 0 {
		return "none applied yet (step -1)"
	}
	return fmt.Sprintf("step %s (%d%%)", stepNumber(st.Step, len(st.Spec.Steps)), st.Spec.Steps[st.Step])
}

// weights prints "v1 90%, v2 10%".
func weights(s rollout.Spec, percentTo int) string {
	return fmt.Sprintf("%s %d%%, %s %d%%", s.From, 100-percentTo, s.To, percentTo)
}

// splitterText prints the splitter's splits, or that there is none.
func splitterText(splits []splitShare) string {
	if splits == nil {
		return "none (all traffic to the resolver's default subset)"
	}
	parts := make([]string, len(splits))
	for i, s := range splits {
		target := s.Subset
		if s.Service != "" {
			target = s.Service + "/" + s.Subset
		}
		parts[i] = fmt.Sprintf("%s %s%%", orDash(target), strconv.FormatFloat(float64(s.Weight), 'f', -1, 32))
	}
	return strings.Join(parts, ", ")
}

// gatesText prints the gates of a spec.
func gatesText(s rollout.Spec) string {
	out := fmt.Sprintf("min healthy %s, require ack %s", percent(s.MinHealthy), percent(s.RequireAck))
	if s.MaxErrorRate > 0 {
		out += ", max error rate " + percent(s.MaxErrorRate)
	}
	for _, w := range s.Webhooks {
		out += ", webhook " + w
	}
	return out
}

// percent prints a fraction as a percentage to four decimals at most:
// 0.015 is "1.5%", not the "1.5000000000000002%" of a plain f*100.
func percent(f float64) string {
	return strconv.FormatFloat(math.Round(f*1e6)/1e4, 'f', -1, 64) + "%"
}

// leaderText names the replica that drives the rollouts, or says that
// none does.
func leaderText(leader string) string {
	if leader == "" {
		return "none (no replica holds " + rollout.LeaderKey + "; is `switchyard serve` running with --rollouts?)"
	}
	return leader
}

// timeAndAge prints a time and how long ago it was, or "-".
func timeAndAge(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return formatTime(t) + " (" + ago(t, now) + ")"
}
