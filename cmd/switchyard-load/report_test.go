package main

import (
	"strings"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ms := func(vs ...int) []time.Duration {
		out := make([]time.Duration, len(vs))
		for i, v := range vs {
			out[i] = time.Duration(v) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"none", nil, 50, 0},
		{"one", ms(7), 50, 7 * time.Millisecond},
		{"one p99", ms(7), 99, 7 * time.Millisecond},
		{"two p50 is the lower", ms(1, 2), 50, time.Millisecond},
		{"odd p50 is the middle", ms(1, 2, 3), 50, 2 * time.Millisecond},
		{"p99 of 100", ms(hundred...), 99, 99 * time.Millisecond},
		{"p100 is the max", ms(hundred...), 100, 100 * time.Millisecond},
		{"p99 of 10 is the max", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 99, 10 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.sorted, tt.p); got != tt.want {
				t.Errorf("percentile(%v, %v) = %v, want %v", tt.sorted, tt.p, got, tt.want)
			}
		})
	}
}

func TestSummarizeSortsAndConverts(t *testing.T) {
	got := summarize([]time.Duration{3 * time.Millisecond, time.Millisecond, 2500 * time.Microsecond})
	want := summary{N: 3, P50: 2.5, P99: 3, Max: 3}
	if got != want {
		t.Errorf("summarize = %+v, want %+v", got, want)
	}
}

func TestPerProxyPerChange(t *testing.T) {
	tests := []struct {
		bytes            int64
		streams, changes int
		want             float64
	}{
		{0, 10, 10, 0},
		{1000, 10, 10, 10},
		{1500, 2, 3, 250},
		{1000, 0, 10, 0},
		{1000, 10, 0, 0},
	}
	for _, tt := range tests {
		if got := perProxyPerChange(tt.bytes, tt.streams, tt.changes); got != tt.want {
			t.Errorf("perProxyPerChange(%d, %d, %d) = %v, want %v", tt.bytes, tt.streams, tt.changes, got, tt.want)
		}
	}
}

// TestFillPropagation checks that a stream missing a change counts as
// missed and puts the change's last-stream time at the timeout.
func TestFillPropagation(t *testing.T) {
	seenAll := newChange(0, "a", "a-0", "critical", 2, 2)
	seenAll.seen[0].Store(seenAll.start.Add(10 * time.Millisecond).UnixNano())
	seenAll.seen[1].Store(seenAll.start.Add(30 * time.Millisecond).UnixNano())
	seenOne := newChange(1, "b", "b-0", "critical", 2, 2)
	seenOne.seen[0].Store(seenOne.start.Add(20 * time.Millisecond).UnixNano())
	r := &report{}
	fillPropagation(r, []*change{seenAll, seenOne}, time.Second)
	if r.Missed != 1 || r.Propagation.N != 3 || r.Propagation.Max != 30 {
		t.Errorf("missed %d, propagation %+v: want 1 missed, 3 receipts, max 30 ms", r.Missed, r.Propagation)
	}
	if r.PerChange[0].LastMS != 30 || r.PerChange[1].LastMS != 1000 || r.PerChange[1].Seen != 1 {
		t.Errorf("per change %+v: want last 30 ms, then 1000 ms seen by 1", r.PerChange)
	}
	var b strings.Builder
	if err := r.writeTable(&b); err != nil || !strings.Contains(b.String(), "1000.0 ms") {
		t.Errorf("table %q, err %v", b.String(), err)
	}
}
