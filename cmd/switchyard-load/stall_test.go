package main

import (
	"context"
	"testing"
	"time"
)

// TestStallSet checks that a stalled stream waits until released and the
// others do not wait at all.
func TestStallSet(t *testing.T) {
	s := newStallSet()
	s.stall([]int{3})
	if s.count() != 1 {
		t.Fatalf("count %d, want 1", s.count())
	}
	ctx := context.Background()
	if err := s.wait(ctx, 2); err != nil {
		t.Fatalf("healthy stream waited: %v", err)
	}
	released := make(chan error)
	go func() { released <- s.wait(ctx, 3) }()
	select {
	case err := <-released:
		t.Fatalf("stalled stream went on before release: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	s.release()
	select {
	case err := <-released:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("stalled stream still waiting after release")
	}
	if s.count() != 0 {
		t.Errorf("count %d after release, want 0", s.count())
	}
}

// TestChangeExclude checks that a change no longer waits for the stalled
// streams, and that one seen by every healthy stream is not missed.
func TestChangeExclude(t *testing.T) {
	c := newChange(0, "a", "a-0", "critical", 1, 3)
	c.exclude(1)
	c.seen[0].Store(c.start.Add(5 * time.Millisecond).UnixNano())
	c.left.Add(-1)
	c.seen[2].Store(c.start.Add(7 * time.Millisecond).UnixNano())
	if c.left.Add(-1) != 0 {
		t.Fatalf("left %d after both healthy streams, want 0", c.left.Load())
	}
	r := &report{}
	fillPropagation(r, []*change{c}, time.Second)
	if r.Missed != 0 || r.LastStream.Max != 7 {
		t.Errorf("missed %d, last stream %+v: want 0 missed, last after 7 ms", r.Missed, r.LastStream)
	}
	all := newChange(1, "b", "b-0", "critical", 1, 2)
	all.exclude(2)
	select {
	case <-all.done:
	default:
		t.Error("a change with every stream stalled is not done")
	}
}
