package snapshot

import resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

// holdRemovals splits the cluster and endpoint-assignment removals off an
// update that also changes anything else: a route that stopped sending to
// a cluster must reach clients before the cluster goes, or requests in
// between find no cluster. An update of removals alone goes whole.
func holdRemovals(changes []Change) (now, held []Change) {
	other := false
	for _, c := range changes {
		if !removesUpstream(c) {
			other = true
			break
		}
	}
	if !other {
		return changes, nil
	}
	now = make([]Change, 0, len(changes))
	for _, c := range changes {
		if removesUpstream(c) {
			held = append(held, c)
		} else {
			now = append(now, c)
		}
	}
	return now, held
}

// removesUpstream reports whether a change removes a cluster or an
// endpoint assignment.
func removesUpstream(c Change) bool {
	return c.Resource == nil && (c.TypeURL == resourcev3.ClusterType || c.TypeURL == resourcev3.EndpointType)
}

// unsettled returns the versions of a publish that holds removals back: the
// cluster and endpoint versions are marked, since the clients' state is
// not yet the one those versions name, and the follow-up publish then
// differs from what is recorded.
func (v Versions) unsettled() Versions {
	v.Clusters += "+held"
	v.Endpoints += "+held"
	return v
}
