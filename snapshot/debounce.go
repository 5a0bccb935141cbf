package snapshot

import "time"

// debouncer coalesces bursts of events. An event that comes after a quiet
// period fires at once, so a lone change costs no delay; the events that
// follow within the quiet period make a burst, which fires once the events
// have been quiet for the quiet period, and at the latest maxDelay after
// the burst's first event, so a steady stream of changes cannot starve
// publishing.
type debouncer struct {
	quiet, maxDelay time.Duration
	timer           *time.Timer
	first           time.Time
	lastFired       time.Time
}

// newDebouncer returns a stopped debouncer.
func newDebouncer(quiet, maxDelay time.Duration) *debouncer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &debouncer{quiet: quiet, maxDelay: maxDelay, timer: t}
}

// event records an event and arms the timer: at once after a quiet period,
// else quiet from now but never past maxDelay after the burst's first event.
func (d *debouncer) event() {
	now := time.Now()
	if d.first.IsZero() {
		d.first = now
		if now.Sub(d.lastFired) >= d.quiet {
			d.timer.Reset(0)
			return
		}
	}
	d.timer.Reset(max(min(d.quiet, d.first.Add(d.maxDelay).Sub(now)), 0))
}

// fired ends the burst once the timer has fired.
func (d *debouncer) fired() {
	d.first = time.Time{}
	d.lastFired = time.Now()
}

// C is the channel the debouncer fires on.
func (d *debouncer) C() <-chan time.Time {
	return d.timer.C
}

// stop releases the timer.
func (d *debouncer) stop() {
	d.timer.Stop()
}
