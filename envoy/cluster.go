package envoy

import (
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	httpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
)

// defaultConnectTimeout is used when ClusterOptions.ConnectTimeout is zero.
const defaultConnectTimeout = 5 * time.Second

// httpProtocolOptionsKey is the extension name Envoy looks up in a cluster's
// typed_extension_protocol_options to find its upstream HTTP settings.
const httpProtocolOptionsKey = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"

// ClusterOptions configure a cluster.
type ClusterOptions struct {
	// Name is the cluster name; an EDS cluster also uses it as its EDS
	// service name.
	Name string
	// ConnectTimeout bounds upstream connection setup; zero means 5s.
	ConnectTimeout time.Duration
	// Protocol is the HTTP protocol Envoy speaks to the cluster's hosts.
	Protocol UpstreamProtocol
	// LB is the load balancing policy; the zero value is round robin.
	LB LoadBalancing
	// CircuitBreakers, if set, limit the cluster's connections and requests.
	CircuitBreakers *CircuitBreakers
	// OutlierDetection, if set, ejects failing hosts.
	OutlierDetection *OutlierDetection
	// LoadReporting names the management server itself as the cluster's
	// load reporting (LRS) server, so that proxyless gRPC clients report
	// the cluster's request counts to it. Envoy ignores the field: it
	// reports to its bootstrap's load_stats_config.
	LoadReporting bool
}

// UpstreamProtocol is the HTTP protocol Envoy speaks to a cluster's hosts.
// Proxyless gRPC clients ignore it.
type UpstreamProtocol int

const (
	// UpstreamHTTP1 is Envoy's own default, HTTP/1.1; the cluster carries no
	// protocol options.
	UpstreamHTTP1 UpstreamProtocol = iota
	// UpstreamHTTP2 always speaks HTTP/2, as gRPC upstreams require.
	UpstreamHTTP2
	// UpstreamDownstream speaks what the client spoke: HTTP/2 for a gRPC
	// client, HTTP/1.1 for curl. It suits an upstream whose protocol is not
	// known.
	UpstreamDownstream
)

// DNSType selects how a DNS cluster resolves its hosts.
type DNSType int

const (
	// DNSStrict resolves every host and balances over all the addresses
	// found (Envoy's STRICT_DNS). Proxyless gRPC clients reject it.
	DNSStrict DNSType = iota
	// DNSLogical resolves a single host and connects to the first address
	// found (Envoy's LOGICAL_DNS). It is the only DNS cluster type proxyless
	// gRPC clients accept.
	DNSLogical
)

// EDSCluster returns a cluster whose endpoints come over ADS, under the EDS
// service name opts.Name.
func EDSCluster(opts ClusterOptions) *clusterv3.Cluster {
	c := baseCluster(opts, clusterv3.Cluster_EDS)
	c.EdsClusterConfig = &clusterv3.Cluster_EdsClusterConfig{
		EdsConfig:   adsConfigSource(),
		ServiceName: opts.Name,
	}
	return c
}

// DNSCluster returns a cluster whose hosts are resolved by DNS, with the
// endpoints inline (built by LoadAssignment).
//
// A LOGICAL_DNS cluster keeps only the first endpoint of the first locality
// that has one: Envoy requires a LOGICAL_DNS cluster to hold exactly one
// endpoint, since it resolves a single host name, and LOGICAL_DNS is the only
// DNS cluster type proxyless gRPC clients accept. localities should then not
// be empty, or the cluster will have no endpoint at all.
func DNSCluster(opts ClusterOptions, dns DNSType, localities []LocalityEndpoints) *clusterv3.Cluster {
	typ := clusterv3.Cluster_STRICT_DNS
	if dns == DNSLogical {
		typ = clusterv3.Cluster_LOGICAL_DNS
		localities = firstEndpoint(localities)
	}
	c := baseCluster(opts, typ)
	c.LoadAssignment = LoadAssignment(opts.Name, localities)
	return c
}

// firstEndpoint returns the first endpoint of the first locality that has
// any, in its locality, or nil if there is none.
func firstEndpoint(localities []LocalityEndpoints) []LocalityEndpoints {
	for _, l := range localities {
		if len(l.Endpoints) > 0 {
			return []LocalityEndpoints{{Locality: l.Locality, Endpoints: l.Endpoints[:1]}}
		}
	}
	return nil
}

// baseCluster returns the fields every cluster shares: name, discovery type,
// connect timeout, load balancing, circuit breakers, outlier detection,
// upstream protocol options and load reporting.
func baseCluster(opts ClusterOptions, typ clusterv3.Cluster_DiscoveryType) *clusterv3.Cluster {
	c := &clusterv3.Cluster{
		Name:                 opts.Name,
		ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: typ},
		ConnectTimeout:       durationpb.New(connectTimeout(opts.ConnectTimeout)),
		CircuitBreakers:      circuitBreakers(opts.CircuitBreakers),
		OutlierDetection:     outlierDetection(opts.OutlierDetection),
	}
	applyLoadBalancing(c, opts.LB)
	if opts.LoadReporting {
		c.LrsServer = selfConfigSource()
	}
	if po := upstreamProtocolOptions(opts.Protocol); po != nil {
		c.TypedExtensionProtocolOptions = map[string]*anypb.Any{httpProtocolOptionsKey: mustAny(po)}
	}
	return c
}

// connectTimeout returns d, or the default for zero.
func connectTimeout(d time.Duration) time.Duration {
	if d == 0 {
		return defaultConnectTimeout
	}
	return d
}

// upstreamProtocolOptions returns the protocol options of a protocol, or nil
// for Envoy's default.
func upstreamProtocolOptions(p UpstreamProtocol) *httpv3.HttpProtocolOptions {
	switch p {
	case UpstreamHTTP2:
		return http2ProtocolOptions()
	case UpstreamDownstream:
		return &httpv3.HttpProtocolOptions{
			UpstreamProtocolOptions: &httpv3.HttpProtocolOptions_UseDownstreamProtocolConfig{
				UseDownstreamProtocolConfig: &httpv3.HttpProtocolOptions_UseDownstreamHttpConfig{
					HttpProtocolOptions:  &corev3.Http1ProtocolOptions{},
					Http2ProtocolOptions: &corev3.Http2ProtocolOptions{},
				},
			},
		}
	default:
		return nil
	}
}

// http2ProtocolOptions returns upstream options that speak HTTP/2 explicitly,
// rather than whatever the downstream used, as gRPC upstreams require.
func http2ProtocolOptions() *httpv3.HttpProtocolOptions {
	return &httpv3.HttpProtocolOptions{
		UpstreamProtocolOptions: &httpv3.HttpProtocolOptions_ExplicitHttpConfig_{
			ExplicitHttpConfig: &httpv3.HttpProtocolOptions_ExplicitHttpConfig{
				ProtocolConfig: &httpv3.HttpProtocolOptions_ExplicitHttpConfig_Http2ProtocolOptions{
					Http2ProtocolOptions: &corev3.Http2ProtocolOptions{},
				},
			},
		},
	}
}
