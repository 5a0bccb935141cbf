package main

import (
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"google.golang.org/protobuf/proto"
)

func marshal(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEDSServiceName(t *testing.T) {
	tests := []struct {
		name    string
		cluster *clusterv3.Cluster
		want    string
		eds     bool
	}{
		{"eds by own name", &clusterv3.Cluster{Name: "web", ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_EDS},
			EdsClusterConfig: &clusterv3.Cluster_EdsClusterConfig{EdsConfig: &corev3.ConfigSource{}}}, "web", true},
		{"eds by service name", &clusterv3.Cluster{Name: "web", ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_EDS},
			EdsClusterConfig: &clusterv3.Cluster_EdsClusterConfig{ServiceName: "web-eds"}}, "web-eds", true},
		{"strict dns", &clusterv3.Cluster{Name: "ext", ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STRICT_DNS}}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, eds, err := edsServiceName(marshal(t, tt.cluster))
			if err != nil || got != tt.want || eds != tt.eds {
				t.Errorf("edsServiceName = %q, %v, %v; want %q, %v", got, eds, err, tt.want, tt.eds)
			}
		})
	}
}

func TestCLAEndpoints(t *testing.T) {
	lb := func(n int) []*endpointv3.LbEndpoint { return make([]*endpointv3.LbEndpoint, n) }
	cla := &endpointv3.ClusterLoadAssignment{ClusterName: "web", Endpoints: []*endpointv3.LocalityLbEndpoints{
		{LbEndpoints: fill(lb(2))}, {Locality: &corev3.Locality{Zone: "b"}, LbEndpoints: fill(lb(3))},
	}}
	name, n, err := claEndpoints(marshal(t, cla))
	if err != nil || name != "web" || n != 5 {
		t.Errorf("claEndpoints = %q, %d, %v; want web, 5", name, n, err)
	}
	// Consul sends a critical instance marked unhealthy: it takes no traffic.
	cla.Endpoints[1].LbEndpoints[0].HealthStatus = corev3.HealthStatus_UNHEALTHY
	cla.Endpoints[1].LbEndpoints[1].HealthStatus = corev3.HealthStatus_HEALTHY
	cla.Endpoints[0].LbEndpoints[0].HealthStatus = corev3.HealthStatus_DRAINING
	if _, n, err := claEndpoints(marshal(t, cla)); err != nil || n != 3 {
		t.Errorf("claEndpoints with one unhealthy and one draining = %d, %v; want 3", n, err)
	}
	if _, _, err := claEndpoints([]byte{0x0a, 0x05, 'w'}); err == nil {
		t.Error("truncated message: want an error")
	}
}

// fill gives every endpoint a value, since nil elements do not marshal.
func fill(es []*endpointv3.LbEndpoint) []*endpointv3.LbEndpoint {
	for i := range es {
		es[i] = &endpointv3.LbEndpoint{}
	}
	return es
}
