package snapshot

import (
	"cmp"
	"slices"

	"github.com/switchyard/switchyard/discovery"
	"github.com/switchyard/switchyard/envoy"
)

// locatedEndpoint is an endpoint with the locality it goes in.
type locatedEndpoint struct {
	loc envoy.Locality
	ep  envoy.Endpoint
}

// localityEndpoints groups the instances that may receive traffic by
// locality, sorted by region, zone, then address and port. An address:port
// registered twice (two Consul instances of one process) appears once: gRPC
// clients reject an assignment that repeats an address. It runs once per
// changed service and for every service of a full rebuild, so it sorts
// pointers and groups by sorting rather than through maps.
func localityEndpoints(instances []discovery.Instance, flavour Flavour) []envoy.LocalityEndpoints {
	located := make([]locatedEndpoint, 0, len(instances))
	var last *discovery.Instance // the last instance included
	for _, inst := range sortedInstances(instances) {
		state := endpointHealth(*inst, flavour)
		// Sorting puts the instances of one address:port next to each
		// other, healthiest first.
		if !state.Include || last != nil && last.Address == inst.Address && last.Port == inst.Port {
			continue
		}
		last = inst
		located = append(located, locatedEndpoint{
			loc: envoy.Locality{Region: inst.Locality.Region, Zone: inst.Locality.Zone},
			ep:  envoy.Endpoint{Address: inst.Address, Port: uint32(inst.Port), Health: state.Health, Weight: state.Weight},
		})
	}
	slices.SortStableFunc(located, func(a, b locatedEndpoint) int {
		return cmp.Or(cmp.Compare(a.loc.Region, b.loc.Region), cmp.Compare(a.loc.Zone, b.loc.Zone))
	})
	endpoints := make([]envoy.Endpoint, len(located))
	var out []envoy.LocalityEndpoints
	for i, l := range located {
		endpoints[i] = l.ep
		if n := len(out); n > 0 && out[n-1].Locality == l.loc {
			out[n-1].Endpoints = endpoints[i-len(out[n-1].Endpoints) : i+1 : i+1]
			continue
		}
		out = append(out, envoy.LocalityEndpoints{Locality: l.loc, Endpoints: endpoints[i : i+1 : i+1]})
	}
	return out
}

// sortedInstances orders instances by address, port and ID, so that the
// output does not depend on the order Consul listed them in, and a healthier
// duplicate of an address wins over a worse one. It sorts pointers, leaving
// the caller's slice as it is.
func sortedInstances(instances []discovery.Instance) []*discovery.Instance {
	out := make([]*discovery.Instance, len(instances))
	for i := range instances {
		out[i] = &instances[i]
	}
	slices.SortFunc(out, func(a, b *discovery.Instance) int {
		return cmp.Or(
			cmp.Compare(a.Address, b.Address),
			cmp.Compare(a.Port, b.Port),
			cmp.Compare(a.Health, b.Health),
			cmp.Compare(a.ID, b.ID),
		)
	})
	return out
}
