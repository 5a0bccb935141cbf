package discovery

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/consul/api"
	"golang.org/x/time/rate"
)

func TestNextIndex(t *testing.T) {
	tests := []struct {
		prev, last, want uint64
	}{
		{0, 0, 1},   // never block on 0
		{0, 7, 7},   // first answer
		{7, 7, 7},   // timeout, nothing changed
		{7, 9, 9},   // a change
		{9, 3, 0},   // went backwards: plain read next
		{1, 0, 0},   // went backwards to 0
		{0, 3, 3},   // the read after a reset
		{3, 1, 0},   // backwards again
		{5, 1, 0},   // backwards to 1
		{1, 1, 1},   // kept at 1
		{2, 2, 2},   // unchanged
		{0, 1, 1},   // 1 is the floor
		{8, 8, 8},   // unchanged
		{8, 20, 20}, // a change
	}
	for _, tt := range tests {
		if got := nextIndex(tt.prev, tt.last); got != tt.want {
			t.Errorf("nextIndex(%d, %d) = %d, want %d", tt.prev, tt.last, got, tt.want)
		}
	}
}

func TestBackoffGrowsCappedWithJitter(t *testing.T) {
	lo, hi := 100*time.Millisecond, 3*time.Second
	for failures := 1; failures <= 70; failures++ {
		ceil := hi
		if failures < 10 {
			ceil = min(hi, lo<<(failures-1))
		}
		for range 20 {
			d := backoff(failures, lo, hi)
			if d < ceil/2 || d > ceil {
				t.Fatalf("backoff(%d) = %s, want within [%s, %s]", failures, d, ceil/2, ceil)
			}
		}
	}
}

// scriptStep is one scripted answer of a fetch, and the wait index the loop
// must send for it.
type scriptStep struct {
	wantIndex uint64
	names     []string
	lastIndex uint64
	err       error
}

// recordingObserver counts outcomes without any Consul or metrics.
type recordingObserver struct{ ok, failed int }

func (o *recordingObserver) querySucceeded(string, string, *api.QueryMeta, time.Duration) { o.ok++ }
func (o *recordingObserver) queryFailed(string, string, error, time.Duration, int) {
	o.failed++
}
func (o *recordingObserver) loaded() bool { return false }

func (o *recordingObserver) watchStopped(string) {}

// TestBlockingWatchFollowsIndexRules drives the loop with a scripted fetch:
// an index going backwards cannot be produced on demand with a real agent.
// Everything else about the watch is tested against a real agent.
func TestBlockingWatchFollowsIndexRules(t *testing.T) {
	refused := api.StatusError{Code: 403, Body: "ACL not found"}
	script := []scriptStep{
		{wantIndex: 0, names: []string{"a"}, lastIndex: 10},
		{wantIndex: 10, names: []string{"a"}, lastIndex: 10},      // timeout: equal, not delivered
		{wantIndex: 10, names: []string{"a", "b"}, lastIndex: 12}, // change
		{wantIndex: 12, names: []string{"a", "b"}, lastIndex: 5},  // backwards
		{wantIndex: 0, names: []string{"a", "b"}, lastIndex: 5},
		{wantIndex: 5, err: errors.New("connection refused")},
		{wantIndex: 0, names: []string{"a", "b"}, lastIndex: 0}, // after an error: plain read
		{wantIndex: 1, names: []string{"c"}, lastIndex: 1},      // never block on 0
		{wantIndex: 1, err: fmt.Errorf("wrapped: %w", refused)},
	}
	var (
		step     int
		gotIdx   []uint64
		got      [][]string
		observer recordingObserver
	)
	w := &blockingWatch[[]string]{
		endpoint: "catalog", path: catalogPath,
		fetch: func(q *api.QueryOptions) ([]string, *api.QueryMeta, error) {
			if step >= len(script) {
				t.Fatalf("fetch called %d times, script has %d steps", step+1, len(script))
			}
			if q.Context() == nil || q.WaitTime != time.Minute {
				t.Errorf("query options %+v: want a context and WaitTime 1m", q)
			}
			s := script[step]
			step++
			gotIdx = append(gotIdx, q.WaitIndex)
			if s.err != nil {
				return nil, nil, s.err
			}
			return s.names, &api.QueryMeta{LastIndex: s.lastIndex}, nil
		},
		equal:    func(a, b []string) bool { return cmp.Equal(a, b) },
		deliver:  func(_ context.Context, v []string) { got = append(got, v) },
		observer: &observer,
		cfg:      Config{WaitTime: time.Minute, RateLimit: rate.Inf, RateBurst: 1, MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond},
	}
	err := w.run(t.Context())
	var perr *PermissionError
	if !errors.As(err, &perr) || perr.Path != catalogPath {
		t.Fatalf("run() = %v, want a *PermissionError for %s", err, catalogPath)
	}
	var want []uint64
	for _, s := range script {
		want = append(want, s.wantIndex)
	}
	if diff := cmp.Diff(want, gotIdx); diff != "" {
		t.Errorf("wait indexes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([][]string{{"a"}, {"a", "b"}, {"c"}}, got); diff != "" {
		t.Errorf("delivered (-want +got):\n%s", diff)
	}
	if observer.ok != 7 || observer.failed != 2 {
		t.Errorf("observed %d ok, %d failed; want 7 and 2", observer.ok, observer.failed)
	}
}

func TestBlockingWatchStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	started := make(chan struct{})
	w := &blockingWatch[[]string]{
		fetch: func(q *api.QueryOptions) ([]string, *api.QueryMeta, error) {
			close(started)
			<-q.Context().Done() // what an HTTP request does when its context ends
			return nil, nil, q.Context().Err()
		},
		equal:    func(a, b []string) bool { return cmp.Equal(a, b) },
		deliver:  func(context.Context, []string) {},
		observer: &recordingObserver{},
		cfg:      Config{WaitTime: time.Minute, RateLimit: rate.Inf, RateBurst: 1, MinBackoff: time.Hour, MaxBackoff: time.Hour},
	}
	done := make(chan error, 1)
	go func() { done <- w.run(ctx) }()
	<-started
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run() after cancel = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run did not return within 5s of cancel")
	}
}
