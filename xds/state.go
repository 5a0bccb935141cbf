package xds

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"slices"
	"sync"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
)

// kindState is everything one kind of client is served: a table per type,
// which streams subscribe to what, and which resources reference which.
// Apply writes it under mu; streams read it under mu's read lock while they
// build a response, and write it when their subscriptions change.
type kindState struct {
	kind   Kind
	mu     sync.RWMutex
	tables [numTypes]*table
	// ready is set by the first update: until then nothing is sent.
	ready bool
	gen   uint32
	// refs are, by parent type, the children each parent references;
	// parents are, by child type, the parents that reference each child.
	refs    [numTypes]map[string][]string
	parents [numTypes]map[string]map[string]struct{}
	streams map[*stream]struct{}
}

// newKindState returns the empty state of one kind of client.
func newKindState(k Kind) *kindState {
	s := &kindState{kind: k, streams: map[*stream]struct{}{}}
	for t := range numTypes {
		s.tables[t] = newTable(t)
		s.refs[t] = map[string][]string{}
		s.parents[t] = map[string]map[string]struct{}{}
	}
	return s
}

// isReady reports whether the kind's first update is in force.
func (k *kindState) isReady() bool {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.ready
}

// bumped is an entry whose generation an update changed.
type bumped struct {
	typ typeID
	e   *entry
}

// apply applies encoded changes and type versions, and marks every stream
// that must hear of them. It returns the streams to wake. mu is held.
func (k *kindState) apply(enc []encoded, versions map[string]string) map[*stream]struct{} {
	var changed [numTypes]map[*entry]bool
	for t := range numTypes {
		changed[t] = map[*entry]bool{}
	}
	for _, c := range enc {
		if k.put(c) {
			changed[c.typ][k.tables[c.typ].get(c.name)] = true
			k.reference(c, &changed)
		}
	}
	var out []bumped
	for t := range numTypes {
		for e := range changed[t] {
			if k.revise(t, e) {
				out = append(out, bumped{typ: t, e: e})
			}
		}
	}
	for typeURL, v := range versions {
		if t, ok := typeOf(typeURL); ok {
			k.tables[t].version = v
		}
	}
	wake := k.fanOut(out)
	if !k.ready {
		k.ready = true
		for s := range k.streams {
			s.markAll()
			wake[s] = struct{}{}
		}
	}
	return wake
}

// put stores one change's resource and reports whether it differs from what
// the table held.
func (k *kindState) put(c encoded) bool {
	e := k.tables[c.typ].get(c.name)
	if c.any == nil {
		if !e.live() {
			return false
		}
		e.any, e.hash = nil, ""
		return true
	}
	if e.live() && e.hash == c.hash {
		return false
	}
	e.any, e.hash = c.any, c.hash
	return true
}

// reference records which children a changed cluster or listener
// references, and marks as changed every child it referenced before or
// references now: their version covers their parents'.
func (k *kindState) reference(c encoded, changed *[numTypes]map[*entry]bool) {
	child, ok := childType(c.typ)
	if !ok {
		return
	}
	old := k.refs[c.typ][c.name]
	if c.any == nil {
		delete(k.refs[c.typ], c.name)
	} else {
		k.refs[c.typ][c.name] = c.refs
	}
	parents := k.parents[child]
	for _, name := range old {
		delete(parents[name], c.name)
		if len(parents[name]) == 0 {
			delete(parents, name)
		}
		changed[child][k.tables[child].get(name)] = true
	}
	for _, name := range c.refs {
		if parents[name] == nil {
			parents[name] = map[string]struct{}{}
		}
		parents[name][c.name] = struct{}{}
		changed[child][k.tables[child].get(name)] = true
	}
}

// revise recomputes an entry's wire version and reports whether what a
// client must hold of it changed; if so it gets a new generation.
func (k *kindState) revise(t typeID, e *entry) bool {
	version := ""
	if e.live() {
		version = k.wireVersion(t, e)
	}
	if version == e.version {
		return false
	}
	e.version = version
	e.res = nil
	if e.live() {
		e.res = &discoveryv3.Resource{Name: e.name, Version: version, Resource: e.any}
	}
	k.gen++
	e.gen = k.gen
	return true
}

// wireVersion is an entry's version on the wire: 16 hex digits of a hash of
// its content hash and, for endpoints and routes, of the names and hashes of
// the clusters (listeners) that reference it. Envoy warms a changed cluster
// until its endpoints arrive, and a server sends a resource only when its
// version changes: without the parent in the version, a cluster change with
// unchanged endpoints would leave the cluster warming (FAILURE_MODES row 5).
// 64 bits tell versions of one resource apart and keep each delta resource
// short.
func (k *kindState) wireVersion(t typeID, e *entry) string {
	h := sha256.New()
	h.Write([]byte(e.hash))
	if parent, ok := t.parent(); ok {
		for _, p := range slices.Sorted(maps.Keys(k.parents[t][e.name])) {
			h.Write([]byte{0})
			h.Write([]byte(p))
			h.Write([]byte{0})
			if pe, ok := k.tables[parent].byName[p]; ok {
				h.Write([]byte(pe.hash))
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// fanOut marks every bumped entry pending on the streams subscribed to it,
// by wildcard or by name, and returns those streams. Its cost is the number
// of subscriptions to what changed, not the size of the catalog or fleet.
func (k *kindState) fanOut(out []bumped) map[*stream]struct{} {
	wake := map[*stream]struct{}{}
	for _, b := range out {
		tb := k.tables[b.typ]
		for s := range tb.wildcard {
			s.mark(b.typ, b.e.slot, tb.slots())
			wake[s] = struct{}{}
		}
		for _, s := range b.e.subs {
			s.mark(b.typ, b.e.slot, tb.slots())
			wake[s] = struct{}{}
		}
	}
	return wake
}

// sortedSet returns the keys of a set, sorted; nil when empty.
func sortedSet(m map[string]bool) []string {
	if len(m) == 0 {
		return nil
	}
	return slices.Sorted(maps.Keys(m))
}

// changed returns the changes that differ from what the kind holds, so
// that a whole snapshot published encodes only the changed resources.
func (k *kindState) changed(changes []Change) []Change {
	k.mu.RLock()
	defer k.mu.RUnlock()
	out := make([]Change, 0, len(changes))
	for _, c := range changes {
		t, ok := typeOf(c.TypeURL)
		if !ok {
			out = append(out, c)
			continue
		}
		e, held := k.tables[t].byName[c.Name]
		live := held && e.live()
		if c.Resource == nil && !live || c.Resource != nil && live && e.hash == c.Version {
			continue
		}
		out = append(out, c)
	}
	return out
}
