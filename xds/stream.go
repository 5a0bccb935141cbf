package xds

import (
	"sync"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
)

// stream is one xDS stream, state of the world or delta. Publishing marks
// what changed as pending and wakes the stream; the stream's own goroutine
// builds and sends the responses, from the resources in force when it
// does: a slow stream delays only itself, and its pending marks never
// outgrow the tables (latest state wins).
type stream struct {
	id   int64
	wake chan struct{}
	// moved is closed, once, when the stream must end because the state
	// that serves its node.cluster changed (see fleets.go).
	moved    chan struct{}
	moveOnce sync.Once

	mu      sync.Mutex
	pending [numTypes][]int32
	all     [numTypes]bool

	// The rest belongs to the stream's goroutine; the subscriptions' names
	// are also read by publishing, under the kind state's lock.
	node  *corev3.Node
	group Group
	state *kindState
	subs  [numTypes]*subscription
	nonce uint64
	// unanswered are the delta responses waiting for an ACK or NACK.
	unanswered map[string]deltaSent
	// slot is set while the stream holds a sync gate slot.
	slot *slot
	// track records the stream's exchanges for Server.Proxies.
	track *proxyTrack
	// acks records, with its own lock, what the client made of the route
	// configurations it was sent, for Server.RouteAcceptance.
	acks routeAcks
}

// newStream returns a stream with nothing subscribed.
func newStream(id int64) *stream {
	return &stream{id: id, wake: make(chan struct{}, 1), moved: make(chan struct{})}
}

// move ends the stream so that its client reconnects.
func (s *stream) move() {
	s.moveOnce.Do(func() { close(s.moved) })
}

// subscription is what one stream holds and wants of one type.
type subscription struct {
	wildcard bool
	names    bitset
	// pos is, by slot, the stream's position among the entry's
	// subscribers; meaningful for the slots in names, and read and written
	// only under the kind state's write lock.
	pos []int32
	// namesSum is the hash of the names of the last state-of-the-world
	// request, to see cheaply that the next one asks for the same.
	namesSum uint64
	// sent is, by slot, the generation of the entry the client holds; 0
	// for nothing.
	sent []uint32
	// answer is set when the client is owed a response even if nothing
	// changed: the first request of a listener or cluster subscription.
	answer bool
	// nonce and version are those of the last state-of-the-world response;
	// answered is the nonce of the last one the client answered.
	nonce    string
	version  string
	answered string
}

// subscribed reports whether the subscription covers a slot.
func (s *subscription) subscribed(slot int32) bool {
	return s.wildcard || s.names.has(slot)
}

// held returns the generation the client holds of a slot.
func (s *subscription) held(slot int32) uint32 {
	if int(slot) < len(s.sent) {
		return s.sent[slot]
	}
	return 0
}

// hold records the generation the client holds of a slot.
func (s *subscription) hold(slot int32, gen uint32) {
	if int(slot) >= len(s.sent) {
		if gen == 0 {
			return
		}
		s.sent = append(s.sent, make([]uint32, int(slot)+1-len(s.sent))...)
	}
	s.sent[slot] = gen
}

// setPos records the stream's position among a slot's subscribers.
func (s *subscription) setPos(slot, i int32) {
	if int(slot) >= len(s.pos) {
		s.pos = append(s.pos, make([]int32, int(slot)+1-len(s.pos))...)
	}
	s.pos[slot] = i
}

// sub returns the stream's subscription to a type, creating it.
func (s *stream) sub(t typeID) *subscription {
	if s.subs[t] == nil {
		s.subs[t] = &subscription{}
	}
	return s.subs[t]
}

// mark records that a slot of a type changed. When the marks outgrow the
// table they give way to one mark for the whole type, so that a stream
// that does not keep up holds bounded memory.
func (s *stream) mark(t typeID, slot int32, slots int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.all[t] {
		return
	}
	s.pending[t] = append(s.pending[t], slot)
	if len(s.pending[t]) > 2*slots+64 {
		s.all[t], s.pending[t] = true, nil
	}
}

// remark puts back slots a response had no room for.
func (s *stream) remark(t typeID, slots []int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.all[t] {
		s.pending[t] = append(s.pending[t], slots...)
	}
}

// markType records that anything of a type may have changed.
func (s *stream) markType(t typeID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.all[t], s.pending[t] = true, nil
}

// markAll records that anything may have changed.
func (s *stream) markAll() {
	for t := range numTypes {
		s.markType(t)
	}
}

// take returns and clears what is pending of a type.
func (s *stream) take(t typeID) ([]int32, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	slots, all := s.pending[t], s.all[t]
	s.pending[t], s.all[t] = nil, false
	return slots, all
}

// signal wakes the stream's goroutine without blocking: one wake-up covers
// any number of marks.
func (s *stream) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// bitset is a set of slots.
type bitset []uint64

// has reports whether slot is in the set.
func (b bitset) has(slot int32) bool {
	i := int(slot) / 64
	return i < len(b) && b[i]&(1<<(uint(slot)%64)) != 0
}

// set adds slot to the set, growing it.
func (b *bitset) set(slot int32) {
	i := int(slot) / 64
	if i >= len(*b) {
		*b = append(*b, make([]uint64, i+1-len(*b))...)
	}
	(*b)[i] |= 1 << (uint(slot) % 64)
}

// clear removes slot from the set.
func (b bitset) clear(slot int32) {
	if i := int(slot) / 64; i < len(b) {
		b[i] &^= 1 << (uint(slot) % 64)
	}
}
