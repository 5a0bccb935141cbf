package snapshot

import (
	"time"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
)

// Change is one resource a publish puts or removes.
type Change struct {
	// TypeURL is resourcev3.ClusterType, EndpointType, ListenerType,
	// RouteType or, for a fleet, SecretType.
	TypeURL string
	Name    string
	// Hash is the resource's content hash, the hex SHA-256 of its
	// deterministic encoding (go-control-plane's per-resource version);
	// "" on removal.
	Hash string
	// Resource is the new resource; nil when it is removed.
	Resource types.Resource
}

// Update is one publish of one flavour: the type versions after it and
// every resource that changed since the last publish the sink accepted.
// The first accepted publish of a flavour carries every resource.
type Update struct {
	Flavour Flavour
	// Fleet, when set, names the fleet (node.cluster) the update is for:
	// it goes to that fleet's proxies only, and may carry secrets.
	Fleet    string
	Versions Versions
	// Observed is when discovery saw the changes this update carries;
	// zero for an update that carries no new change (a follow-up).
	Observed time.Time
	// Changes are in type order (clusters, endpoints, listeners, routes)
	// and by name within a type, each name at most once per type.
	Changes []Change
}

// Sink receives every update the publisher accepts. The xds server is the
// real one; the publisher never learns about proxies or groups. An error
// tells the publisher the update was not applied at all: its changes are
// sent again, with whatever changed meanwhile, in the next update.
type Sink interface {
	Publish(u Update) error
}

// FleetRemover is a Sink that serves fleets: RemoveFleet puts a fleet's
// proxies back on what every other Envoy gets. A sink without it is sent
// no fleet update.
type FleetRemover interface {
	RemoveFleet(cluster string)
}
