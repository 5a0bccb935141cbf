package xds

import (
	"context"
	"sync/atomic"
	"time"
)

// bulkMarks is how many pending resources of one type make a flush a bulk
// sync: a first sync or a resubscription, as opposed to a change.
const bulkMarks = 64

// syncGate bounds how many streams are in a bulk sync at once. A stream
// takes a slot before it sends a bulk sync and gives it back once its
// client has answered everything sent, or after hold. A fleet that
// (re)connects at once — after a restart of Switchyard — would otherwise
// have every stream's first sync, about 600 kB each at 1,000 services, in
// the kernel's socket buffers together: at 10,000 streams that is past
// the kernel's TCP memory, which then drops segments until connections
// time out. With the gate, the data in flight is bounded by the slots and
// the fleet syncs in waves, each as fast as its clients read.
type syncGate struct {
	slots chan struct{}
	hold  time.Duration
}

// newSyncGate returns a gate of n slots.
func newSyncGate(n int, hold time.Duration) *syncGate {
	return &syncGate{slots: make(chan struct{}, n), hold: hold}
}

// slot is one stream's hold on a gate slot. The hold timer gives it back
// on its own goroutine, since the stream's goroutine may be blocked sending
// to a client that does not read.
type slot struct {
	released atomic.Bool
	timer    *time.Timer
}

// enter takes a slot for a stream about to send a bulk sync, waiting for
// one to be free; it returns false if ctx or done ends first.
func (g *syncGate) enter(ctx context.Context, done <-chan struct{}, st *stream) bool {
	if st.slot != nil || !st.bulk() {
		return true
	}
	select {
	case g.slots <- struct{}{}:
	case <-ctx.Done():
		return false
	case <-done:
		return false
	}
	sl := &slot{}
	sl.timer = time.AfterFunc(g.hold, func() { g.release(sl) })
	st.slot = sl
	return true
}

// leave gives a stream's slot back once its client has answered
// everything sent and nothing bulk is pending, or at once when force is
// set (the stream ends).
func (g *syncGate) leave(st *stream, force bool) {
	if st.slot == nil || !force && (st.bulk() || st.unacknowledged()) {
		return
	}
	st.slot.timer.Stop()
	g.release(st.slot)
	st.slot = nil
}

// release gives a slot back, once however often it is called.
func (g *syncGate) release(sl *slot) {
	if sl.released.CompareAndSwap(false, true) {
		<-g.slots
	}
}

// bulk reports whether the stream has a bulk sync pending; nothing is
// before its kind's first update.
func (st *stream) bulk() bool {
	if st.state == nil || !st.state.isReady() {
		return false
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	for t, sub := range st.subs {
		if sub != nil && (st.all[t] || len(st.pending[t]) > bulkMarks) {
			return true
		}
	}
	return false
}

// unacknowledged reports whether the client has yet to answer a response.
func (st *stream) unacknowledged() bool {
	if len(st.unanswered) > 0 {
		return true
	}
	for _, sub := range st.subs {
		if sub != nil && sub.nonce != sub.answered {
			return true
		}
	}
	return false
}
