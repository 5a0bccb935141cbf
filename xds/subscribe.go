package xds

import (
	"errors"
	"math"
)

// staleGen is what a client holds of a resource when its version is not
// the current one: the resource is sent again, or its removal.
const staleGen = math.MaxUint32

// change is one change of a stream's subscription to a type.
type change struct {
	typ typeID
	// wildcard, when set, says whether the stream now takes every resource
	// of the type.
	wildcard *bool
	add      []string
	remove   []string
	// names, when set, is the whole explicit subscription, as a
	// state-of-the-world request carries it: names subscribed before and
	// missing from it are removed.
	names []string
	// initial are the versions of the resources the client already holds,
	// by name, as a reconnecting delta client declares them.
	initial map[string]string
	// reset forgets what the client holds of the type: a new
	// state-of-the-world subscription starts from nothing.
	reset bool
	// answer asks for a response even if nothing is sent.
	answer bool
}

// register adds a stream to the kind's streams.
func (k *kindState) register(s *stream) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.streams[s] = struct{}{}
}

// unregister removes a stream and every subscription it holds.
func (k *kindState) unregister(s *stream) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.streams, s)
	for t, sub := range s.subs {
		if sub == nil {
			continue
		}
		tb := k.tables[t]
		delete(tb.wildcard, s)
		for slot := range sub.names.slots() {
			tb.dropSubscriber(tb.bySlot[slot], sub)
		}
	}
}

// resubscribe applies one change of a stream's subscription and marks
// pending whatever it must now be sent.
func (k *kindState) resubscribe(s *stream, c change) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	tb := k.tables[c.typ]
	sub := s.sub(c.typ)
	if c.reset {
		clear(sub.sent)
		s.markType(c.typ)
		if c.typ == typeRoute {
			s.acks.reset()
		}
	}
	sub.answer = sub.answer || c.answer
	if c.wildcard != nil && *c.wildcard != sub.wildcard {
		k.setWildcard(s, sub, tb, *c.wildcard)
	}
	var errs []error
	for _, name := range c.remove {
		k.unsubscribe(s, sub, tb, name)
	}
	for _, name := range c.add {
		if err := k.subscribe(s, sub, tb, name); err != nil {
			errs = append(errs, err)
		}
	}
	if c.names != nil {
		errs = append(errs, k.replaceNames(s, sub, tb, c.names))
	}
	for name, v := range c.initial {
		k.declare(s, sub, tb, name, v)
	}
	return errors.Join(errs...)
}

// replaceNames makes names the stream's whole explicit subscription to a
// type.
func (k *kindState) replaceNames(s *stream, sub *subscription, tb *table, names []string) error {
	var want bitset
	var errs []error
	for _, name := range names {
		if err := k.subscribe(s, sub, tb, name); err != nil {
			errs = append(errs, err)
			continue
		}
		want.set(tb.byName[name].slot)
	}
	for slot := range sub.names.slots() {
		if !want.has(slot) {
			k.unsubscribe(s, sub, tb, tb.bySlot[slot].name)
		}
	}
	return errors.Join(errs...)
}

// setWildcard subscribes the stream to every resource of a type, or no
// longer. What it held only through the wildcard it is taken to forget.
func (k *kindState) setWildcard(s *stream, sub *subscription, tb *table, on bool) {
	sub.wildcard = on
	if on {
		tb.wildcard[s] = struct{}{}
	} else {
		delete(tb.wildcard, s)
		for slot := range sub.sent {
			if !sub.names.has(int32(slot)) {
				sub.sent[slot] = 0
			}
		}
		if tb.typ == typeRoute {
			s.acks.retain(func(name string) bool {
				e, ok := tb.byName[name]
				return ok && sub.names.has(e.slot)
			})
		}
	}
	s.markType(tb.typ)
}

// subscribe adds one name to a stream's subscription.
func (k *kindState) subscribe(s *stream, sub *subscription, tb *table, name string) error {
	e, err := tb.lookup(name)
	if err != nil {
		return err
	}
	if sub.names.has(e.slot) {
		return nil
	}
	sub.names.set(e.slot)
	sub.setPos(e.slot, int32(len(e.subs)))
	e.subs = append(e.subs, s)
	s.mark(tb.typ, e.slot, tb.slots())
	return nil
}

// unsubscribe removes one name from a stream's subscription; the client
// forgets what it held of it.
func (k *kindState) unsubscribe(s *stream, sub *subscription, tb *table, name string) {
	e, ok := tb.byName[name]
	if !ok || !sub.names.has(e.slot) {
		return
	}
	tb.dropSubscriber(e, sub)
	sub.names.clear(e.slot)
	if !sub.wildcard {
		sub.hold(e.slot, 0)
		if tb.typ == typeRoute {
			s.acks.forget(name)
		}
	}
}

// dropSubscriber removes a subscription's stream from an entry's
// subscribers, moving the last subscriber into its place.
func (tb *table) dropSubscriber(e *entry, sub *subscription) {
	i := sub.pos[e.slot]
	last := e.subs[len(e.subs)-1]
	e.subs[i] = last
	last.subs[tb.typ].pos[e.slot] = i
	e.subs[len(e.subs)-1] = nil
	e.subs = e.subs[:len(e.subs)-1]
}

// declare records the version a reconnecting client holds of a resource.
// It is current when it is the version on the wire now and, for endpoints
// and routes, the client holds the current version of every cluster
// (listener) that references it; anything else is sent again, or removed.
func (k *kindState) declare(s *stream, sub *subscription, tb *table, name, version string) {
	e, err := tb.lookup(name)
	if err != nil {
		return
	}
	gen := uint32(staleGen)
	if e.live() && e.version == version && k.parentsHeld(s, tb.typ, name) {
		gen = e.gen
		if tb.typ == typeRoute {
			s.acks.declared(name, e.hash)
		}
	}
	sub.hold(e.slot, gen)
	s.mark(tb.typ, e.slot, tb.slots())
}

// parentsHeld reports whether a stream holds the current version of every
// parent of a resource.
func (k *kindState) parentsHeld(s *stream, t typeID, name string) bool {
	parent, ok := t.parent()
	if !ok {
		return true
	}
	psub := s.subs[parent]
	for p := range k.parents[t][name] {
		pe := k.tables[parent].byName[p]
		if psub == nil || pe == nil || psub.held(pe.slot) != pe.gen {
			return false
		}
	}
	return true
}

// slots yields the slots in the set.
func (b bitset) slots() func(func(int32) bool) {
	return func(yield func(int32) bool) {
		for i, w := range b {
			for bit := 0; w != 0; bit++ {
				if w&1 != 0 && !yield(int32(i*64+bit)) {
					return
				}
				w >>= 1
			}
		}
	}
}
