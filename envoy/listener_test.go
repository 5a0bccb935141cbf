package envoy

import (
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tcpproxyv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	"google.golang.org/protobuf/types/known/anypb"
)

// checkHCM unpacks and validates an HTTP connection manager and compares it
// with the one both listener kinds must hold.
func checkHCM(t *testing.T, a *anypb.Any, statPrefix, routeConfigName string) {
	t.Helper()
	got := unpack(t, a, &hcmv3.HttpConnectionManager{})
	filters := got.GetHttpFilters()
	if len(filters) == 0 {
		t.Fatal("no http filters")
	}
	unpack(t, filters[len(filters)-1].GetTypedConfig(), &routerv3.Router{})
	got.HttpFilters[len(filters)-1].ConfigType = nil // type checked by unpack
	diffProto(t, &hcmv3.HttpConnectionManager{
		StatPrefix: statPrefix,
		CodecType:  hcmv3.HttpConnectionManager_AUTO,
		RouteSpecifier: &hcmv3.HttpConnectionManager_Rds{Rds: &hcmv3.Rds{
			ConfigSource: &corev3.ConfigSource{
				ResourceApiVersion:    corev3.ApiVersion_V3,
				ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}},
			},
			RouteConfigName: routeConfigName,
		}},
		HttpFilters: []*hcmv3.HttpFilter{{Name: "envoy.filters.http.router"}},
	}, got)
	if got.GetXffNumTrustedHops() != 0 {
		t.Errorf("xff_num_trusted_hops = %d, want 0", got.GetXffNumTrustedHops())
	}
}

func TestHTTPListener(t *testing.T) {
	tests := []struct {
		name    string
		address string
		port    uint32
	}{
		{name: "ingress_http", address: "0.0.0.0", port: 8080},
		{name: "ingress_v6", address: "::", port: 10000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := HTTPListener(tt.name, tt.address, tt.port, "routes")
			mustValidate(t, got)
			diffProto(t, socketAddress(tt.address, tt.port), got.GetAddress())
			if p := got.GetAddress().GetSocketAddress().GetProtocol(); p != corev3.SocketAddress_TCP {
				t.Errorf("protocol = %v, want TCP", p)
			}
			if got.GetName() != tt.name || got.GetApiListener() != nil {
				t.Errorf("name = %q, api_listener = %v; want %q and none", got.GetName(), got.GetApiListener(), tt.name)
			}
			if len(got.GetFilterChains()) != 1 || len(got.GetFilterChains()[0].GetFilters()) != 1 {
				t.Fatalf("filter chains = %v, want one chain with one filter", got.GetFilterChains())
			}
			f := got.GetFilterChains()[0].GetFilters()[0]
			if f.GetName() != "envoy.filters.network.http_connection_manager" {
				t.Errorf("filter name = %q", f.GetName())
			}
			checkHCM(t, f.GetTypedConfig(), tt.name, "routes")
		})
	}
}

func TestAPIListener(t *testing.T) {
	tests := []struct {
		name, routeConfigName string
	}{
		{name: "web", routeConfigName: "web"},
		{name: "echo:8080", routeConfigName: "grpc_routes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := APIListener(tt.name, tt.routeConfigName)
			mustValidate(t, got)
			hcm := got.GetApiListener().GetApiListener()
			got.ApiListener = nil
			diffProto(t, &listenerv3.Listener{Name: tt.name}, got)
			checkHCM(t, hcm, tt.name, tt.routeConfigName)
		})
	}
}

func TestTCPProxyListener(t *testing.T) {
	tests := []struct {
		name, address string
		port          uint32
		statPrefix    string
		cluster       string
	}{
		{name: "tcp_5432", address: "0.0.0.0", port: 5432, statPrefix: "postgres", cluster: "postgres"},
		{name: "tcp_v6", address: "::", port: 6379, statPrefix: "tcp_v6", cluster: "redis-primary"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := TCPProxyListener(tt.name, tt.address, tt.port, tt.statPrefix, tt.cluster)
			mustValidate(t, got)
			if got.GetName() != tt.name || got.GetApiListener() != nil {
				t.Errorf("name = %q, api_listener = %v; want %q and none", got.GetName(), got.GetApiListener(), tt.name)
			}
			diffProto(t, socketAddress(tt.address, tt.port), got.GetAddress())
			if len(got.GetFilterChains()) != 1 || len(got.GetFilterChains()[0].GetFilters()) != 1 {
				t.Fatalf("filter chains = %v, want one chain with one filter", got.GetFilterChains())
			}
			f := got.GetFilterChains()[0].GetFilters()[0]
			if f.GetName() != "envoy.filters.network.tcp_proxy" {
				t.Errorf("filter name = %q", f.GetName())
			}
			diffProto(t, &tcpproxyv3.TcpProxy{
				StatPrefix:       tt.statPrefix,
				ClusterSpecifier: &tcpproxyv3.TcpProxy_Cluster{Cluster: tt.cluster},
			}, unpack(t, f.GetTypedConfig(), &tcpproxyv3.TcpProxy{}))
		})
	}
}
