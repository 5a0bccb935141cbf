package rollout

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
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

// TestLeaderLockHandsOver runs two elections against one Consul: one
// leads at a time, Leader names it, its gauge alone is 1, and when it
// stops the other takes over.
func TestLeaderLockHandsOver(t *testing.T) {
	client := startConsul(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if holder, held, err := Leader(t.Context(), client); err != nil || held || holder != "" {
		t.Fatalf("before any election: Leader() = %q, %v, %v; want nothing held", holder, held, err)
	}
	l := &leaders{driving: map[string]bool{}}
	elections, cancels, done := map[string]*election{}, map[string]context.CancelFunc{}, map[string]chan error{}
	for _, name := range []string{"replica-a", "replica-b"} {
		e, err := newElection(client, name, MinLockTTL)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		ch := make(chan error, 1)
		elections[name], cancels[name], done[name] = e, cancel, ch
		go func() { ch <- e.run(ctx, log, l.drive(name)) }()
	}
	t.Cleanup(func() {
		for _, c := range cancels {
			c()
		}
	})
	waitFor(t, "a leader", func() bool { return l.leader() != "" })
	first := l.leader()
	second := map[string]string{"replica-a": "replica-b", "replica-b": "replica-a"}[first]
	checkLeader(t, client, first, true)
	checkGauges(t, elections, first)

	cancels[first]()
	if err := <-done[first]; err != nil {
		t.Errorf("%s: %v", first, err)
	}
	waitFor(t, second+" takes over", func() bool { return l.leader() == second })
	checkLeader(t, client, second, true)
	checkGauges(t, elections, second)

	cancels[second]()
	if err := <-done[second]; err != nil {
		t.Errorf("%s: %v", second, err)
	}
	checkLeader(t, client, second, false)
	checkGauges(t, elections, "")
	if l.most != 1 {
		t.Errorf("%d drove at once, want 1", l.most)
	}
}

// checkLeader fails the test unless Leader reports holder and held.
func checkLeader(t *testing.T, client *api.Client, holder string, held bool) {
	t.Helper()
	got, gotHeld, err := Leader(t.Context(), client)
	if err != nil || got != holder || gotHeld != held {
		t.Errorf("Leader() = %q, %v, %v; want %q, %v", got, gotHeld, err, holder, held)
	}
}

// checkGauges fails the test unless the gauge of leader alone is 1 ("":
// none is).
func checkGauges(t *testing.T, elections map[string]*election, leader string) {
	t.Helper()
	for name, e := range elections {
		want := 0.0
		if name == leader {
			want = 1
		}
		if got := testutil.ToFloat64(e.leading); got != want {
			t.Errorf("switchyard_rollout_leader of %s = %v, want %v", name, got, want)
		}
	}
}

// TestLeaderLockTTL checks the TTL's bounds and that NewController
// registers the leader gauge with its other metrics.
func TestLeaderLockTTL(t *testing.T) {
	client, err := api.NewClient(api.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	for _, ttl := range []time.Duration{5 * time.Second, 25 * time.Hour} {
		if _, err := NewController(ControllerConfig{Client: client, LockTTL: ttl}); err == nil {
			t.Errorf("LockTTL %s accepted, want an error", ttl)
		}
	}
	reg := prometheus.NewRegistry()
	ctl, err := NewController(ControllerConfig{Client: client, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	if ctl.elect.ttl != DefaultLockTTL || ctl.elect.holder == "" {
		t.Errorf("defaults: ttl %s, holder %q; want %s and a host name", ctl.elect.ttl, ctl.elect.holder, DefaultLockTTL)
	}
	if n, err := testutil.GatherAndCount(reg, "switchyard_rollout_leader"); err != nil || n != 1 {
		t.Errorf("registered switchyard_rollout_leader series: %d, %v; want 1", n, err)
	}
}
