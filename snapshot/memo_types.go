package snapshot

import (
	"maps"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
)

// changes are the resources one rebuild takes out and puts in.
type changes struct {
	remove []builtResource
	put    []builtResource
}

// apply folds the changes into the types they touch. A touched type gets a
// fresh items map; an untouched one keeps the map earlier snapshots share.
func (b *memoBuilder) apply(ch *changes) {
	var puts [types.UnknownType]int
	for _, r := range ch.put {
		puts[r.typ]++
	}
	var touched [types.UnknownType]bool
	for _, list := range [][]builtResource{ch.remove, ch.put} {
		for _, r := range list {
			if !touched[r.typ] {
				touched[r.typ] = true
				t := &b.types[r.typ]
				t.items = cloneItems(t.items, puts[r.typ])
			}
		}
	}
	for _, r := range ch.remove {
		t := &b.types[r.typ]
		t.digest.remove(r.digest)
		delete(t.items, r.name)
	}
	for _, r := range ch.put {
		t := &b.types[r.typ]
		t.items[r.name] = types.ResourceWithTTL{Resource: r.res}
		t.digest.add(r.digest)
	}
}

// cloneItems copies an items map, or makes one with room for n entries
// when there is none yet.
func cloneItems(items map[string]types.ResourceWithTTL, n int) map[string]types.ResourceWithTTL {
	if items == nil {
		return make(map[string]types.ResourceWithTTL, n)
	}
	return maps.Clone(items)
}

// snapshot wraps the current state of every type in a snapshot. The maps
// are shared with the builder, which never writes to them again.
func (b *memoBuilder) snapshot() built {
	t := &b.types
	v := versionsFromDigests(t[types.Cluster].digest, t[types.Endpoint].digest, t[types.Listener].digest, t[types.Route].digest)
	snap := &cachev3.Snapshot{}
	for typ, version := range map[types.ResponseType]string{
		types.Cluster: v.Clusters, types.Endpoint: v.Endpoints,
		types.Listener: v.Listeners, types.Route: v.Routes,
	} {
		items := t[typ].items
		if items == nil {
			items = map[string]types.ResourceWithTTL{}
		}
		snap.Resources[typ] = cachev3.Resources{Version: version, Items: items}
	}
	return built{
		snap: snap, versions: v, warnings: b.shared.warnings,
		clusters: len(t[types.Cluster].items), endpoints: b.endpoints,
	}
}
