package snapshot

import (
	"encoding/hex"
	"maps"
	"slices"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"

	"github.com/switchyard/switchyard/discovery"
)

// sinkState is what the sink holds of one flavour, as digests, and which
// names may have changed since. A rebuild that is rejected, or whose
// publish the sink refuses, leaves its names pending, so the next accepted
// publish still carries every change since the last accepted one.
type sinkState struct {
	// sent are the digests of the resources the sink accepted, by type and
	// name.
	sent [numTypes]map[string]resourceDigest
	// dirty are the names, by type, whose resources may differ from sent.
	dirty [numTypes]map[string]struct{}
	// all is set when any name may differ from sent: after a model built
	// the reference way, whose resources are not the builder's.
	all bool
	// ref holds the resources of the last model while it was built the
	// reference way; nil when the builder's own state is current.
	ref *[numTypes]map[string]builtResource
}

// init makes the empty maps.
func (s *sinkState) init() {
	for typ := range s.sent {
		s.sent[typ] = map[string]resourceDigest{}
		s.dirty[typ] = map[string]struct{}{}
	}
}

// touch notes that a resource may have changed.
func (s *sinkState) touch(typ types.ResponseType, name string) {
	s.dirty[typ][name] = struct{}{}
}

// reference builds a model with Translate and Build, for the models the
// builder cannot follow, and holds the result as the current state.
func (s *sinkState) reference(m discovery.Model, opts Options) (built, error) {
	s.all, s.ref = true, nil
	res, out, err := buildReference(m, opts)
	if err != nil {
		return built{}, err
	}
	var ref [numTypes]map[string]builtResource
	for i, list := range [][]types.Resource{res.Clusters, res.Endpoints, res.Listeners, res.Routes} {
		typ := xdsTypes[i].typ
		ref[typ] = make(map[string]builtResource, len(list))
		for _, r := range list {
			// Build validated and digested every resource already. A name
			// given twice keeps its last resource, as a snapshot's item map
			// does.
			br, err := buildResource(typ, r)
			if err != nil {
				return built{}, err
			}
			ref[typ][br.name] = br
		}
	}
	s.ref = &ref
	return out, nil
}

// current returns a type's resources as the last rebuild left them.
func (b *memoBuilder) current(typ types.ResponseType) map[string]builtResource {
	if b.sink.ref != nil {
		return b.sink.ref[typ]
	}
	return b.types[typ].items
}

// changes returns every resource that differs from what the sink accepted
// last, in type order and by name within a type. It does not change what
// the builder holds as sent: accept does, once the sink took them.
func (b *memoBuilder) changes() []Change {
	s := &b.sink
	n := 0
	for _, t := range xdsTypes {
		n += len(s.dirty[t.typ])
	}
	out := make([]Change, 0, n)
	for _, t := range xdsTypes {
		cur, sent := b.current(t.typ), s.sent[t.typ]
		var names []string
		if s.all {
			names = slices.AppendSeq(slices.Collect(maps.Keys(cur)), maps.Keys(sent))
			slices.Sort(names)
			names = slices.Compact(names)
		} else {
			names = slices.Sorted(maps.Keys(s.dirty[t.typ]))
		}
		for _, name := range names {
			r, ok := cur[name]
			d, had := sent[name]
			switch {
			case ok && (!had || d != r.digest):
				out = append(out, Change{TypeURL: t.url, Name: name, Hash: hex.EncodeToString(r.digest[:]), Resource: r.res})
			case !ok && had:
				out = append(out, Change{TypeURL: t.url, Name: name})
			}
		}
	}
	return out
}

// accept records that the sink took every change since the last accepted
// publish, as changes returned them.
func (b *memoBuilder) accept(changes []Change) {
	s := &b.sink
	for _, c := range changes {
		typ := typeOfURL(c.TypeURL)
		if c.Resource == nil {
			delete(s.sent[typ], c.Name)
			continue
		}
		s.sent[typ][c.Name] = b.current(typ)[c.Name].digest
	}
	for typ := range s.dirty {
		// A fresh map, not clear: iterating a cleared map still walks all
		// the room the first, full publish gave it.
		s.dirty[typ] = map[string]struct{}{}
	}
	// After a reference build, the builder's own state, which the next
	// model is diffed against, is not what the sink holds.
	s.all = s.ref != nil
}

// typeOfURL returns the response type of one of the four type URLs.
func typeOfURL(url string) types.ResponseType {
	for _, t := range xdsTypes {
		if t.url == url {
			return t.typ
		}
	}
	return types.UnknownType
}

// hold keeps removals the sink was not given pending for the next publish.
func (b *memoBuilder) hold(removals []Change) {
	for _, c := range removals {
		b.sink.dirty[typeOfURL(c.TypeURL)][c.Name] = struct{}{}
	}
}
