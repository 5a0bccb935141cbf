package envoy

import (
	"math"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Endpoint is one upstream host of a cluster.
type Endpoint struct {
	// Address is an IP address, or a host name for a DNS cluster.
	Address string
	// Port is the TCP port of the host.
	Port uint32
	// Health is the health status Envoy should act on; the caller maps its
	// own health model onto it.
	Health corev3.HealthStatus
	// Weight is the load balancing weight, 1..128 (the caller clamps); zero
	// leaves the weight unset, which Envoy and gRPC treat as 1.
	Weight uint32
}

// Locality is a region/zone pair.
type Locality struct{ Region, Zone string }

// LocalityEndpoints are the endpoints of one locality.
type LocalityEndpoints struct {
	Locality  Locality
	Endpoints []Endpoint
}

// LoadAssignment returns the endpoints of clusterName, one LocalityLbEndpoints
// per locality that has endpoints, in the order given.
//
// Every locality gets a non-nil Locality and a load_balancing_weight of at
// least 1, because a gRPC client silently skips a locality without either.
// The weight is the sum of the weights of its HEALTHY endpoints, so traffic
// shifts away from a locality as its endpoints drain; a locality with no
// healthy endpoint keeps weight 1 so that it stays valid.
func LoadAssignment(clusterName string, localities []LocalityEndpoints) *endpointv3.ClusterLoadAssignment {
	cla := &endpointv3.ClusterLoadAssignment{ClusterName: clusterName}
	for _, l := range localities {
		if len(l.Endpoints) == 0 {
			continue
		}
		lbEndpoints := make([]*endpointv3.LbEndpoint, 0, len(l.Endpoints))
		for _, e := range l.Endpoints {
			lbEndpoints = append(lbEndpoints, lbEndpoint(e))
		}
		cla.Endpoints = append(cla.Endpoints, &endpointv3.LocalityLbEndpoints{
			Locality:            &corev3.Locality{Region: l.Locality.Region, Zone: l.Locality.Zone},
			LbEndpoints:         lbEndpoints,
			LoadBalancingWeight: wrapperspb.UInt32(localityWeight(l.Endpoints)),
		})
	}
	return cla
}

// localityWeight is the sum of the weights of the HEALTHY endpoints, where an
// unset weight counts as 1, kept within 1..MaxUint32.
func localityWeight(endpoints []Endpoint) uint32 {
	var sum uint64
	for _, e := range endpoints {
		if e.Health != corev3.HealthStatus_HEALTHY {
			continue
		}
		sum += uint64(max(e.Weight, 1))
	}
	return uint32(min(max(sum, 1), math.MaxUint32))
}

// lbEndpoint returns e as a TCP socket address with its health and, if set,
// its weight.
func lbEndpoint(e Endpoint) *endpointv3.LbEndpoint {
	lb := &endpointv3.LbEndpoint{
		HostIdentifier: &endpointv3.LbEndpoint_Endpoint{
			Endpoint: &endpointv3.Endpoint{Address: socketAddress(e.Address, e.Port)},
		},
		HealthStatus: e.Health,
	}
	if e.Weight > 0 {
		lb.LoadBalancingWeight = wrapperspb.UInt32(e.Weight)
	}
	return lb
}

// socketAddress returns a TCP socket address for address:port.
func socketAddress(address string, port uint32) *corev3.Address {
	return &corev3.Address{
		Address: &corev3.Address_SocketAddress{
			SocketAddress: &corev3.SocketAddress{
				Protocol:      corev3.SocketAddress_TCP,
				Address:       address,
				PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: port},
			},
		},
	}
}
