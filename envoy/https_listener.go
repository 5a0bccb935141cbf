package envoy

import (
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	tlsinspectorv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/listener/tls_inspector/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
)

// Extension names of the TLS pieces this package configures.
const (
	tlsInspectorFilter = "envoy.filters.listener.tls_inspector"
	tlsTransportSocket = "envoy.transport_sockets.tls"
)

// TLSVersion is the oldest TLS version a listener accepts. Only 1.2 and
// 1.3 are offered: older versions are broken.
type TLSVersion int

// The TLS versions a listener may require; the zero value is TLS 1.2.
const (
	TLS12 TLSVersion = iota
	TLS13
)

// HTTPSListenerOptions describe a listener that terminates TLS and serves
// HTTP from routes fetched over ADS.
type HTTPSListenerOptions struct {
	// Name is the listener's name and its connection managers' stat prefix.
	Name string
	// Address and Port are where the listener accepts connections.
	Address string
	Port    uint32
	// RouteConfigName is the route configuration fetched over ADS.
	RouteConfigName string
	// Certificates are the filter chains, one per group, in the order
	// given; Envoy picks the group by the client's SNI.
	Certificates []CertificateGroup
	// MinTLSVersion is the oldest TLS version accepted.
	MinTLSVersion TLSVersion
	// ALPN are the protocols offered, most preferred first; empty offers
	// "h2" and "http/1.1".
	ALPN []string
	// HCM adds access logs and client address handling to every chain's
	// connection manager.
	HCM HCMOptions
}

// CertificateGroup is one filter chain of an HTTPS listener: the server
// names it answers and the certificates it presents.
type CertificateGroup struct {
	// ServerNames are the SNI names the chain serves, e.g. "example.com"
	// or "*.example.com"; empty makes it the chain for every other name
	// and for clients that send none.
	ServerNames []string
	// SecretNames are the SDS secrets, fetched over ADS, holding the
	// certificates and keys; Envoy picks one by the client's key types.
	SecretNames []string
}

// HTTPSListener returns a listener on opts.Address:opts.Port that inspects
// the TLS handshake and hands each connection to the filter chain of its
// SNI name, which terminates TLS and holds an HTTP connection manager.
func HTTPSListener(opts HTTPSListenerOptions) *listenerv3.Listener {
	chains := make([]*listenerv3.FilterChain, 0, len(opts.Certificates))
	for _, g := range opts.Certificates {
		hcm := applyHCMOptions(httpConnectionManager(opts.Name, opts.RouteConfigName), opts.HCM)
		chain := filterChain(httpConnectionManagerFilter, hcm)
		if len(g.ServerNames) > 0 {
			chain.FilterChainMatch = &listenerv3.FilterChainMatch{ServerNames: g.ServerNames}
		}
		chain.TransportSocket = &corev3.TransportSocket{
			Name:       tlsTransportSocket,
			ConfigType: &corev3.TransportSocket_TypedConfig{TypedConfig: mustAny(DownstreamTLSContext(g.SecretNames, opts.MinTLSVersion, opts.ALPN))},
		}
		chains = append(chains, chain)
	}
	return &listenerv3.Listener{
		Name:    opts.Name,
		Address: socketAddress(opts.Address, opts.Port),
		ListenerFilters: []*listenerv3.ListenerFilter{{
			Name:       tlsInspectorFilter,
			ConfigType: &listenerv3.ListenerFilter_TypedConfig{TypedConfig: mustAny(&tlsinspectorv3.TlsInspector{})},
		}},
		FilterChains: chains,
	}
}

// DownstreamTLSContext returns the TLS settings of a listener's filter
// chain: the certificates of the SDS secrets secretNames, fetched over ADS,
// at least TLS version minVersion, and the ALPN protocols alpn ("h2" and
// "http/1.1" when empty).
func DownstreamTLSContext(secretNames []string, minVersion TLSVersion, alpn []string) *tlsv3.DownstreamTlsContext {
	if len(alpn) == 0 {
		alpn = []string{"h2", "http/1.1"}
	}
	secrets := make([]*tlsv3.SdsSecretConfig, 0, len(secretNames))
	for _, n := range secretNames {
		secrets = append(secrets, &tlsv3.SdsSecretConfig{Name: n, SdsConfig: adsConfigSource()})
	}
	return &tlsv3.DownstreamTlsContext{
		CommonTlsContext: &tlsv3.CommonTlsContext{
			TlsParams:                      &tlsv3.TlsParameters{TlsMinimumProtocolVersion: tlsProtocol(minVersion)},
			TlsCertificateSdsSecretConfigs: secrets,
			AlpnProtocols:                  alpn,
		},
	}
}

// tlsProtocol returns v as Envoy's TLS protocol version.
func tlsProtocol(v TLSVersion) tlsv3.TlsParameters_TlsProtocol {
	if v == TLS13 {
		return tlsv3.TlsParameters_TLSv1_3
	}
	return tlsv3.TlsParameters_TLSv1_2
}
