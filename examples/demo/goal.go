package main

import (
	"fmt"
	"slices"
	"strings"
)

// maxDrainFailed is how many RPCs a round may lose and still show the
// failing instance drained: an RPC can race the endpoint update onto a
// connection that is being closed. Restoring an instance removes nothing,
// so its rounds may lose none.
const maxDrainFailed = 2

// goal is what a round looks like once traffic has followed a health
// change.
type goal struct {
	// serving must each have answered at least one RPC of the round.
	serving []string
	// drained must have answered none.
	drained []string
	// maxFailed is the most RPCs of the round that may have failed.
	maxFailed int
}

// drainedGoal is the goal after failing's health check failed: every other
// instance answers, failing answers nothing, and at most maxDrainFailed
// RPCs fail. An empty round, all errors, does not meet it.
func drainedGoal(ids []string, failing string) goal {
	return goal{serving: without(ids, failing), drained: []string{failing}, maxFailed: maxDrainFailed}
}

// restoredGoal is the goal after every instance's health check passes
// again: each of ids answers and no RPC fails.
func restoredGoal(ids []string) goal {
	return goal{serving: slices.Clone(ids)}
}

// unmet returns why r does not meet g, or "" if it does.
func (g goal) unmet(r round) string {
	var why []string
	for _, id := range g.drained {
		if n := r.Counts[id]; n > 0 {
			why = append(why, fmt.Sprintf("%s still answered %d", id, n))
		}
	}
	for _, id := range g.serving {
		if r.Counts[id] == 0 {
			why = append(why, id+" answered nothing")
		}
	}
	if r.Failed > g.maxFailed {
		why = append(why, fmt.Sprintf("%d of %d RPCs failed (last: %s)", r.Failed, r.Total, r.LastErr))
	}
	return strings.Join(why, "; ")
}

// mostFailed reports whether more than half of r's RPCs failed.
func mostFailed(r round) bool {
	return 2*r.Failed > r.Total
}

// errorVerdict is the summary's last line: whether any RPC of all failed.
func errorVerdict(all round) string {
	if all.Failed == 0 {
		return "every RPC was answered"
	}
	return fmt.Sprintf("warning: %d of %d RPCs failed (last: %s); traffic followed every change, but not without errors", all.Failed, all.Total, all.LastErr)
}

// without returns ids except id, in order.
func without(ids []string, id string) []string {
	out := make([]string, 0, len(ids))
	for _, x := range ids {
		if x != id {
			out = append(out, x)
		}
	}
	return out
}
