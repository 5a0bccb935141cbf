package envoy

import (
	"testing"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
)

func TestVirtualHost(t *testing.T) {
	tests := []struct {
		name    string
		domains []string
	}{
		{name: "authority only", domains: []string{"web"}},
		{name: "several domains", domains: []string{"web", "web:8080", "web.service.consul"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := VirtualHost("web", tt.domains, "web-cluster")
			mustValidate(t, got)
			diffProto(t, &routev3.VirtualHost{
				Name:    "web",
				Domains: tt.domains,
				Routes: []*routev3.Route{{
					Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}},
					Action: &routev3.Route_Route{Route: &routev3.RouteAction{
						ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: "web-cluster"},
					}},
				}},
			}, got)
		})
	}
}

func TestRouteConfig(t *testing.T) {
	tests := []struct {
		name   string
		vhosts []*routev3.VirtualHost
	}{
		{name: "empty", vhosts: nil},
		{name: "order kept", vhosts: []*routev3.VirtualHost{
			VirtualHost("b", []string{"b"}, "b"),
			VirtualHost("a", []string{"a"}, "a"),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := RouteConfig("routes", tt.vhosts)
			mustValidate(t, got)
			diffProto(t, &routev3.RouteConfiguration{Name: "routes", VirtualHosts: tt.vhosts}, got)
		})
	}
}
