package snapshot

import (
	"fmt"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
)

// Build validates resources and wraps them in a go-control-plane snapshot
// whose per-type versions are content hashes. Nothing invalid or
// inconsistent is ever wrapped.
func Build(res Resources) (*cachev3.Snapshot, Versions, error) {
	if err := Validate(res); err != nil {
		return nil, Versions{}, fmt.Errorf("validate: %w", err)
	}
	v, err := versionsOf(res)
	if err != nil {
		return nil, Versions{}, err
	}
	snap := &cachev3.Snapshot{}
	set := func(typeURL string, version string, items []types.Resource) {
		snap.Resources[cachev3.GetResponseType(typeURL)] = cachev3.NewResources(version, items)
	}
	set(resourcev3.ClusterType, v.Clusters, res.Clusters)
	set(resourcev3.EndpointType, v.Endpoints, res.Endpoints)
	set(resourcev3.ListenerType, v.Listeners, res.Listeners)
	set(resourcev3.RouteType, v.Routes, res.Routes)
	return snap, v, nil
}
