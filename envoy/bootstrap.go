package envoy

import (
	"fmt"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoregistry"
	"sigs.k8s.io/yaml"
)

// xdsClusterName is the static cluster through which Envoy reaches
// Switchyard's xDS server.
const xdsClusterName = "switchyard_xds"

// defaultAdminAddress keeps Envoy's admin interface off the network unless
// asked otherwise.
const defaultAdminAddress = "127.0.0.1"

// BootstrapOptions configure the bootstrap of an Envoy that Switchyard
// manages.
type BootstrapOptions struct {
	// NodeID and Cluster identify the Envoy to the xDS server.
	NodeID, Cluster string
	// XDSHost is the host name or IP address of Switchyard's xDS server.
	XDSHost string
	// XDSPort is the port of Switchyard's xDS server.
	XDSPort uint32
	// AdminAddress is where Envoy's admin interface listens; empty means
	// 127.0.0.1.
	AdminAddress string
	// AdminPort is the port of Envoy's admin interface.
	AdminPort uint32
}

// Bootstrap returns an Envoy bootstrap that takes all of its listeners and
// clusters from Switchyard over one ADS stream, reached through a static
// HTTP/2 cluster named "switchyard_xds", and reports its load to Switchyard
// over the same cluster.
func Bootstrap(opts BootstrapOptions) *bootstrapv3.Bootstrap {
	adminAddress := opts.AdminAddress
	if adminAddress == "" {
		adminAddress = defaultAdminAddress
	}
	xds := DNSCluster(ClusterOptions{Name: xdsClusterName, Protocol: UpstreamHTTP2}, DNSStrict,
		[]LocalityEndpoints{{Endpoints: []Endpoint{{Address: opts.XDSHost, Port: opts.XDSPort}}}})
	return &bootstrapv3.Bootstrap{
		Node: &corev3.Node{Id: opts.NodeID, Cluster: opts.Cluster},
		DynamicResources: &bootstrapv3.Bootstrap_DynamicResources{
			AdsConfig: adsAPIConfigSource(),
			CdsConfig: adsConfigSource(),
			LdsConfig: adsConfigSource(),
		},
		StaticResources: &bootstrapv3.Bootstrap_StaticResources{
			Clusters: []*clusterv3.Cluster{xds},
		},
		// Envoy reports load where its bootstrap says, never to a
		// cluster's lrs_server: to Switchyard, which serves LRS on the
		// xDS port.
		ClusterManager: &bootstrapv3.ClusterManager{LoadStatsConfig: lrsAPIConfigSource()},
		Admin:          &bootstrapv3.Admin{Address: socketAddress(adminAddress, opts.AdminPort)},
	}
}

// adsAPIConfigSource returns the gRPC ADS stream to the xDS cluster.
func adsAPIConfigSource() *corev3.ApiConfigSource {
	return &corev3.ApiConfigSource{
		ApiType:             corev3.ApiConfigSource_GRPC,
		TransportApiVersion: corev3.ApiVersion_V3,
		// The server remembers the node of a stream's first request, so
		// repeating it on every request only costs bandwidth.
		SetNodeOnFirstMessageOnly: true,
		GrpcServices:              xdsGrpcServices(),
	}
}

// lrsAPIConfigSource returns the gRPC load reporting stream to the xDS
// cluster.
func lrsAPIConfigSource() *corev3.ApiConfigSource {
	return &corev3.ApiConfigSource{
		ApiType:             corev3.ApiConfigSource_GRPC,
		TransportApiVersion: corev3.ApiVersion_V3,
		GrpcServices:        xdsGrpcServices(),
	}
}

// xdsGrpcServices returns the gRPC service of the xDS cluster.
func xdsGrpcServices() []*corev3.GrpcService {
	return []*corev3.GrpcService{{
		TargetSpecifier: &corev3.GrpcService_EnvoyGrpc_{
			EnvoyGrpc: &corev3.GrpcService_EnvoyGrpc{ClusterName: xdsClusterName},
		},
	}}
}

// BootstrapYAML renders b as YAML with the snake_case field names the Envoy
// documentation uses.
func BootstrapYAML(b *bootstrapv3.Bootstrap) ([]byte, error) {
	j, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("marshal bootstrap to json: %w", err)
	}
	y, err := yaml.JSONToYAML(j)
	if err != nil {
		return nil, fmt.Errorf("convert bootstrap json to yaml: %w", err)
	}
	return y, nil
}

// ParseBootstrapYAML parses and validates a bootstrap written as YAML, the
// inverse of BootstrapYAML. Typed configs resolve against the proto types
// linked into the binary, which always include the Envoy extensions this
// package builds (HTTP connection manager, router, upstream HTTP protocol
// options); a typed config of an unknown type is an error.
func ParseBootstrapYAML(data []byte) (*bootstrapv3.Bootstrap, error) {
	j, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, fmt.Errorf("convert bootstrap yaml to json: %w", err)
	}
	b := &bootstrapv3.Bootstrap{}
	unmarshal := protojson.UnmarshalOptions{Resolver: protoregistry.GlobalTypes}
	if err := unmarshal.Unmarshal(j, b); err != nil {
		return nil, fmt.Errorf("unmarshal bootstrap: %w", err)
	}
	if err := b.ValidateAll(); err != nil {
		return nil, fmt.Errorf("validate bootstrap: %w", err)
	}
	return b, nil
}
