// Package xdssink joins the publisher to the xDS server: it turns each
// snapshot.Update into an xds.Update for the kind of client its flavour was
// built for. It is the one place that knows both packages, which must not
// know each other.
package xdssink

import (
	"fmt"

	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/switchyard/switchyard/snapshot"
	"github.com/switchyard/switchyard/xds"
)

// Sink is a snapshot.Sink that applies every update to an xDS server.
type Sink struct{ srv *xds.Server }

// New returns a sink that applies updates to srv.
func New(srv *xds.Server) Sink {
	return Sink{srv: srv}
}

// Publish implements snapshot.Sink.
func (s Sink) Publish(u snapshot.Update) error {
	if u.Fleet != "" {
		return s.srv.ApplyFleet(u.Fleet, convert(u))
	}
	kind, err := kindOf(u.Flavour)
	if err != nil {
		return err
	}
	return s.srv.Apply(kind, convert(u))
}

// RemoveFleet implements snapshot.FleetRemover.
func (s Sink) RemoveFleet(cluster string) {
	s.srv.RemoveFleet(cluster)
}

// kindOf maps a translation flavour to the client kind it is built for.
func kindOf(f snapshot.Flavour) (xds.Kind, error) {
	switch f {
	case snapshot.FlavourEnvoy:
		return xds.KindEnvoy, nil
	case snapshot.FlavourGRPC:
		return xds.KindGRPC, nil
	default:
		return 0, fmt.Errorf("unknown flavour %s", f)
	}
}

// convert turns a publisher's update into the server's: the type versions
// by type URL, and each change with its content hash as its version.
func convert(u snapshot.Update) xds.Update {
	out := xds.Update{
		Versions: map[string]string{
			resourcev3.ClusterType:  u.Versions.Clusters,
			resourcev3.EndpointType: u.Versions.Endpoints,
			resourcev3.ListenerType: u.Versions.Listeners,
			resourcev3.RouteType:    u.Versions.Routes,
		},
		Changes:  make([]xds.Change, len(u.Changes)),
		Observed: u.Observed,
	}
	if u.Fleet != "" {
		out.Versions[resourcev3.SecretType] = u.Versions.Secrets
	}
	for i, c := range u.Changes {
		out.Changes[i] = xds.Change{TypeURL: c.TypeURL, Name: c.Name, Version: c.Hash}
		if c.Resource != nil {
			// Only a non-nil resource is assigned: a nil types.Resource
			// would still be nil as a proto.Message, but say so plainly.
			out.Changes[i].Resource = c.Resource
		}
	}
	return out
}
