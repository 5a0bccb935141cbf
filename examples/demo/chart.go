package main

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// barWidth is the number of cells in one instance's share bar.
const barWidth = 20

// round is the outcome of one round of RPCs.
type round struct {
	// Counts is the number of answers per backend id.
	Counts map[string]int
	// Failed is the number of RPCs that got no answer.
	Failed int
	// Total is the number of RPCs sent.
	Total int
	// LastErr is the gRPC status code of the last failed RPC, and
	// FailedAt when it failed.
	LastErr  string
	FailedAt time.Time
	// First and Last are when each backend id first and last answered.
	First, Last map[string]time.Time
	// Answers are the answers in the order they came, for analyses that
	// need more than counts, such as when a split took effect.
	Answers []answer
}

// answer is one answered RPC: who answered and when.
type answer struct {
	// ID is the backend id, or the version it stands for when the traffic
	// is counted per version.
	ID string
	At time.Time
}

// newRound returns an empty round, ready to count.
func newRound() round {
	return round{Counts: map[string]int{}, First: map[string]time.Time{}, Last: map[string]time.Time{}}
}

// answered counts an answer from id at time at.
func (r *round) answered(id string, at time.Time) {
	r.Counts[id]++
	if _, ok := r.First[id]; !ok {
		r.First[id] = at
	}
	r.Last[id] = at
	r.Answers = append(r.Answers, answer{ID: id, At: at})
}

// add accumulates o, a later round, into r.
func (r *round) add(o round) {
	for id, n := range o.Counts {
		r.Counts[id] += n
	}
	for id, at := range o.First {
		if _, ok := r.First[id]; !ok {
			r.First[id] = at
		}
	}
	for id, at := range o.Last {
		r.Last[id] = at
	}
	r.Answers = append(r.Answers, o.Answers...)
	r.Failed += o.Failed
	r.Total += o.Total
	if o.LastErr != "" {
		r.LastErr, r.FailedAt = o.LastErr, o.FailedAt
	}
}

// share is the fraction of the round's RPCs that id answered.
func (r round) share(id string) float64 {
	if r.Total == 0 {
		return 0
	}
	return float64(r.Counts[id]) / float64(r.Total)
}

// chartLine renders one round: the elapsed time, then a bar and percentage
// for each of ids and for any other id that answered, then the error count.
func chartLine(elapsed time.Duration, ids []string, r round) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%6.1fs", elapsed.Seconds())
	for _, id := range lineIDs(ids, r) {
		fmt.Fprintf(&b, "  %s %s %5.1f%%", id, bar(r.share(id)), 100*r.share(id))
	}
	fmt.Fprintf(&b, "  errors %d", r.Failed)
	if r.Failed > 0 {
		fmt.Fprintf(&b, " (last: %s)", r.LastErr)
	}
	return b.String()
}

// lineIDs is ids followed by, sorted, the ids of r not among them, so an
// unexpected answer is shown rather than hidden.
func lineIDs(ids []string, r round) []string {
	var extra []string
	for id := range r.Counts {
		if !slices.Contains(ids, id) {
			extra = append(extra, id)
		}
	}
	slices.Sort(extra)
	return append(slices.Clip(ids), extra...)
}

// bar draws frac (0..1) as barWidth cells, rounding to the nearest cell.
func bar(frac float64) string {
	frac = min(max(frac, 0), 1)
	full := int(frac*barWidth + 0.5)
	return strings.Repeat("█", full) + strings.Repeat("░", barWidth-full)
}
