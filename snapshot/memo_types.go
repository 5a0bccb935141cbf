package snapshot

import (
	"encoding/hex"
	"maps"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
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
				t.hashes = cloneItems(t.hashes, puts[r.typ])
			}
		}
	}
	for _, r := range ch.remove {
		t := &b.types[r.typ]
		t.digest.remove(r.digest)
		delete(t.items, r.name)
		delete(t.hashes, r.name)
	}
	for _, r := range ch.put {
		t := &b.types[r.typ]
		t.items[r.name] = types.ResourceWithTTL{Resource: r.res}
		t.hashes[r.name] = hex.EncodeToString(r.digest[:])
		t.digest.add(r.digest)
	}
}

// cloneItems copies a map of a type's items (or their hashes), or makes one
// with room for n entries when there is none yet.
func cloneItems[V any](items map[string]V, n int) map[string]V {
	if items == nil {
		return make(map[string]V, n)
	}
	return maps.Clone(items)
}

// snapshot wraps the current state of every type in a snapshot. The maps
// are shared with the builder, which never writes to them again.
func (b *memoBuilder) snapshot() built {
	t := &b.types
	v := versionsFromDigests(t[types.Cluster].digest, t[types.Endpoint].digest, t[types.Listener].digest, t[types.Route].digest)
	// VersionMap carries each resource's plain content hash, exactly what
	// Snapshot.ConstructVersionMap would compute, so that nobody downstream
	// (the xds package's delta versions) marshals and hashes every resource
	// again on each publish.
	snap := &cachev3.Snapshot{VersionMap: map[string]map[string]string{}}
	for _, k := range []struct {
		typ     types.ResponseType
		url     string
		version string
	}{
		{types.Cluster, resourcev3.ClusterType, v.Clusters},
		{types.Endpoint, resourcev3.EndpointType, v.Endpoints},
		{types.Listener, resourcev3.ListenerType, v.Listeners},
		{types.Route, resourcev3.RouteType, v.Routes},
	} {
		items, hashes := t[k.typ].items, t[k.typ].hashes
		if items == nil {
			items, hashes = map[string]types.ResourceWithTTL{}, map[string]string{}
		}
		snap.Resources[k.typ] = cachev3.Resources{Version: k.version, Items: items}
		snap.VersionMap[k.url] = hashes
	}
	return built{
		snap: snap, versions: v, warnings: b.shared.warnings,
		clusters: len(t[types.Cluster].items), endpoints: b.endpoints,
	}
}
