package snapshot

import "time"

// debouncer coalesces a burst of events: it fires once the events have been
// quiet for the quiet period, and at the latest maxDelay after the first
// event of the burst, so a steady stream of changes cannot starve publishing.
type debouncer struct {
	quiet, maxDelay time.Duration
	timer           *time.Timer
	first           time.Time
}

// newDebouncer returns a stopped debouncer.
func newDebouncer(quiet, maxDelay time.Duration) *debouncer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &debouncer{quiet: quiet, maxDelay: maxDelay, timer: t}
}

// event records an event and re-arms the timer: quiet from now, but never
// past maxDelay after the burst's first event.
func (d *debouncer) event() {
	now := time.Now()
	if d.first.IsZero() {
		d.first = now
	}
	d.timer.Reset(max(min(d.quiet, d.first.Add(d.maxDelay).Sub(now)), 0))
}

// fired ends the burst once the timer has fired.
func (d *debouncer) fired() {
	d.first = time.Time{}
}

// C is the channel the debouncer fires on.
func (d *debouncer) C() <-chan time.Time {
	return d.timer.C
}

// stop releases the timer.
func (d *debouncer) stop() {
	d.timer.Stop()
}
