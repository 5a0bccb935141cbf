package snapshot

import "time"

// debouncer coalesces a burst of events: it fires once the events have been
// quiet for the quiet period, and at the latest maxDelay after the first
// event of the burst, so a steady stream of changes cannot starve publishing.
type debouncer struct {
	quiet, maxDelay time.Duration
	timer           *time.Timer
	first, last     time.Time
}

// newDebouncer returns a stopped debouncer.
func newDebouncer(quiet, maxDelay time.Duration) *debouncer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &debouncer{quiet: quiet, maxDelay: maxDelay, timer: t}
}

// event records an event at now and re-arms the timer.
func (d *debouncer) event(now time.Time) {
	if d.first.IsZero() {
		d.first = now
	}
	d.last = now
	fire := min(d.last.Add(d.quiet).Sub(now), d.first.Add(d.maxDelay).Sub(now))
	d.timer.Reset(max(fire, 0))
}

// fired resets the burst once the timer has fired.
func (d *debouncer) fired() {
	d.first, d.last = time.Time{}, time.Time{}
}

// C is the channel the debouncer fires on.
func (d *debouncer) C() <-chan time.Time {
	return d.timer.C
}

// stop releases the timer.
func (d *debouncer) stop() {
	d.timer.Stop()
}
