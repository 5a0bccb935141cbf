package envoy

import (
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
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
