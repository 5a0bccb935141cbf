package rollout

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// leaders records which of several runLeader loops drive, and the most
// that ever drove at once.
type leaders struct {
	mu      sync.Mutex
	driving map[string]bool
	most    int
}

// drive is a drive function for name that holds until ctx is done or the
// lock is lost.
func (l *leaders) drive(name string) func(context.Context, <-chan struct{}) {
	return func(ctx context.Context, lost <-chan struct{}) {
		l.mu.Lock()
		l.driving[name] = true
		l.most = max(l.most, len(l.driving))
		l.mu.Unlock()
		select {
		case <-ctx.Done():
		case <-lost:
		}
		l.mu.Lock()
		delete(l.driving, name)
		l.mu.Unlock()
	}
}

// leader returns the one that drives, or "".
func (l *leaders) leader() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	for name := range l.driving {
		return name
	}
	return ""
}

// waitFor polls cond until it holds, failing the test after 20 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestLeaderLockHandsOver(t *testing.T) {
	client := startConsul(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	l := &leaders{driving: map[string]bool{}}
	cancels, done := map[string]context.CancelFunc{}, map[string]chan error{}
	for _, name := range []string{"a", "b"} {
		ctx, cancel := context.WithCancel(context.Background())
		ch := make(chan error, 1)
		cancels[name], done[name] = cancel, ch
		go func() { ch <- runLeader(ctx, client, log, l.drive(name)) }()
	}
	t.Cleanup(func() {
		for _, c := range cancels {
			c()
		}
	})
	waitFor(t, "a leader", func() bool { return l.leader() != "" })
	first := l.leader()
	second := map[string]string{"a": "b", "b": "a"}[first]
	cancels[first]()
	if err := <-done[first]; err != nil {
		t.Errorf("%s: %v", first, err)
	}
	waitFor(t, second+" takes over", func() bool { return l.leader() == second })
	cancels[second]()
	if err := <-done[second]; err != nil {
		t.Errorf("%s: %v", second, err)
	}
	if l.most != 1 {
		t.Errorf("%d drove at once, want 1", l.most)
	}
}
