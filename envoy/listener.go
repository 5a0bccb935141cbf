package envoy

import (
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
)

// Extension names of the filters this package configures.
const (
	httpConnectionManagerFilter = "envoy.filters.network.http_connection_manager"
	routerFilter                = "envoy.filters.http.router"
)

// HTTPListener returns a TCP listener on address:port with one filter chain
// holding an HTTP connection manager (stat prefix name) that takes its routes
// from routeConfigName over ADS.
func HTTPListener(name, address string, port uint32, routeConfigName string) *listenerv3.Listener {
	return &listenerv3.Listener{
		Name:    name,
		Address: socketAddress(address, port),
		FilterChains: []*listenerv3.FilterChain{{
			Filters: []*listenerv3.Filter{{
				Name: httpConnectionManagerFilter,
				ConfigType: &listenerv3.Filter_TypedConfig{
					TypedConfig: mustAny(httpConnectionManager(name, routeConfigName)),
				},
			}},
		}},
	}
}

// APIListener returns the listener a proxyless gRPC client subscribes to
// when it dials xds:///name: no address and no filter chains, only an
// api_listener holding an HTTP connection manager that takes its routes from
// routeConfigName over ADS.
func APIListener(name, routeConfigName string) *listenerv3.Listener {
	return &listenerv3.Listener{
		Name: name,
		ApiListener: &listenerv3.ApiListener{
			ApiListener: mustAny(httpConnectionManager(name, routeConfigName)),
		},
	}
}

// httpConnectionManager returns an HTTP connection manager with automatic
// codec selection, RDS over ADS and the router as its only, and so last,
// HTTP filter. xff_num_trusted_hops stays 0: gRPC clients reject anything
// else.
func httpConnectionManager(statPrefix, routeConfigName string) *hcmv3.HttpConnectionManager {
	return &hcmv3.HttpConnectionManager{
		StatPrefix: statPrefix,
		CodecType:  hcmv3.HttpConnectionManager_AUTO,
		RouteSpecifier: &hcmv3.HttpConnectionManager_Rds{
			Rds: &hcmv3.Rds{
				ConfigSource:    adsConfigSource(),
				RouteConfigName: routeConfigName,
			},
		},
		HttpFilters: []*hcmv3.HttpFilter{{
			Name: routerFilter,
			ConfigType: &hcmv3.HttpFilter_TypedConfig{
				TypedConfig: mustAny(&routerv3.Router{}),
			},
		}},
	}
}
