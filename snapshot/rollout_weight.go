package snapshot

import (
	"math"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
)

// RolloutWeight says what a route configuration does with a rollout of
// service from subset from to subset to: whether it holds the service's
// virtual host (hosts is true), and whether every route of that host that
// sends to either subset sends exactly weight percent of its requests to
// to, and at least one does (carries is true). Routes that match a runtime
// fraction (the gRPC flavour's never-matching warm route) are left out.
func RolloutWeight(rc *routev3.RouteConfiguration, service, from, to string, weight int) (hosts, carries bool) {
	for _, vh := range rc.GetVirtualHosts() {
		if vh.GetName() != service {
			continue
		}
		hosts = true
		seen := false
		for _, r := range vh.GetRoutes() {
			share, ok := routeShare(r, service, from, to)
			if !ok {
				continue
			}
			seen = true
			if math.Abs(share-float64(weight)) > 0.01 {
				return true, false
			}
		}
		return true, seen
	}
	return hosts, false
}

// routeShare returns the percentage of a route's requests that go to
// service's subset to, over a route that sends to subset from or to.
func routeShare(r *routev3.Route, service, from, to string) (float64, bool) {
	if r.GetMatch().GetRuntimeFraction() != nil {
		return 0, false
	}
	a := r.GetRoute()
	if a == nil {
		return 0, false
	}
	type share struct {
		name   string
		weight float64
	}
	shares := []share{{a.GetCluster(), 1}}
	if wc := a.GetWeightedClusters(); wc != nil {
		shares = shares[:0]
		for _, c := range wc.GetClusters() {
			shares = append(shares, share{c.GetName(), float64(c.GetWeight().GetValue())})
		}
	}
	var toW, fromW, total float64
	for _, s := range shares {
		total += s.weight
		switch {
		case isSubsetCluster(s.name, service, to):
			toW += s.weight
		case isSubsetCluster(s.name, service, from):
			fromW += s.weight
		}
	}
	if toW+fromW == 0 || total == 0 {
		return 0, false
	}
	return 100 * toW / total, true
}

// isSubsetCluster reports whether a cluster sends to service's subset:
// the subset's own cluster or its failover aggregate.
func isSubsetCluster(cluster, service, subset string) bool {
	return cluster == SubsetClusterName(service, subset) || cluster == FailoverClusterName(service, subset)
}
