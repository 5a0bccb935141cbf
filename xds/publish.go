package xds

import (
	"fmt"

	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
)

// Publish puts a whole snapshot in force for every client of one kind: what
// it has that the kind does not hold, or holds at another content hash, is
// put; what the kind holds that it lacks is removed. The per-resource
// hashes come from snap.VersionMap where its builder filled them in.
func (s *Server) Publish(kind Kind, snap *cachev3.Snapshot) error {
	k, ok := s.kinds[kind]
	if !ok {
		return fmt.Errorf("publish: unknown client kind %d", kind)
	}
	u := Update{Versions: map[string]string{}}
	for t, typeURL := range typeURLs {
		u.Versions[typeURL] = snap.GetVersion(typeURL)
		changes, err := snapshotChanges(snap, typeURL)
		if err != nil {
			return fmt.Errorf("publish %s snapshot: %w", kind, err)
		}
		u.Changes = append(u.Changes, k.changed(changes)...)
		u.Changes = append(u.Changes, k.removals(typeID(t), snap)...)
	}
	return s.Apply(kind, u)
}

// snapshotChanges returns a put for every resource of one type of a
// snapshot.
func snapshotChanges(snap *cachev3.Snapshot, typeURL string) ([]Change, error) {
	resources := snap.GetResources(typeURL)
	hashes := snap.VersionMap[typeURL]
	out := make([]Change, 0, len(resources))
	for name, r := range resources {
		h, ok := hashes[name]
		if !ok {
			b, err := cachev3.MarshalResource(r)
			if err != nil {
				return nil, fmt.Errorf("marshal %s %s: %w", shortType(typeURL), name, err)
			}
			h = cachev3.HashResource(b)
		}
		out = append(out, Change{TypeURL: typeURL, Name: name, Version: h, Resource: r})
	}
	return out, nil
}

// removals returns a removal for every live resource of a type the
// snapshot lacks.
func (k *kindState) removals(t typeID, snap *cachev3.Snapshot) []Change {
	items := snap.Resources[cachev3.GetResponseType(typeURLs[t])].Items
	k.mu.RLock()
	defer k.mu.RUnlock()
	var out []Change
	for name, e := range k.tables[t].byName {
		if _, ok := items[name]; !ok && e.live() {
			out = append(out, Change{TypeURL: typeURLs[t], Name: name})
		}
	}
	return out
}
