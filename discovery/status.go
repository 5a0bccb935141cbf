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
	// Services and Instances count what the last sent model holds.
	Services  int
	Instances int
}

// statusTracker is the mutex-guarded Status that Status() copies.
type statusTracker struct {
	mu sync.Mutex
	s  Status
	// publishes counts sent models, so tests can tell that nothing was sent.
	publishes int
}

// get returns a copy of the current status.
func (t *statusTracker) get() Status {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.s
}

// succeeded records a query Consul answered at now.
func (t *statusTracker) succeeded(now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.s.LastSuccess = now
}

// failed records a failed query at now.
func (t *statusTracker) failed(err error, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.s.LastError = err.Error()
	t.s.LastErrorAt = now
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
