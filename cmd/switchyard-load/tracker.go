package main

import (
	"sync"
	"sync/atomic"
	"time"
)

// change is one single-endpoint change made in Consul and the moment each
// stream received an endpoint assignment reflecting it.
type change struct {
	id       int
	service  string
	instance string
	status   string
	// s and i index the flipped instance (service, instance) for churn.
	s, i int
	// want is the endpoint count of the service once the change is in.
	want int
	// start is when the Consul write began.
	start time.Time
	// seen holds, per stream, the Unix nanoseconds of the first receipt
	// reflecting the change; 0 while not yet seen.
	seen []atomic.Int64
	// expected is how many streams must see the change: all but the
	// stalled ones.
	expected int
	left     atomic.Int64
	done     chan struct{}
	// untracked is closed once the tracker stops following the change:
	// every stream saw it or its wait timed out.
	untracked chan struct{}
	// size is the size of the first endpoint assignment that carried the
	// change: the changed resource.
	size atomic.Int64
}

// newChange prepares a change whose write starts now.
func newChange(id int, service, instance, status string, want, streams int) *change {
	c := &change{
		id: id, service: service, instance: instance, status: status, want: want,
		start: time.Now(), seen: make([]atomic.Int64, streams), expected: streams, done: make(chan struct{}),
		untracked: make(chan struct{}),
	}
	c.left.Store(int64(streams))
	if streams == 0 {
		close(c.done)
	}
	return c
}

// exclude stops waiting for n streams, the stalled ones; it is called
// before the change is tracked.
func (c *change) exclude(n int) {
	if n <= 0 || c.expected == 0 {
		return
	}
	n = min(n, c.expected)
	c.expected -= n
	if c.left.Add(-int64(n)) == 0 {
		close(c.done)
	}
}

// latencies returns, for the streams that saw the change, the time from the
// start of the Consul write to the receipt.
func (c *change) latencies() []time.Duration {
	out := make([]time.Duration, 0, len(c.seen))
	for i := range c.seen {
		if ns := c.seen[i].Load(); ns != 0 {
			out = append(out, time.Unix(0, ns).Sub(c.start))
		}
	}
	return out
}

// tracker matches the endpoint assignments the streams receive against the
// changes in flight, one per service at most.
type tracker struct {
	mu      sync.RWMutex
	pending map[string]*change
	// inflight lets every stream skip all lookups while nothing is pending.
	inflight atomic.Int64
}

func newTracker() *tracker {
	return &tracker{pending: map[string]*change{}}
}

// add starts tracking c. It returns the change already in flight on the same
// service, if any, and then does not add c.
func (t *tracker) add(c *change) *change {
	t.mu.Lock()
	defer t.mu.Unlock()
	if prev, ok := t.pending[c.service]; ok {
		return prev
	}
	t.pending[c.service] = c
	t.inflight.Add(1)
	return nil
}

// remove stops tracking c.
func (t *tracker) remove(c *change) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.pending[c.service] == c {
		delete(t.pending, c.service)
		t.inflight.Add(-1)
		close(c.untracked)
	}
}

// active reports whether any change is in flight.
func (t *tracker) active() bool {
	return t.inflight.Load() > 0
}

// observe records that stream received service's endpoint assignment, of
// size bytes, with endpoints endpoints at the time at.
func (t *tracker) observe(stream int, service string, endpoints, size int, at time.Time) {
	t.mu.RLock()
	c := t.pending[service]
	t.mu.RUnlock()
	if c == nil || endpoints != c.want || stream >= len(c.seen) {
		return
	}
	c.size.CompareAndSwap(0, int64(size))
	if c.seen[stream].CompareAndSwap(0, at.UnixNano()) && c.left.Add(-1) == 0 {
		close(c.done)
	}
}

// watching reports whether service has a change in flight.
func (t *tracker) watching(service string) bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	_, ok := t.pending[service]
	return ok
}
