package main

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

var (
	split9010  = splitStep{{"v1", 90}, {"v2", 10}}
	split5050  = splitStep{{"v1", 50}, {"v2", 50}}
	split0100  = splitStep{{"v1", 0}, {"v2", 100}}
	roundRobin = map[string]float64{"v1": 2.0 / 3, "v2": 1.0 / 3}
)

func TestSplitStepString(t *testing.T) {
	if got := split9010.String(); got != "v1 90% / v2 10%" {
		t.Errorf("String = %q", got)
	}
}

func TestSplitStepValidate(t *testing.T) {
	versions := []string{"v1", "v2"}
	for _, tc := range []struct {
		name string
		s    splitStep
		want string // "" means valid
	}{
		{"90/10", split9010, ""},
		{"0/100", split0100, ""},
		{"reversed order", splitStep{{"v2", 10}, {"v1", 90}}, ""},
		{"sum 90", splitStep{{"v1", 80}, {"v2", 10}}, "sum to 90%"},
		{"negative", splitStep{{"v1", 110}, {"v2", -10}}, "want 0..100"},
		{"missing version", splitStep{{"v1", 100}}, "want each of [v1 v2] once"},
		{"unknown version", splitStep{{"v1", 50}, {"v3", 50}}, "want each of"},
		{"version twice", splitStep{{"v1", 50}, {"v1", 50}}, "want each of"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.s.validate(versions)
			if tc.want == "" && err != nil {
				t.Errorf("validate = %v, want nil", err)
			}
			if tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("validate = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestVersionsOf(t *testing.T) {
	for _, tc := range []struct {
		backends map[string]string
		want     string
	}{
		{map[string]string{"web-1": "v1", "web-2": "v1", "web-3": "v2"}, "v1,v2"},
		{map[string]string{"a": "v2", "b": "v10", "c": "v1"}, "v1,v10,v2"},
		{nil, ""},
	} {
		if got := strings.Join(versionsOf(tc.backends), ","); got != tc.want {
			t.Errorf("versionsOf(%v) = %s, want %s", tc.backends, got, tc.want)
		}
	}
}

func TestMeasuredShares(t *testing.T) {
	for _, tc := range []struct {
		name   string
		r      round
		v1, v2 float64
	}{
		{"two to one", counted(300, map[string]int{"v1": 200, "v2": 100}), 2.0 / 3, 1.0 / 3},
		{"failures count in the total", counted(100, map[string]int{"v1": 50, "v2": 40}), 0.5, 0.4},
		{"one version silent", counted(100, map[string]int{"v2": 100}), 0, 1},
		{"empty", newRound(), 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := measuredShares(tc.r, []string{"v1", "v2"})
			if got["v1"] != tc.v1 || got["v2"] != tc.v2 || len(got) != 2 {
				t.Errorf("measuredShares = %v, want v1 %v v2 %v", got, tc.v1, tc.v2)
			}
		})
	}
}

func TestSplitUnmet(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    splitStep
		r    round
		want string // "" means met; else a substring of the reason
	}{
		{"exact", split9010, counted(1000, map[string]int{"v1": 900, "v2": 100}), ""},
		{"4.9 points off", split9010, counted(1000, map[string]int{"v1": 851, "v2": 149}), ""},
		{"5 points off", split5050, counted(1000, map[string]int{"v1": 550, "v2": 450}), ""},
		{"5.1 points off", split5050, counted(1000, map[string]int{"v1": 551, "v2": 449}), "v1 got 55.1%, want 50 ± 5; v2 got 44.9%, want 50 ± 5"},
		{"old split still in force", split5050, counted(1000, map[string]int{"v1": 900, "v2": 100}), "v1 got 90.0%"},
		{"zero weight answers once", split0100, counted(1000, map[string]int{"v1": 1, "v2": 999}), "v1 answered 1, want none"},
		{"zero weight silent", split0100, counted(1000, map[string]int{"v2": 1000}), ""},
		{"stray answer", split9010, counted(1000, map[string]int{"v1": 899, "v2": 100, "web-9": 1}), "web-9 answered 1 but is no version of the split"},
		{"one failure", split9010, counted(1000, map[string]int{"v1": 899, "v2": 100}), "1 of 1000 RPCs failed (last: Unavailable)"},
		{"all failed", split9010, counted(1000, nil), "v1 got 0.0%"},
		{"empty sample", split9010, newRound(), "no RPCs in the sample"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := splitUnmet(tc.s, tc.r, 5)
			if tc.want == "" && got != "" {
				t.Errorf("splitUnmet = %q, want the split met", got)
			}
			if tc.want != "" && !strings.Contains(got, tc.want) {
				t.Errorf("splitUnmet = %q, want it to contain %q", got, tc.want)
			}
		})
	}
}

