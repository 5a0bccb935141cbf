package echo_test

import (
	"context"
	"math"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/switchyard/switchyard/internal/echo"
)

func TestSetFailureRateFailsThatFraction(t *testing.T) {
	tests := []struct {
		name      string
		rate      float64
		calls     int
		firstFail int // index of the first failed call; -1 for none
	}{
		{name: "none", rate: 0, calls: 100, firstFail: -1},
		{name: "30 percent", rate: 0.3, calls: 1000, firstFail: 3},
		{name: "half", rate: 0.5, calls: 200, firstFail: 1},
		{name: "every call", rate: 1, calls: 50, firstFail: 0},
		{name: "above one is every call", rate: 1.5, calls: 50, firstFail: 0},
		{name: "negative is none", rate: -0.2, calls: 50, firstFail: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			b := startBackend(t, "echo-1")
			cc := dial(t, b.Addr)
			b.SetFailureRate(tt.rate)
			first := -1
			failed := 0
			for i := range tt.calls {
				_, err := echo.Call(ctx, cc)
				if err == nil {
					continue
				}
				if code := status.Code(err); code != codes.Unavailable {
					t.Fatalf("call %d failed with %v, want Unavailable: %v", i, code, err)
				}
				failed++
				if first < 0 {
					first = i
				}
			}
			want := int(math.Floor(float64(tt.calls) * min(max(tt.rate, 0), 1)))
			if failed != want || first != tt.firstFail {
				t.Errorf("%d of %d calls failed, the first at %d; want %d, the first at %d", failed, tt.calls, first, want, tt.firstFail)
			}
		})
	}
}

// TestSetFailureRateConcurrent sends calls from several goroutines while
// the rate is set: every call counts once, whatever the interleaving.
func TestSetFailureRateConcurrent(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	b := startBackend(t, "echo-1")
	cc := dial(t, b.Addr)
	b.SetFailureRate(0.25)
	const workers, each = 8, 100
	var mu sync.Mutex
	failed := 0
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				if _, err := echo.Call(ctx, cc); err != nil {
					mu.Lock()
					failed++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if failed != workers*each/4 {
		t.Errorf("%d of %d calls failed, want %d", failed, workers*each, workers*each/4)
	}
	b.SetFailureRate(0)
	if _, err := echo.Call(ctx, cc); err != nil {
		t.Errorf("call after SetFailureRate(0): %v", err)
	}
}
