package xds

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
)

// parentType returns the type of the resources that reference resources of
// typ by name: clusters reference their endpoint assignments, listeners
// their route configurations.
func parentType(typ string) (string, bool) {
	switch typ {
	case resourcev3.EndpointType:
		return resourcev3.ClusterType, true
	case resourcev3.RouteType:
		return resourcev3.ListenerType, true
	default:
		return "", false
	}
}

// versionTable holds the per-resource versions of one published snapshot:
// the version map the delta server compares, each resource's plain content
// hash, which go-control-plane puts on the wire as the resource's version,
// and, per child type, the parents that reference each child.
type versionTable struct {
	combined map[string]map[string]string
	plain    map[string]map[string]string
	parents  map[string]map[string][]string
}

// withVersionMap returns a shallow copy of snap with the per-resource
// versions that delta xDS compares filled in, and their table. go-control-plane
// would hash each resource's deterministic encoding itself
// (Snapshot.ConstructVersionMap); this starts from the same hashes (taken
// from snap.VersionMap when the builder provided them), and the version of an
// endpoint assignment (a route configuration) also covers the clusters
// (listeners) that reference it. Envoy warms a changed cluster until
// endpoints for it arrive, but a delta server sends only resources whose
// version differs from what the stream has: without the parent in the
// version, a cluster change with unchanged endpoints would leave the cluster
// warming (FAILURE_MODES row 5). The copy keeps the caller's snapshot
// untouched and is computed once per publish, not lazily under the cache's
// lock.
func withVersionMap(snap *cachev3.Snapshot) (*cachev3.Snapshot, *versionTable, error) {
	t := &versionTable{
		combined: map[string]map[string]string{},
		plain:    map[string]map[string]string{},
		parents:  map[string]map[string][]string{},
	}
	for _, typ := range []string{resourcev3.ClusterType, resourcev3.ListenerType, resourcev3.EndpointType, resourcev3.RouteType} {
		v, err := plainVersions(snap, typ)
		if err != nil {
			return nil, nil, fmt.Errorf("version map of %s: %w", shortType(typ), err)
		}
		t.plain[typ] = v
	}
	for typ, versions := range t.plain {
		parent, ok := parentType(typ)
		if !ok {
			t.combined[typ] = versions
			continue
		}
		t.parents[typ] = referrers(snap.GetResources(parent), typ)
		t.combined[typ] = withParents(versions, t.parents[typ], t.plain[parent])
	}
	out := *snap
	out.VersionMap = t.combined
	return &out, t, nil
}

// resumeVersions translates the initial_resource_versions a reconnecting
// client sends for a child type (EDS, RDS) into the versions the delta
// server compares. The client knows only the plain content hashes that were
// on the wire; a resource whose bytes and whose parents' versions (as the
// client declared them on the same stream) are all current is taken as
// current, anything else keeps a version that differs, so it is sent again.
func (t *versionTable) resumeVersions(typ string, initial, parentInitial map[string]string) map[string]string {
	parent, ok := parentType(typ)
	if !ok || t == nil {
		return initial
	}
	out := make(map[string]string, len(initial))
	for name, v := range initial {
		out[name] = v
		if t.plain[typ][name] != v {
			continue
		}
		current := true
		for _, p := range t.parents[typ][name] {
			if parentInitial[p] != t.plain[parent][p] {
				current = false
			}
		}
		if current {
			out[name] = t.combined[typ][name]
		}
	}
	return out
}

// plainVersions returns each resource's plain content hash: the snapshot's
// own version map when its builder filled one in (the snapshot package
// hashes only what changed), else hashed here.
func plainVersions(snap *cachev3.Snapshot, typ string) (map[string]string, error) {
	items := snap.Resources[cachev3.GetResponseType(typ)].Items
	if v, ok := snap.VersionMap[typ]; ok && covers(v, items) {
		return v, nil
	}
	return hashEach(snap.GetResources(typ))
}

// covers reports whether versions has exactly the names of items.
func covers(versions map[string]string, items map[string]types.ResourceWithTTL) bool {
	if len(versions) != len(items) {
		return false
	}
	for name := range items {
		if _, ok := versions[name]; !ok {
			return false
		}
	}
	return true
}

// hashEach returns the SHA-256 of each resource's deterministic encoding,
// keyed by name, as go-control-plane computes it.
func hashEach(resources map[string]types.Resource) (map[string]string, error) {
	out := make(map[string]string, len(resources))
	for name, r := range resources {
		b, err := cachev3.MarshalResource(r)
		if err != nil {
			return nil, fmt.Errorf("marshal %s: %w", name, err)
		}
		out[name] = cachev3.HashResource(b)
	}
	return out, nil
}

// referrers maps each resource name of type child to the sorted names of
// the parents that reference it.
func referrers(parents map[string]types.Resource, child string) map[string][]string {
	out := map[string][]string{}
	for _, name := range slices.Sorted(maps.Keys(parents)) {
		refs := cachev3.GetResourceReferences(map[string]types.ResourceWithTTL{name: {Resource: parents[name]}})
		for ref := range refs[child] {
			out[ref] = append(out[ref], name)
		}
	}
	return out
}

// withParents folds the versions of each resource's referrers into its own.
// A resource nothing references keeps its plain content hash.
func withParents(own map[string]string, refs map[string][]string, parentVersions map[string]string) map[string]string {
	out := make(map[string]string, len(own))
	for name, v := range own {
		parents := refs[name]
		if len(parents) == 0 {
			out[name] = v
			continue
		}
		h := sha256.New()
		h.Write([]byte(v))
		for _, p := range parents {
			h.Write([]byte{0})
			h.Write([]byte(p))
			h.Write([]byte{0})
			h.Write([]byte(parentVersions[p]))
		}
		out[name] = hex.EncodeToString(h.Sum(nil))
	}
	return out
}
