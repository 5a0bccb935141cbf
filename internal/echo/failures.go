package echo

import (
	"math"
	"sync"
)

// SetFailureRate has a deterministic fraction f of the UnaryCalls from now
// on fail with codes.Unavailable: counting calls from zero at this call,
// call n fails when floor((n+1)·f) > floor(n·f), so any run of calls fails
// f of them to within one. f is clamped to [0, 1]; 0 fails none. It is safe
// for concurrent use.
func (b *Backend) SetFailureRate(f float64) {
	b.service.failures.set(f)
}

// failures decides which calls fail.
type failures struct {
	mu   sync.Mutex
	rate float64
	n    uint64
}

// set starts counting calls afresh at rate f.
func (fs *failures) set(f float64) {
	if math.IsNaN(f) {
		f = 0
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.rate, fs.n = min(max(f, 0), 1), 0
}

// next counts a call and reports whether it fails.
func (fs *failures) next() bool {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.rate == 0 {
		return false
	}
	n := float64(fs.n)
	fs.n++
	return math.Floor((n+1)*fs.rate) > math.Floor(n*fs.rate)
}
