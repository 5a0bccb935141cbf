package xds

import (
	"strconv"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/protobuf/types/known/anypb"
)

// delta is what a stream must be sent of one type: the entries whose
// current generation the client does not hold, and the names it holds
// that are gone or no longer subscribed.
type delta struct {
	put     []*entry
	removed []string
}

// maxResponseBytes bounds the resources of one response that may be split:
// a big first sync goes out in several responses, each small enough for
// gRPC's pooled 32 KiB buffers, so a fleet syncing at once does not pin a
// large buffer per stream, and Send's flow control paces each stream.
const maxResponseBytes = 30 << 10

// diff works out, under the kind state's read lock, what the stream must be
// sent of a type, and records it as held. It looks only at the pending
// slots, or at every slot when the whole type is pending. Past
// maxResponseBytes it stops, leaves the rest pending and wakes the stream
// to send it next.
func (s *stream) diff(t typeID, sub *subscription) delta {
	slots, all := s.take(t)
	tb := s.state.tables[t]
	var d delta
	size := 0
	visit := func(slot int32) bool {
		e := tb.bySlot[slot]
		want := uint32(0)
		if e.live() && sub.subscribed(slot) {
			want = e.gen
		}
		held := sub.held(slot)
		if held == want {
			return true
		}
		if want != 0 {
			n := len(e.any.GetValue()) + len(e.name) + len(e.version)
			if size > 0 && size+n > maxResponseBytes {
				return false
			}
			size += n
			d.put = append(d.put, e)
		} else if held != 0 {
			size += len(e.name)
			d.removed = append(d.removed, e.name)
		}
		sub.hold(slot, want)
		return true
	}
	if all {
		for slot := range tb.slots() {
			if !visit(int32(slot)) {
				s.markType(t)
				s.signal()
				break
			}
		}
		return d
	}
	for i, slot := range slots {
		if !visit(slot) {
			s.remark(t, slots[i:])
			s.signal()
			break
		}
	}
	return d
}

// owed works out, under the kind state's read lock, what a stream is owed
// of one type and hands it to build, which runs under the same lock; nil
// when the stream does not subscribe to the type, nothing is in force yet,
// or nothing is owed.
func owed[R any](s *stream, t typeID, build func(sub *subscription, d delta) *R) *R {
	sub := s.subs[t]
	if sub == nil {
		return nil
	}
	k := s.state
	k.mu.RLock()
	defer k.mu.RUnlock()
	if !k.ready {
		return nil
	}
	d := s.diff(t, sub)
	if len(d.put) == 0 && len(d.removed) == 0 && !sub.answer {
		return nil
	}
	sub.answer = false
	return build(sub, d)
}

// sotwResponse returns the state-of-the-world response a stream is owed of
// one type, nil if none. Listeners and clusters are sent whole whenever
// any of them changes; endpoints and routes one changed resource at a time.
// The resources are the entries' shared encodings: nothing is encoded here.
func (s *stream) sotwResponse(t typeID) *discoveryv3.DiscoveryResponse {
	return owed(s, t, func(sub *subscription, d delta) *discoveryv3.DiscoveryResponse {
		var resources []*anypb.Any
		if t.fullState() {
			resources = s.wholeType(t, sub)
		} else {
			// A removal is sent as a response without the resource: the
			// client keeps what it holds of the others, and its version
			// moves on.
			resources = make([]*anypb.Any, 0, len(d.put))
			for _, e := range d.put {
				resources = append(resources, e.any)
			}
		}
		sub.nonce, sub.version = s.nextNonce(), s.state.tables[t].version
		if t == typeRoute {
			s.acks.sent(sub.nonce, d)
		}
		return &discoveryv3.DiscoveryResponse{
			VersionInfo: sub.version,
			Resources:   resources,
			TypeUrl:     typeURLs[t],
			Nonce:       sub.nonce,
		}
	})
}

// wholeType returns every live resource of a type the stream subscribes
// to, and records them as held.
func (s *stream) wholeType(t typeID, sub *subscription) []*anypb.Any {
	tb := s.state.tables[t]
	var out []*anypb.Any
	add := func(e *entry) {
		if e.live() {
			out = append(out, e.any)
			sub.hold(e.slot, e.gen)
		}
	}
	if sub.wildcard {
		for _, e := range tb.bySlot {
			add(e)
		}
		return out
	}
	for slot := range sub.names.slots() {
		add(tb.bySlot[slot])
	}
	return out
}

// deltaResponse returns the delta response a stream is owed of one type,
// nil if none.
func (s *stream) deltaResponse(t typeID) *discoveryv3.DeltaDiscoveryResponse {
	return owed(s, t, func(_ *subscription, d delta) *discoveryv3.DeltaDiscoveryResponse {
		resources := make([]*discoveryv3.Resource, 0, len(d.put))
		for _, e := range d.put {
			resources = append(resources, e.res)
		}
		nonce := s.nextNonce()
		if t == typeRoute {
			s.acks.sent(nonce, d)
		}
		return &discoveryv3.DeltaDiscoveryResponse{
			SystemVersionInfo: s.state.tables[t].version,
			Resources:         resources,
			RemovedResources:  d.removed,
			TypeUrl:           typeURLs[t],
			Nonce:             nonce,
		}
	})
}

// nextNonce returns the stream's next nonce.
func (s *stream) nextNonce() string {
	s.nonce++
	return strconv.FormatUint(s.nonce, 10)
}
