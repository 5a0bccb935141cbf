package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"
)

var demoIDs = []string{"echo-1", "echo-2", "echo-3"}

// counted builds a round of total RPCs with the given answers; the rest
// failed.
func counted(total int, counts map[string]int) round {
	r := newRound()
	r.Total = total
	answered := 0
	for id, n := range counts {
		r.Counts[id] = n
		answered += n
	}
	r.Failed = total - answered
	if r.Failed > 0 {
		r.LastErr = "Unavailable"
	}
	return r
}

func TestGoalUnmet(t *testing.T) {
	drained := drainedGoal(demoIDs, "echo-2")
	restored := restoredGoal(demoIDs)
	for _, tc := range []struct {
		name string
		g    goal
		r    round
		want string // "" means met; else a substring of the reason
	}{
		{"drained: clean round", drained, counted(200, map[string]int{"echo-1": 100, "echo-3": 100}), ""},
		{"drained: a tiny number of errors", drained, counted(200, map[string]int{"echo-1": 99, "echo-3": 99}), ""},
		{"drained: every RPC failed", drained, counted(200, nil), "echo-1 answered nothing"},
		{"drained: every RPC failed, error reported", drained, counted(200, nil), "200 of 200 RPCs failed (last: Unavailable)"},
		{"drained: one instance left", drained, counted(200, map[string]int{"echo-1": 200}), "echo-3 answered nothing"},
		{"drained: too many errors", drained, counted(200, map[string]int{"echo-1": 90, "echo-3": 90}), "20 of 200 RPCs failed"},
		{"drained: failing still answers", drained, counted(200, map[string]int{"echo-1": 70, "echo-2": 60, "echo-3": 70}), "echo-2 still answered 60"},
		{"restored: all answer", restored, counted(200, map[string]int{"echo-1": 67, "echo-2": 66, "echo-3": 67}), ""},
		{"restored: one error", restored, counted(200, map[string]int{"echo-1": 67, "echo-2": 66, "echo-3": 66}), "1 of 200 RPCs failed"},
		{"restored: echo-2 not back", restored, counted(200, map[string]int{"echo-1": 100, "echo-3": 100}), "echo-2 answered nothing"},
		{"restored: every RPC failed", restored, counted(200, nil), "echo-2 answered nothing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.g.unmet(tc.r)
			if tc.want == "" && got != "" {
				t.Errorf("unmet = %q, want the goal met", got)
			}
			if tc.want != "" && !strings.Contains(got, tc.want) {
				t.Errorf("unmet = %q, want it to contain %q", got, tc.want)
			}
		})
	}
}

func TestDrainedGoalKeepsIDs(t *testing.T) {
	ids := []string{"echo-1", "echo-2", "echo-3"}
	g := drainedGoal(ids, "echo-2")
	if strings.Join(g.serving, ",") != "echo-1,echo-3" || strings.Join(ids, ",") != "echo-1,echo-2,echo-3" {
		t.Errorf("serving = %v, ids = %v", g.serving, ids)
	}
}

func TestMostFailed(t *testing.T) {
	for _, tc := range []struct {
		total, failed int
		want          bool
	}{{200, 0, false}, {200, 100, false}, {200, 101, true}, {200, 200, true}, {1, 1, true}, {0, 0, false}} {
		r := round{Total: tc.total, Failed: tc.failed}
		if got := mostFailed(r); got != tc.want {
			t.Errorf("mostFailed(%d of %d) = %v, want %v", tc.failed, tc.total, got, tc.want)
		}
	}
}

func TestErrorVerdict(t *testing.T) {
	if got := errorVerdict(counted(600, map[string]int{"echo-1": 600})); got != "every RPC was answered" {
		t.Errorf("no errors: %q", got)
	}
	if got := errorVerdict(counted(600, map[string]int{"echo-1": 597})); !strings.Contains(got, "warning: 3 of 600 RPCs failed (last: Unavailable)") {
		t.Errorf("3 errors: %q", got)
	}
}

// fakeConn answers each UnaryCall with the next id of a cycle; an empty id
// fails the call with Unavailable.
type fakeConn struct {
	ids  []string
	next int
}

func (f *fakeConn) Invoke(_ context.Context, _ string, _, reply any, _ ...grpc.CallOption) error {
	id := f.ids[f.next%len(f.ids)]
	f.next++
	if id == "" {
		return status.Error(codes.Unavailable, "no children to pick from")
	}
	reply.(*testgrpc.SimpleResponse).ServerId = id
	return nil
}

func (f *fakeConn) NewStream(context.Context, *grpc.StreamDesc, string, ...grpc.CallOption) (grpc.ClientStream, error) {
	return nil, errors.New("fakeConn: no streams")
}

func fakeTraffic(ids ...string) *traffic {
	cfg := runConfig{RPCs: 10, Round: time.Millisecond, Converge: 5 * time.Millisecond}
	return &traffic{out: &bytes.Buffer{}, cc: &fakeConn{ids: ids}, cfg: cfg, service: serviceName, ids: demoIDs, start: time.Now()}
}

func TestConverge(t *testing.T) {
	drained := drainedGoal(demoIDs, "echo-2")
	for _, tc := range []struct {
		name    string
		answers []string
		wantErr string // "" means converged
	}{
		{"drained", []string{"echo-1", "echo-3"}, ""},
		{"empty endpoints: every RPC fails", []string{""}, "10 of 10 RPCs in one round failed (last: Unavailable): the client has no working endpoints"},
		{"most RPCs fail", []string{"echo-1", "", "", "echo-3", ""}, "RPCs in one round failed"},
		{"steady errors never converge", []string{"echo-1", "echo-3", ""}, "did not follow the health change"},
		{"failing instance keeps answering", []string{"echo-1", "echo-2", "echo-3"}, "echo-2 still answered"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := fakeTraffic(tc.answers...).converge(context.Background(), "echo-2 failing", drained)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("converge: %v", err)
			case tc.wantErr == "" && res.rounds != 1:
				t.Errorf("rounds = %d, want 1", res.rounds)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("converge error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestSteadyFailsOnMostlyFailedRound(t *testing.T) {
	_, err := fakeTraffic("").steady(context.Background(), "baseline", 3)
	if err == nil || !strings.Contains(err.Error(), "baseline: 10 of 10 RPCs in one round failed") {
		t.Errorf("steady error = %v", err)
	}
}
