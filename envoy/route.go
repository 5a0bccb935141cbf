package envoy

import (
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
)

// VirtualHost returns a virtual host for domains that sends every request
// (path prefix "/") to cluster.
func VirtualHost(name string, domains []string, cluster string) *routev3.VirtualHost {
	return VirtualHostWithRoutes(name, domains, Routes([]RouteSpec{{
		Action: RouteAction{Clusters: []WeightedCluster{{Name: cluster}}},
	}}))
}

// RouteConfig returns the route configuration name holding vhosts, in the
// order given.
func RouteConfig(name string, vhosts []*routev3.VirtualHost) *routev3.RouteConfiguration {
	return &routev3.RouteConfiguration{
		Name:         name,
		VirtualHosts: vhosts,
	}
}
