package snapshot

import (
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"

	"github.com/switchyard/switchyard/fleet"
)

// Flavour is the kind of xDS client a set of resources is built for.
type Flavour int

// The flavours: Envoy proxies (an HTTP listener with a virtual host per
// service) and proxyless gRPC clients (an API listener per service).
const (
	FlavourEnvoy Flavour = iota + 1
	FlavourGRPC
)

// String returns the flavour's name as it appears in logs and metrics.
func (f Flavour) String() string {
	switch f {
	case FlavourEnvoy:
		return "envoy"
	case FlavourGRPC:
		return "grpc"
	default:
		return "unknown"
	}
}

// Flavours lists every flavour, in publishing order.
func Flavours() []Flavour {
	return []Flavour{FlavourEnvoy, FlavourGRPC}
}

// Resources are the xDS resources of one flavour, each list sorted by name.
type Resources struct {
	Clusters  []types.Resource
	Endpoints []types.Resource
	Listeners []types.Resource
	Routes    []types.Resource
	// Warnings are parts of the model that could not be expressed, such as
	// a virtual host left out because its domains were taken.
	Warnings []string
}

// Options tune the translation.
type Options struct {
	Flavour Flavour
	// ListenerAddress and ListenerPort are where the Envoy flavour's HTTP
	// listener binds.
	ListenerAddress string
	ListenerPort    uint32
	// LoadReporting names the management server as the load reporting
	// (LRS) server of every EDS cluster, so that gRPC clients report
	// their request counts to it (Envoy reports per its bootstrap).
	LoadReporting bool
	// Fleet, when set, builds the Envoy flavour for the proxies of one
	// fleet: only the services in the profile's scope, behind the
	// profile's listeners (ListenerAddress and ListenerPort are unused),
	// with its route defaults. The profile is valid (fleet.Parse).
	Fleet *fleet.Profile
}
