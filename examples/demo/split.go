package main

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"
)

// shiftOdds is the likelihood ratio at which a shift counts as detected:
// the answers since the estimated change are a million times likelier under
// the new split than under the old one. A false alarm on traffic that still
// follows the old split is then practically impossible, and detecting a
// shift takes only a few dozen answers more.
const shiftOdds = 1e6

// weight is one version's share of a split, in percent.
type weight struct {
	Version string
	Percent int
}

// splitStep is one setting of the service-splitter: the share of requests
// each version gets, in percent, summing to 100.
type splitStep []weight

// String renders s as "v1 90% / v2 10%".
func (s splitStep) String() string {
	parts := make([]string, len(s))
	for i, w := range s {
		parts[i] = fmt.Sprintf("%s %d%%", w.Version, w.Percent)
	}
	return strings.Join(parts, " / ")
}

// shares is s as fractions per version, the distribution its traffic
// should follow.
func (s splitStep) shares() map[string]float64 {
	out := make(map[string]float64, len(s))
	for _, w := range s {
		out[w.Version] = float64(w.Percent) / 100
	}
	return out
}

// validate reports why s is not a split of versions that sums to 100 %
// with one weight per version, or nil.
func (s splitStep) validate(versions []string) error {
	total := 0
	var got []string
	for _, w := range s {
		if w.Percent < 0 || w.Percent > 100 {
			return fmt.Errorf("split %s: %s has %d%%, want 0..100", s, w.Version, w.Percent)
		}
		total += w.Percent
		got = append(got, w.Version)
	}
	if total != 100 {
		return fmt.Errorf("split %s: weights sum to %d%%, want 100%%", s, total)
	}
	slices.Sort(got)
	if !slices.Equal(got, versions) {
		return fmt.Errorf("split %s: versions %v, want each of %v once", s, got, versions)
	}
	return nil
}

// versionsOf returns the distinct versions of backends (id → version),
// sorted.
func versionsOf(backends map[string]string) []string {
	return slices.Compact(slices.Sorted(maps.Values(backends)))
}

// measuredShares is the share of r's RPCs each of versions answered.
func measuredShares(r round, versions []string) map[string]float64 {
	out := make(map[string]float64, len(versions))
	for _, v := range versions {
		out[v] = r.share(v)
	}
	return out
}

// splitUnmet returns why sample r, counted per version, does not show
// split s within tol percentage points, or "" if it does. A version
// weighted 0 must answer nothing at all, and no RPC may fail: a split
// removes no endpoint, so nothing excuses an error.
func splitUnmet(s splitStep, r round, tol float64) string {
	if r.Total == 0 {
		return "no RPCs in the sample"
	}
	var why []string
	for _, w := range s {
		got := 100 * r.share(w.Version)
		switch {
		case w.Percent == 0 && r.Counts[w.Version] > 0:
			why = append(why, fmt.Sprintf("%s answered %d, want none", w.Version, r.Counts[w.Version]))
		case math.Abs(got-float64(w.Percent)) > tol+1e-9: // 55.000000001 is 5 points off
			why = append(why, fmt.Sprintf("%s got %.1f%%, want %d ± %g", w.Version, got, w.Percent, tol))
		}
	}
	for _, id := range slices.Sorted(maps.Keys(r.Counts)) {
		if !slices.ContainsFunc(s, func(w weight) bool { return w.Version == id }) {
			why = append(why, fmt.Sprintf("%s answered %d but is no version of the split", id, r.Counts[id]))
		}
	}
	if r.Failed > 0 {
		why = append(why, fmt.Sprintf("%d of %d RPCs failed (last: %s)", r.Failed, r.Total, r.LastErr))
	}
	return strings.Join(why, "; ")
}

// shift detects, answer by answer, when traffic moved from one split to
// another: a CUSUM test on the log-likelihood ratio of each answer's
// version under the new split against the old one. The score drops to zero
// whenever the answers since the last reset favour the old split; it rises
// while they favour the new one. Once it passes log(shiftOdds), the change
// is taken to have happened at the first answer after the last reset, which
// dates it to within a few RPCs even though each single answer is random.
type shift struct {
	from, to map[string]float64
	score    float64
	// since is the first answer after the last reset; zero right after one.
	since time.Time
	// at is when the shift happened, set once it is detected.
	at time.Time
}

// newShift returns a detector of a shift from the split whose shares are
// from to the one whose shares are to.
func newShift(from, to map[string]float64) *shift {
	return &shift{from: from, to: to}
}

// observe adds the answer of version at time at and reports whether the
// shift is detected. An answer the new split cannot give, or one from a
// version neither split knows, resets the score; one the old split cannot
// give proves the shift at once.
func (s *shift) observe(version string, at time.Time) bool {
	if !s.at.IsZero() {
		return true
	}
	pTo, pFrom := s.to[version], s.from[version]
	switch {
	case pTo == 0:
		s.score = 0
	case pFrom == 0:
		s.score = math.Inf(1)
	default:
		s.score += math.Log(pTo / pFrom)
	}
	if s.score <= 0 {
		s.score, s.since = 0, time.Time{}
		return false
	}
	if s.since.IsZero() {
		s.since = at
	}
	if s.score >= math.Log(shiftOdds) {
		s.at = s.since
		return true
	}
	return false
}

// detected returns when the shift happened, and whether it was detected.
func (s *shift) detected() (time.Time, bool) {
	return s.at, !s.at.IsZero()
}
