package envoy

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
)

var bootstrapTests = []struct {
	name      string
	opts      BootstrapOptions
	wantAdmin string
}{
	{
		name:      "defaults",
		opts:      BootstrapOptions{NodeID: "envoy-1", Cluster: "ingress", XDSHost: "switchyard.internal", XDSPort: 18000, AdminPort: 9901},
		wantAdmin: "127.0.0.1",
	},
	{
		name:      "admin address and ip xds host",
		opts:      BootstrapOptions{NodeID: "edge-a", Cluster: "edge", XDSHost: "10.1.2.3", XDSPort: 18000, AdminAddress: "0.0.0.0", AdminPort: 9000},
		wantAdmin: "0.0.0.0",
	},
	{
		// YAML 1.1 reads these unquoted as a bool and a number.
		name:      "yaml-ambiguous names",
		opts:      BootstrapOptions{NodeID: "on", Cluster: "123", XDSHost: "localhost", XDSPort: 1},
		wantAdmin: "127.0.0.1",
	},
}

func TestBootstrap(t *testing.T) {
	for _, tt := range bootstrapTests {
		t.Run(tt.name, func(t *testing.T) {
			got := Bootstrap(tt.opts)
			mustValidate(t, got)

			if got.GetNode().GetId() != tt.opts.NodeID || got.GetNode().GetCluster() != tt.opts.Cluster {
				t.Errorf("node = %v, want id %q cluster %q", got.GetNode(), tt.opts.NodeID, tt.opts.Cluster)
			}
			diffProto(t, socketAddress(tt.wantAdmin, tt.opts.AdminPort), got.GetAdmin().GetAddress())

			ads := &corev3.ConfigSource{
				ResourceApiVersion:    corev3.ApiVersion_V3,
				ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}},
			}
			diffProto(t, &bootstrapv3.Bootstrap_DynamicResources{
				AdsConfig: &corev3.ApiConfigSource{
					ApiType:                   corev3.ApiConfigSource_GRPC,
					TransportApiVersion:       corev3.ApiVersion_V3,
					SetNodeOnFirstMessageOnly: true,
					GrpcServices: []*corev3.GrpcService{{TargetSpecifier: &corev3.GrpcService_EnvoyGrpc_{
						EnvoyGrpc: &corev3.GrpcService_EnvoyGrpc{ClusterName: "switchyard_xds"},
					}}},
				},
				CdsConfig: ads,
				LdsConfig: ads,
			}, got.GetDynamicResources())

			diffProto(t, &bootstrapv3.ClusterManager{LoadStatsConfig: &corev3.ApiConfigSource{
				ApiType:             corev3.ApiConfigSource_GRPC,
				TransportApiVersion: corev3.ApiVersion_V3,
				GrpcServices: []*corev3.GrpcService{{TargetSpecifier: &corev3.GrpcService_EnvoyGrpc_{
					EnvoyGrpc: &corev3.GrpcService_EnvoyGrpc{ClusterName: "switchyard_xds"},
				}}},
			}}, got.GetClusterManager())

			clusters := got.GetStaticResources().GetClusters()
			if len(clusters) != 1 {
				t.Fatalf("got %d static clusters, want 1", len(clusters))
			}
			c := clusters[0]
			if c.GetName() != "switchyard_xds" || c.GetType() != clusterv3.Cluster_STRICT_DNS || c.GetConnectTimeout().AsDuration() != 5*time.Second {
				t.Errorf("xds cluster = %q %v %v, want switchyard_xds STRICT_DNS 5s", c.GetName(), c.GetType(), c.GetConnectTimeout().AsDuration())
			}
			checkHTTP2(t, c.GetTypedExtensionProtocolOptions(), true)
			eps := c.GetLoadAssignment().GetEndpoints()
			if len(eps) != 1 || len(eps[0].GetLbEndpoints()) != 1 {
				t.Fatalf("xds cluster endpoints = %v, want exactly one", eps)
			}
			diffProto(t, socketAddress(tt.opts.XDSHost, tt.opts.XDSPort), eps[0].GetLbEndpoints()[0].GetEndpoint().GetAddress())
		})
	}
}

func TestBootstrapYAMLRoundTrip(t *testing.T) {
	for _, tt := range bootstrapTests {
		t.Run(tt.name, func(t *testing.T) {
			want := Bootstrap(tt.opts)
			y, err := BootstrapYAML(want)
			if err != nil {
				t.Fatalf("BootstrapYAML: %v", err)
			}
			for _, s := range []string{"node:", "id: " + tt.opts.NodeID, "cluster: " + tt.opts.Cluster, "connect_timeout: 5s", "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"} {
				if !strings.Contains(strings.ReplaceAll(string(y), `"`, ""), s) {
					t.Errorf("YAML lacks %q:\n%s", s, y)
				}
			}
			got, err := ParseBootstrapYAML(y)
			if err != nil {
				t.Fatalf("ParseBootstrapYAML: %v\n%s", err, y)
			}
			mustValidate(t, got)
			diffProto(t, want, got)

			again, err := BootstrapYAML(got)
			if err != nil {
				t.Fatalf("BootstrapYAML again: %v", err)
			}
			if !bytes.Equal(y, again) {
				t.Errorf("YAML is not stable:\n%s\nthen\n%s", y, again)
			}
		})
	}
}

func TestParseBootstrapYAMLErrors(t *testing.T) {
	tests := []struct {
		name         string
		yaml         string
		wantValidate bool // want a validation error rather than a parse error
	}{
		{name: "not yaml", yaml: "node: [unclosed"},
		{name: "unknown field", yaml: "node:\n  id: a\nnot_a_field: 1\n"},
		{name: "wrong type", yaml: "node: 3\n"},
		{name: "unknown typed config", yaml: `
static_resources:
  clusters:
  - name: x
    connect_timeout: 1s
    typed_extension_protocol_options:
      k:
        "@type": type.googleapis.com/no.such.Type
`},
		{name: "fails validation", wantValidate: true, yaml: `
static_resources:
  clusters:
  - name: ""
    connect_timeout: 1s
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := ParseBootstrapYAML([]byte(tt.yaml))
			if err == nil {
				t.Fatalf("ParseBootstrapYAML = %v, want error", b)
			}
			var verr bootstrapv3.BootstrapMultiError
			if errors.As(err, &verr) != tt.wantValidate {
				t.Errorf("error %q: validation error = %v, want %v", err, !tt.wantValidate, tt.wantValidate)
			}
		})
	}
}

func FuzzParseBootstrapYAML(f *testing.F) {
	for _, tt := range bootstrapTests {
		y, err := BootstrapYAML(Bootstrap(tt.opts))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(y)
	}
	f.Add([]byte("node: {id: a}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := ParseBootstrapYAML(data)
		if err != nil {
			return
		}
		// Whatever parses must render and parse back to the same bootstrap.
		y, err := BootstrapYAML(b)
		if err != nil {
			t.Fatalf("BootstrapYAML of parsed bootstrap: %v", err)
		}
		again, err := ParseBootstrapYAML(y)
		if err != nil {
			t.Fatalf("reparse: %v\n%s", err, y)
		}
		diffProto(t, b, again)
	})
}
