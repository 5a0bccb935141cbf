package snapshot

import (
	"cmp"
	"net"
	"slices"
	"strconv"

	"github.com/switchyard/switchyard/discovery"
	"github.com/switchyard/switchyard/envoy"
)

// localityEndpoints groups the instances that may receive traffic by
// locality, sorted by region, zone, then address and port. An address:port
// registered twice (two Consul instances of one process) appears once: gRPC
// clients reject an assignment that repeats an address.
func localityEndpoints(instances []discovery.Instance, flavour Flavour) []envoy.LocalityEndpoints {
	byLocality := make(map[envoy.Locality][]envoy.Endpoint)
	seen := make(map[string]bool, len(instances))
	for _, inst := range sortedInstances(instances) {
		state := endpointHealth(inst, flavour)
		key := net.JoinHostPort(inst.Address, strconv.Itoa(inst.Port))
		if !state.Include || seen[key] {
			continue
		}
		seen[key] = true
		loc := envoy.Locality{Region: inst.Locality.Region, Zone: inst.Locality.Zone}
		byLocality[loc] = append(byLocality[loc], envoy.Endpoint{
			Address: inst.Address,
			Port:    uint32(inst.Port),
			Health:  state.Health,
			Weight:  state.Weight,
		})
	}
	out := make([]envoy.LocalityEndpoints, 0, len(byLocality))
	for loc, eps := range byLocality {
		out = append(out, envoy.LocalityEndpoints{Locality: loc, Endpoints: eps})
	}
	slices.SortFunc(out, func(a, b envoy.LocalityEndpoints) int {
		return cmp.Or(cmp.Compare(a.Locality.Region, b.Locality.Region), cmp.Compare(a.Locality.Zone, b.Locality.Zone))
	})
	return out
}

// sortedInstances orders instances by address, port and ID, so that the
// output does not depend on the order Consul listed them in, and a healthier
// duplicate of an address wins over a worse one.
func sortedInstances(instances []discovery.Instance) []discovery.Instance {
	out := slices.Clone(instances)
	slices.SortFunc(out, func(a, b discovery.Instance) int {
		return cmp.Or(
			cmp.Compare(a.Address, b.Address),
			cmp.Compare(a.Port, b.Port),
			cmp.Compare(a.Health, b.Health),
			cmp.Compare(a.ID, b.ID),
		)
	})
	return out
}