// draws returns n versions drawn at random with the given shares, from a
// seeded generator so that the test is repeatable.
func draws(rng *rand.Rand, shares map[string]float64, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "v2"
		if rng.Float64() < shares["v1"] {
			out[i] = "v1"
		}
	}
	return out
}

// feed observes answers one millisecond apart from t0 and returns the index
// of the answer at which the shift was detected, or -1.
func feed(s *shift, t0 time.Time, answers []string) int {
	for i, v := range answers {
		if s.observe(v, t0.Add(time.Duration(i)*time.Millisecond)) {
			return i
		}
	}
	return -1
}

func TestShift(t *testing.T) {
	t0 := time.Unix(1000, 0)
	for _, tc := range []struct {
		name     string
		from, to map[string]float64
		// before and after are the true shares around the change at
		// answer changeAt.
		before, after map[string]float64
		changeAt      int
		// slack is how many answers the estimate may be off in any of the
		// seeded runs, meanSlack on average over them.
		slack, meanSlack int
	}{
		{"round robin to 90/10", roundRobin, split9010.shares(), roundRobin, split9010.shares(), 200, 100, 20},
		{"90/10 to 50/50", split9010.shares(), split5050.shares(), split9010.shares(), split5050.shares(), 300, 50, 10},
		{"50/50 to 0/100", split5050.shares(), split0100.shares(), split5050.shares(), split0100.shares(), 300, 10, 2},
		{"change before the first answer", split9010.shares(), split5050.shares(), nil, split5050.shares(), 0, 50, 10},
		{"no change", split9010.shares(), split5050.shares(), split9010.shares(), split9010.shares(), 3000, -1, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const runs = 50
			sumErr := 0
			for seed := range uint64(runs) {
				rng := rand.New(rand.NewPCG(seed, 7))
				answers := append(draws(rng, tc.before, tc.changeAt), draws(rng, tc.after, 3000-tc.changeAt)...)
				s := newShift(tc.from, tc.to)
				alarm := feed(s, t0, answers)
				at, ok := s.detected()
				if tc.slack < 0 {
					if ok || alarm >= 0 {
						t.Fatalf("seed %d: shift detected at answer %d of unchanged traffic", seed, alarm)
					}
					continue
				}
				if !ok {
					t.Fatalf("seed %d: shift at answer %d not detected", seed, tc.changeAt)
				}
				est := int(at.Sub(t0) / time.Millisecond)
				sumErr += max(est-tc.changeAt, tc.changeAt-est)
				if est < tc.changeAt-tc.slack || est > tc.changeAt+tc.slack || alarm < est {
					t.Errorf("seed %d: shift at answer %d estimated at %d (detected at %d), want within %d", seed, tc.changeAt, est, alarm, tc.slack)
				}
			}
			t.Logf("mean error %.1f answers", float64(sumErr)/runs)
			if tc.slack >= 0 && sumErr > tc.meanSlack*runs {
				t.Errorf("estimates off by %.1f answers on average, want at most %d", float64(sumErr)/runs, tc.meanSlack)
			}
		})
	}
}

func TestShiftZeroShares(t *testing.T) {
	t0 := time.Unix(1000, 0)
	for _, tc := range []struct {
		name     string
		from, to map[string]float64
		answers  []string
		alarm    int // index of the detecting answer, -1 for none
		estimate int // index of the estimated change
	}{
		{"impossible before: proven at once", split0100.shares(), split5050.shares(), []string{"v2", "v2", "v1"}, 2, 2},
		{"impossible after: resets", split5050.shares(), split0100.shares(), append([]string{"v2", "v2", "v1"}, strings.Split(strings.Repeat("v2,", 25)+"v2", ",")...), 22, 3},
		{"unknown version resets", split9010.shares(), split5050.shares(), []string{"v2", "v2", "v2", "web-9", "v2", "v2", "v2", "v2", "v2", "v2", "v2", "v2", "v2"}, 12, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newShift(tc.from, tc.to)
			alarm := feed(s, t0, tc.answers)
			at, ok := s.detected()
			if alarm != tc.alarm || (tc.alarm >= 0) != ok {
				t.Fatalf("detected at answer %d (ok %v), want %d", alarm, ok, tc.alarm)
			}
			if est := int(at.Sub(t0) / time.Millisecond); ok && est != tc.estimate {
				t.Errorf("estimated change at answer %d, want %d", est, tc.estimate)
			}
		})
	}
}
