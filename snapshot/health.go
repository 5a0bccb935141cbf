package snapshot

import (
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"

	"github.com/switchyard/switchyard/discovery"
)

// maxEndpointWeight is the largest endpoint weight Switchyard sends; Consul
// clamps to the same range for its own Envoy configuration.
const maxEndpointWeight = 128

// endpointState is how one Consul instance appears in an endpoint assignment.
type endpointState struct {
	// Include is false when the instance must receive no traffic at all.
	Include bool
	Health  corev3.HealthStatus
	Weight  uint32
}

// endpointHealth maps an instance's Consul health and weights to its Envoy
// health and weight, following Consul's own rules (agent/xds/endpoints.go):
// passing and warning instances serve, with the passing or warning weight; a
// weight below 1 takes the instance out of traffic; critical instances are
// left out. Instances in maintenance are drained: Envoy gets them as DRAINING
// so open connections finish, gRPC clients (which ignore DRAINING endpoints)
// don't get them at all.
func endpointHealth(inst discovery.Instance, flavour Flavour) endpointState {
	var weight int
	switch inst.Health {
	case discovery.HealthPassing:
		weight = inst.Weights.Passing
	case discovery.HealthWarning:
		weight = inst.Weights.Warning
	case discovery.HealthMaintenance:
		if flavour == FlavourEnvoy {
			return endpointState{Include: true, Health: corev3.HealthStatus_DRAINING, Weight: 1}
		}
		return endpointState{}
	default:
		return endpointState{}
	}
	if weight < 1 {
		return endpointState{}
	}
	return endpointState{Include: true, Health: corev3.HealthStatus_HEALTHY, Weight: uint32(min(weight, maxEndpointWeight))}
}
