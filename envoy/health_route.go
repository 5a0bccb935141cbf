package envoy

import (
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
)

// HealthRoute returns a route that Envoy itself answers with 200 "ok" for
// requests to exactly path, so that a load balancer in front of Envoy can
// check it without reaching any upstream. The caller puts it first in a
// virtual host, before any route whose prefix would also match path.
func HealthRoute(path string) *routev3.Route {
	return &routev3.Route{
		Match: pathMatch(RouteMatch{PathExact: path}),
		Action: &routev3.Route_DirectResponse{DirectResponse: &routev3.DirectResponseAction{
			Status: 200,
			Body:   &corev3.DataSource{Specifier: &corev3.DataSource_InlineString{InlineString: "ok"}},
		}},
	}
}

// HealthListenerOptions describe a plain-HTTP listener that serves only a
// health endpoint.
type HealthListenerOptions struct {
	Name    string
	Address string
	Port    uint32
	// Path is the endpoint's exact path; every other request gets 404.
	Path string
}

// HealthListener returns a listener that answers GET opts.Path with 200
// "ok" from Envoy itself, its route configuration inline, for a load
// balancer's health checks on a port of their own.
func HealthListener(opts HealthListenerOptions) *listenerv3.Listener {
	hcm := httpConnectionManager(opts.Name, "")
	hcm.RouteSpecifier = &hcmv3.HttpConnectionManager_RouteConfig{
		RouteConfig: RouteConfig(opts.Name, []*routev3.VirtualHost{
			VirtualHostWithRoutes(opts.Name, []string{"*"}, []*routev3.Route{HealthRoute(opts.Path)}),
		}),
	}
	return networkListener(opts.Name, opts.Address, opts.Port, httpConnectionManagerFilter, hcm)
}
