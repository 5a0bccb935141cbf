package envoy

import (
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tcpproxyv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	"google.golang.org/protobuf/proto"
)

// Extension names of the filters this package configures.
const (
	httpConnectionManagerFilter = "envoy.filters.network.http_connection_manager"
	routerFilter                = "envoy.filters.http.router"
	tcpProxyFilter              = "envoy.filters.network.tcp_proxy"
)

// HTTPListener returns a TCP listener on address:port with one filter chain
// holding an HTTP connection manager (stat prefix name) that takes its routes
// from routeConfigName over ADS.
func HTTPListener(name, address string, port uint32, routeConfigName string) *listenerv3.Listener {
	return HTTPListenerWithOptions(HTTPListenerOptions{Name: name, Address: address, Port: port, RouteConfigName: routeConfigName})
}

// HTTPListenerOptions describe a plain HTTP listener.
type HTTPListenerOptions struct {
	// Name is the listener's name and its connection manager's stat prefix.
	Name string
	// Address and Port are where the listener accepts connections.
	Address string
	Port    uint32
	// RouteConfigName is the route configuration fetched over ADS.
	RouteConfigName string
	// HCM adds access logs and client address handling to the connection
	// manager; the zero value builds what HTTPListener does.
	HCM HCMOptions
}

// HTTPListenerWithOptions returns the listener HTTPListener does, with the
// connection manager settings of opts.HCM.
func HTTPListenerWithOptions(opts HTTPListenerOptions) *listenerv3.Listener {
	hcm := applyHCMOptions(httpConnectionManager(opts.Name, opts.RouteConfigName), opts.HCM)
	return networkListener(opts.Name, opts.Address, opts.Port, httpConnectionManagerFilter, hcm)
}

// TCPProxyListener returns a TCP listener on address:port with one filter
// chain holding a TCP proxy (stat prefix statPrefix) that forwards every
// connection to cluster. Proxyless gRPC clients have no use for it.
func TCPProxyListener(name, address string, port uint32, statPrefix, cluster string) *listenerv3.Listener {
	return networkListener(name, address, port, tcpProxyFilter, &tcpproxyv3.TcpProxy{
		StatPrefix:       statPrefix,
		ClusterSpecifier: &tcpproxyv3.TcpProxy_Cluster{Cluster: cluster},
	})
}

// networkListener returns a TCP listener on address:port whose one filter
// chain holds the one network filter filterName, configured by config.
func networkListener(name, address string, port uint32, filterName string, config proto.Message) *listenerv3.Listener {
	return &listenerv3.Listener{
		Name:         name,
		Address:      socketAddress(address, port),
		FilterChains: []*listenerv3.FilterChain{filterChain(filterName, config)},
	}
}

// filterChain returns a filter chain holding the one network filter
// filterName, configured by config.
func filterChain(filterName string, config proto.Message) *listenerv3.FilterChain {
	return &listenerv3.FilterChain{
		Filters: []*listenerv3.Filter{{
			Name:       filterName,
			ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: mustAny(config)},
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
