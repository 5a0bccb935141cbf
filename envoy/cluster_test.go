package envoy

import (
	"slices"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	httpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
)

func TestEDSCluster(t *testing.T) {
	tests := []struct {
		name        string
		opts        ClusterOptions
		wantTimeout time.Duration
	}{
		{name: "default timeout", opts: ClusterOptions{Name: "web"}, wantTimeout: 5 * time.Second},
		{name: "explicit timeout", opts: ClusterOptions{Name: "web", ConnectTimeout: 250 * time.Millisecond}, wantTimeout: 250 * time.Millisecond},
		{name: "http2", opts: ClusterOptions{Name: "grpc", Protocol: UpstreamHTTP2}, wantTimeout: 5 * time.Second},
		{name: "load reporting", opts: ClusterOptions{Name: "web~v2", LoadReporting: true}, wantTimeout: 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := EDSCluster(tt.opts)
			mustValidate(t, got)

			opts := got.GetTypedExtensionProtocolOptions()
			got.TypedExtensionProtocolOptions = nil // checked below
			var lrs *corev3.ConfigSource
			if tt.opts.LoadReporting {
				lrs = &corev3.ConfigSource{
					ResourceApiVersion:    corev3.ApiVersion_V3,
					ConfigSourceSpecifier: &corev3.ConfigSource_Self{Self: &corev3.SelfConfigSource{}},
				}
			}
			diffProto(t, &clusterv3.Cluster{
				Name:                 tt.opts.Name,
				ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_EDS},
				EdsClusterConfig: &clusterv3.Cluster_EdsClusterConfig{
					EdsConfig: &corev3.ConfigSource{
						ResourceApiVersion:    corev3.ApiVersion_V3,
						ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}},
					},
					ServiceName: tt.opts.Name,
				},
				ConnectTimeout: durationpb.New(tt.wantTimeout),
				LbPolicy:       clusterv3.Cluster_ROUND_ROBIN,
				LrsServer:      lrs,
			}, got)
			checkHTTP2(t, opts, tt.opts.Protocol == UpstreamHTTP2)
		})
	}
}

// checkHTTP2 checks that a cluster's extension protocol options ask for
// explicit HTTP/2 when, and only when, http2 is set.
func checkHTTP2(t *testing.T, opts map[string]*anypb.Any, http2 bool) {
	t.Helper()
	if !http2 {
		if len(opts) != 0 {
			t.Errorf("typed_extension_protocol_options = %v, want none", opts)
		}
		return
	}
	if len(opts) != 1 {
		t.Fatalf("typed_extension_protocol_options has %d entries, want 1", len(opts))
	}
	got := unpack(t, opts["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"], &httpv3.HttpProtocolOptions{})
	if got.GetExplicitHttpConfig().GetHttp2ProtocolOptions() == nil {
		t.Errorf("HttpProtocolOptions = %v, want explicit http2", got)
	}
}

func TestDNSCluster(t *testing.T) {
	twoLocalities := []LocalityEndpoints{
		{Locality: Locality{"eu", "a"}, Endpoints: []Endpoint{
			{Address: "a1.example.com", Port: 80, Health: corev3.HealthStatus_HEALTHY},
			{Address: "a2.example.com", Port: 80, Health: corev3.HealthStatus_HEALTHY},
		}},
		{Locality: Locality{"eu", "b"}, Endpoints: []Endpoint{
			{Address: "b1.example.com", Port: 80, Health: corev3.HealthStatus_HEALTHY},
		}},
	}
	emptyFirst := append([]LocalityEndpoints{{Locality: Locality{"us", "x"}}}, twoLocalities[1:]...)

	tests := []struct {
		name       string
		dns        DNSType
		localities []LocalityEndpoints
		wantType   clusterv3.Cluster_DiscoveryType
		wantHosts  []string // per locality, in order
		wantZones  []string
	}{
		{
			name: "strict keeps all", dns: DNSStrict, localities: twoLocalities,
			wantType:  clusterv3.Cluster_STRICT_DNS,
			wantHosts: []string{"a1.example.com", "a2.example.com", "b1.example.com"},
			wantZones: []string{"a", "b"},
		},
		{
			name: "logical keeps first endpoint", dns: DNSLogical, localities: twoLocalities,
			wantType:  clusterv3.Cluster_LOGICAL_DNS,
			wantHosts: []string{"a1.example.com"},
			wantZones: []string{"a"},
		},
		{
			name: "logical skips empty locality", dns: DNSLogical, localities: emptyFirst,
			wantType:  clusterv3.Cluster_LOGICAL_DNS,
			wantHosts: []string{"b1.example.com"},
			wantZones: []string{"b"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := DNSCluster(ClusterOptions{Name: "ext", Protocol: UpstreamHTTP2}, tt.dns, tt.localities)
			mustValidate(t, got)
			if got.GetType() != tt.wantType {
				t.Errorf("type = %v, want %v", got.GetType(), tt.wantType)
			}
			if got.GetLbPolicy() != clusterv3.Cluster_ROUND_ROBIN {
				t.Errorf("lb_policy = %v, want ROUND_ROBIN", got.GetLbPolicy())
			}
			if got.GetConnectTimeout().AsDuration() != 5*time.Second {
				t.Errorf("connect_timeout = %v, want 5s", got.GetConnectTimeout().AsDuration())
			}
			checkHTTP2(t, got.GetTypedExtensionProtocolOptions(), true)

			la := got.GetLoadAssignment()
			if la.GetClusterName() != "ext" {
				t.Errorf("load_assignment.cluster_name = %q, want ext", la.GetClusterName())
			}
			var hosts, zones []string
			for _, l := range la.GetEndpoints() {
				zones = append(zones, l.GetLocality().GetZone())
				for _, e := range l.GetLbEndpoints() {
					hosts = append(hosts, e.GetEndpoint().GetAddress().GetSocketAddress().GetAddress())
				}
			}
			if !slices.Equal(hosts, tt.wantHosts) || !slices.Equal(zones, tt.wantZones) {
				t.Errorf("hosts %v in zones %v, want %v in %v", hosts, zones, tt.wantHosts, tt.wantZones)
			}
		})
	}
}

func TestUpstreamProtocolOptions(t *testing.T) {
	tests := []struct {
		name     string
		protocol UpstreamProtocol
		check    func(*httpv3.HttpProtocolOptions) bool
	}{
		{"http1 carries no options", UpstreamHTTP1, func(o *httpv3.HttpProtocolOptions) bool { return o == nil }},
		{"http2 is explicit", UpstreamHTTP2, func(o *httpv3.HttpProtocolOptions) bool {
			return o.GetExplicitHttpConfig().GetHttp2ProtocolOptions() != nil
		}},
		{"downstream offers both", UpstreamDownstream, func(o *httpv3.HttpProtocolOptions) bool {
			d := o.GetUseDownstreamProtocolConfig()
			return d.GetHttpProtocolOptions() != nil && d.GetHttp2ProtocolOptions() != nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := EDSCluster(ClusterOptions{Name: "web", Protocol: tt.protocol})
			mustValidate(t, c)
			var got *httpv3.HttpProtocolOptions
			if a := c.GetTypedExtensionProtocolOptions()[httpProtocolOptionsKey]; a != nil {
				got = unpack(t, a, &httpv3.HttpProtocolOptions{})
				mustValidate(t, got)
			}
			if !tt.check(got) {
				t.Errorf("protocol options = %v", got)
			}
		})
	}
}
