package envoy

import (
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
)

// defaultHTTPSPort is the port a browser assumes for https, which a
// redirect therefore leaves out.
const defaultHTTPSPort = 443

// RedirectListener returns a plain HTTP listener on address:port that
// answers every request with a redirect to the same URL over https, on
// httpsPort. Its routes are inline rather than fetched over RDS: they never
// change, and the listener then works before any route is published.
func RedirectListener(name, address string, port, httpsPort uint32) *listenerv3.Listener {
	redirect := &routev3.RedirectAction{
		SchemeRewriteSpecifier: &routev3.RedirectAction_HttpsRedirect{HttpsRedirect: true},
	}
	if httpsPort != defaultHTTPSPort {
		redirect.PortRedirect = httpsPort
	}
	hcm := httpConnectionManager(name, "")
	hcm.RouteSpecifier = &hcmv3.HttpConnectionManager_RouteConfig{
		RouteConfig: RouteConfig(name, []*routev3.VirtualHost{VirtualHostWithRoutes("https_redirect", []string{"*"}, []*routev3.Route{{
			Match:  pathMatch(RouteMatch{}),
			Action: &routev3.Route_Redirect{Redirect: redirect},
		}})}),
	}
	return networkListener(name, address, port, httpConnectionManagerFilter, hcm)
}
