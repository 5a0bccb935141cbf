package main

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// cycle is n backend ids: the ones given, repeated in order.
func cycle(n int, ids ...string) []string {
	out := make([]string, 0, n)
	for len(out) < n {
		out = append(out, ids...)
	}
	return out[:n]
}

// pattern is a repeating answer sequence in which web-1 and web-2 (v1)
// answer v1 of every ten RPCs, web-3 (v2) the rest, and "" (a failed RPC)
// errors of them.
func pattern(v1, errors int) []string {
	out := slices.Concat(cycle(v1, "web-1", "web-2"), cycle(errors, ""))
	return append(out, cycle(10-v1-errors, "web-3")...)
}

// fakeSplitAct is a split act over a fake connection that answers in
// round robin over web-1..3 until a step is written, then with the pattern
// answers holds for that step, if any.
func fakeSplitAct(answers map[string][]string, writeErr error, steps ...splitStep) (*splitAct, *bytes.Buffer) {
	out := &bytes.Buffer{}
	conn := &fakeConn{ids: []string{"web-1", "web-2", "web-3"}}
	cfg := runConfig{RPCs: 100, Round: time.Millisecond, Converge: 300 * time.Millisecond, Baseline: 1}
	versionOf := map[string]string{"web-1": "v1", "web-2": "v1", "web-3": "v2"}
	t := &traffic{out: out, cc: conn, cfg: cfg, service: splitService, ids: []string{"v1", "v2"}, versionOf: versionOf, start: time.Now()}
	write := func(_ context.Context, s splitStep) error {
		if ids, ok := answers[s.String()]; ok {
			conn.ids, conn.next = ids, 0
		}
		return writeErr
	}
	return &splitAct{t: t, write: write, steps: steps, versions: []string{"v1", "v2"}, tolerance: 5}, out
}

func TestSplitActRun(t *testing.T) {
	for _, tc := range []struct {
		name     string
		steps    []splitStep
		answers  map[string][]string
		writeErr error
		wantErr  string // "" means success
		wantOut  []string
	}{
		{
			name:    "every step followed",
			steps:   []splitStep{split9010, split5050, split0100},
			answers: map[string][]string{split9010.String(): pattern(9, 0), split5050.String(): pattern(5, 0), split0100.String(): pattern(0, 0)},
			wantOut: []string{
				"== splitting web: v1 90% / v2 10% ==", "traffic followed v1 90% / v2 10% ",
				"checked over the next 100 RPCs: v1 90.0%, v2 10.0%, within 5 points of the split",
				"v1 0% / v2 100%    in traffic after", "v1 0.0%, v2 100.0% (0 errors on the way)",
				"every RPC was answered",
			},
		},
		{
			name:    "splitter ignored",
			steps:   []splitStep{split9010},
			wantErr: "split v1 90% / v2 10%: traffic did not follow it within 300ms",
		},
		{
			name:    "split off by ten points",
			steps:   []splitStep{split9010, split5050},
			answers: map[string][]string{split9010.String(): pattern(9, 0), split5050.String(): pattern(6, 0)},
			wantErr: "split v1 50% / v2 50%: the 100 RPCs after it took effect are off it by more than 5 points: v1 got 60.0%, want 50 ± 5",
		},
		{
			name:    "errors after the split",
			steps:   []splitStep{split9010},
			answers: map[string][]string{split9010.String(): pattern(8, 1)},
			wantErr: "10 of 100 RPCs failed (last: Unavailable)",
		},
		{
			name:     "write refused",
			steps:    []splitStep{split9010},
			writeErr: errors.New("write service-splitter web: 500"),
			wantErr:  "write service-splitter web: 500",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, out := fakeSplitAct(tc.answers, tc.writeErr, tc.steps...)
			err := a.run(context.Background())
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("run: %v\n%s", err, out)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("run error = %v, want one containing %q\n%s", err, tc.wantErr, out)
			}
			for _, want := range tc.wantOut {
				if !strings.Contains(out.String(), want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

func TestSplitActBaselineNeedsEveryVersion(t *testing.T) {
	a, _ := fakeSplitAct(nil, nil, split9010)
	a.t.cc = &fakeConn{ids: []string{"web-1"}}
	if err := a.run(context.Background()); err == nil || !strings.Contains(err.Error(), "web baseline: v2 got no traffic") {
		t.Errorf("run = %v, want the baseline to fail on v2", err)
	}
}
