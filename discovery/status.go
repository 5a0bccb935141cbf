package discovery

import (
	"sync"
	"time"
)

// Status is a snapshot of the source's health, for readiness probes and
// status pages.
type Status struct {
	// Ready is true once the first complete model was sent. It stays true
	// when Consul fails later: the last model is still the best known state.
	Ready bool
	// LastSuccess is when Consul last answered a query.
	LastSuccess time.Time
	// LastError is the most recent failed query's error. It is kept after
	// Consul recovers; LastErrorAt before LastSuccess means it is over.
	LastError   string
	LastErrorAt time.Time
	// Failing counts the queries (watches, reads, the index sentinel)
	// whose last attempt failed: while it is above zero the model may be
	// missing Consul's latest changes. One query answering does not
	// clear another's failure.
	Failing int
	// Services and Instances count what the last sent model holds.
	Services  int
	Instances int
}

// statusTracker is the mutex-guarded Status that Status() copies.
type statusTracker struct {
	mu sync.Mutex
	s  Status
	// failing are the paths whose last query failed.
	failing map[string]struct{}
	// publishes counts sent models, so tests can tell that nothing was sent.
	publishes int
}

// get returns a copy of the current status.
func (t *statusTracker) get() Status {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.s
}

// succeeded records that Consul answered the query of path at now.
func (t *statusTracker) succeeded(path string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.s.LastSuccess = now
	t.forgetLocked(path)
}

// failed records a failed query of path at now.
func (t *statusTracker) failed(path string, err error, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.s.LastError = err.Error()
	t.s.LastErrorAt = now
	if t.failing == nil {
		t.failing = map[string]struct{}{}
	}
	t.failing[path] = struct{}{}
	t.s.Failing = len(t.failing)
}

// forget drops path's failure: its watch stopped (the service left, or
// another watch covers it).
func (t *statusTracker) forget(path string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.forgetLocked(path)
}

// forgetLocked is forget with mu held.
func (t *statusTracker) forgetLocked(path string) {
	delete(t.failing, path)
	t.s.Failing = len(t.failing)
}

// published records that m was sent.
func (t *statusTracker) published(m Model) {
	n := 0
	for _, svc := range m.Services {
		n += len(svc.Instances)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.publishes++
	t.s.Ready = true
	t.s.Services = len(m.Services)
	t.s.Instances = n
}

// publishCount returns how many models were sent.
func (t *statusTracker) publishCount() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.publishes
}
