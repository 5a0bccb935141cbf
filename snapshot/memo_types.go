package snapshot

import (
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
)

// xdsTypes are the four types the builder makes, in publishing order, with
// their type URLs.
var xdsTypes = [...]struct {
	typ types.ResponseType
	url string
}{
	{types.Cluster, resourcev3.ClusterType},
	{types.Endpoint, resourcev3.EndpointType},
	{types.Listener, resourcev3.ListenerType},
	{types.Route, resourcev3.RouteType},
}

// numTypes sizes the per-type arrays: Cluster, Endpoint, Listener and
// Route are go-control-plane's first four response types.
const numTypes = types.Route + 1

// edits are the resources one rebuild takes out and puts in.
type edits struct {
	remove []builtResource
	put    []builtResource
}

// apply folds the edits into the types they touch, in place, and marks
// every name they touch as pending for the sink.
func (b *memoBuilder) apply(ed *edits) {
	if len(ed.put) > 1024 {
		b.reserve(ed.put)
	}
	for _, r := range ed.remove {
		t := &b.types[r.typ]
		t.digest.remove(r.digest)
		delete(t.items, r.name)
		b.sink.touch(r.typ, r.name)
	}
	for _, r := range ed.put {
		t := &b.types[r.typ]
		t.items[r.name] = r
		t.digest.add(r.digest)
		b.sink.touch(r.typ, r.name)
	}
}

// reserve sizes empty per-type maps for the resources about to be put, so
// that a first model does not grow them through every doubling.
func (b *memoBuilder) reserve(put []builtResource) {
	var n [numTypes]int
	for _, r := range put {
		n[r.typ]++
	}
	for typ := range numTypes {
		if len(b.types[typ].items) == 0 {
			b.types[typ].items = make(map[string]builtResource, n[typ])
		}
		if len(b.sink.dirty[typ]) == 0 {
			b.sink.dirty[typ] = make(map[string]struct{}, n[typ])
		}
	}
}

// summary returns the versions and counts of the builder's current state.
func (b *memoBuilder) summary() built {
	t := &b.types
	return built{
		versions: versionsFromDigests(t[types.Cluster].digest, t[types.Endpoint].digest, t[types.Listener].digest, t[types.Route].digest),
		warnings: b.warnings(), clusters: len(t[types.Cluster].items), endpoints: b.endpoints,
	}
}
