package snapshot

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/switchyard/switchyard/discovery"
)

// TestPublisherAppliesHeldDropOnTimer checks that a held drop is applied
// when its window ends although no further model comes, and that while
// it is held the status, the view and the metrics show it.
func TestPublisherAppliesHeldDropOnTimer(t *testing.T) {
	const confirm = 300 * time.Millisecond
	sink := newRecordingSink(t)
	p, err := NewPublisher(PublisherConfig{
		Sink: sink, Translate: Options{ListenerPort: 10000},
		Quiet: 10 * time.Millisecond, MaxDelay: 50 * time.Millisecond, Registerer: prometheus.NewRegistry(),
		DropGuard: DropGuardConfig{MaxDrop: 0.5, Confirm: confirm},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	models := make(chan discovery.Model)
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, models) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()

	models <- guardModel(up("web", 20))
	waitFor(t, 5*time.Second, func() bool { return viewInstances(p, "web") == 20 })
	sent := time.Now()
	models <- guardModel(up("web", 1))
	waitFor(t, 5*time.Second, func() bool { return p.Status().Services["web"].HeldDrop != nil })
	if elapsed := time.Since(sent); elapsed < confirm {
		if n := viewInstances(p, "web"); n != 20 {
			t.Errorf("while held, web shows %d instances, want 20", n)
		}
		if got := testutil.ToFloat64(p.metrics.dropsHeld); got != 1 {
			t.Errorf("held gauge = %v, want 1", got)
		}
	}
	waitFor(t, 5*time.Second, func() bool { return viewInstances(p, "web") == 1 })
	if elapsed := time.Since(sent); elapsed < confirm {
		t.Errorf("drop applied after %s, before the %s window", elapsed, confirm)
	}
	if p.Status().Services["web"].HeldDrop != nil {
		t.Errorf("drop applied but still reported held")
	}
	for result, want := range map[string]float64{"held": 1, "applied": 1, "recovered": 0} {
		if got := testutil.ToFloat64(p.metrics.dropEvents.WithLabelValues(result)); got != want {
			t.Errorf("drops %s = %v, want %v", result, got, want)
		}
	}
	if got := testutil.ToFloat64(p.metrics.dropsHeld); got != 0 {
		t.Errorf("held gauge = %v after the drop applied, want 0", got)
	}
}

// viewInstances returns how many instances the publisher's view shows of
// a service, or -1 when it shows none.
func viewInstances(p *Publisher, name string) int {
	for _, v := range p.Services() {
		if v.Name == name {
			return len(v.Instances)
		}
	}
	return -1
}
