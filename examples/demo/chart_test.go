package main

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestBar(t *testing.T) {
	for _, tc := range []struct {
		frac float64
		full int
	}{{0, 0}, {0.5, 10}, {1, 20}, {1.5, 20}, {-1, 0}, {0.333, 7}} {
		got := bar(tc.frac)
		if n := utf8.RuneCountInString(got); n != barWidth {
			t.Errorf("bar(%v) has %d cells, want %d", tc.frac, n, barWidth)
		}
		if n := strings.Count(got, "█"); n != tc.full {
			t.Errorf("bar(%v) has %d full cells, want %d", tc.frac, n, tc.full)
		}
	}
}

func TestChartLine(t *testing.T) {
	r := round{Counts: map[string]int{"echo-1": 150, "stray": 50}, Total: 200}
	got := chartLine(1500*time.Millisecond, []string{"echo-1", "echo-2"}, r)
	for _, want := range []string{"1.5s", "echo-1", " 75.0%", "echo-2", "  0.0%", "stray", " 25.0%", "errors 0"} {
		if !strings.Contains(got, want) {
			t.Errorf("chartLine = %q, lacks %q", got, want)
		}
	}
	if strings.Index(got, "echo-2") > strings.Index(got, "stray") {
		t.Errorf("chartLine = %q: unexpected ids should follow the known ones", got)
	}
}

func TestRoundAdd(t *testing.T) {
	t0 := time.Unix(100, 0)
	total := newRound()
	a := newRound()
	a.answered("echo-1", t0)
	a.answered("echo-1", t0.Add(time.Second))
	a.Total, a.Failed, a.LastErr, a.FailedAt = 3, 1, "Unavailable", t0.Add(time.Second/2)
	b := newRound()
	b.answered("echo-1", t0.Add(2*time.Second))
	b.answered("echo-2", t0.Add(3*time.Second))
	b.Total = 2
	total.add(a)
	total.add(b)
	if total.Counts["echo-1"] != 3 || total.Counts["echo-2"] != 1 || total.Total != 5 || total.Failed != 1 {
		t.Errorf("totals = %+v", total)
	}
	if !total.First["echo-1"].Equal(t0) || !total.Last["echo-1"].Equal(t0.Add(2*time.Second)) {
		t.Errorf("echo-1 first %v last %v", total.First["echo-1"], total.Last["echo-1"])
	}
	if total.LastErr != "Unavailable" || !total.FailedAt.Equal(t0.Add(time.Second/2)) {
		t.Errorf("LastErr = %q at %v, want Unavailable at %v: b failed nothing", total.LastErr, total.FailedAt, t0.Add(time.Second/2))
	}
	if got := chartLine(0, []string{"echo-1"}, total); !strings.Contains(got, "errors 1 (last: Unavailable)") {
		t.Errorf("chartLine = %q lacks the error code", got)
	}
}
