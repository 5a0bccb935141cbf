package envoy

import (
	"slices"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	aggregatev3 "github.com/envoyproxy/go-control-plane/envoy/extensions/clusters/aggregate/v3"
	clusterprovidedv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/load_balancing_policies/cluster_provided/v3"
	roundrobinv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/load_balancing_policies/round_robin/v3"
	wrrlocalityv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/load_balancing_policies/wrr_locality/v3"
)

func TestAggregateCluster(t *testing.T) {
	tests := []struct {
		name     string
		clusters []string
	}{
		{name: "one", clusters: []string{"web-primary"}},
		{name: "order kept", clusters: []string{"web-dc2", "web-dc1", "web-dc3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := AggregateCluster("web", tt.clusters)
			mustValidate(t, got)
			if got.GetName() != "web" || got.GetConnectTimeout().AsDuration() != 5*time.Second {
				t.Errorf("name %q timeout %v, want web 5s", got.GetName(), got.GetConnectTimeout().AsDuration())
			}
			ct := got.GetClusterType()
			if ct.GetName() != "envoy.clusters.aggregate" {
				t.Errorf("cluster_type name = %q", ct.GetName())
			}
			cfg := unpack(t, ct.GetTypedConfig(), &aggregatev3.ClusterConfig{})
			if !slices.Equal(cfg.GetClusters(), tt.clusters) {
				t.Errorf("clusters = %v, want %v", cfg.GetClusters(), tt.clusters)
			}
			checkAggregateLB(t, got)
		})
	}
}

// checkAggregateLB checks the load balancing an aggregate cluster needs to
// be accepted by both kinds of client: lb_policy ROUND_ROBIN, the only
// value gRPC takes that Envoy overrides, then load_balancing_policy listing
// cluster_provided for Envoy and round robin over weighted localities for
// gRPC.
func checkAggregateLB(t *testing.T, c *clusterv3.Cluster) {
	t.Helper()
	if c.GetLbPolicy() != clusterv3.Cluster_ROUND_ROBIN {
		t.Errorf("lb_policy = %v, want ROUND_ROBIN", c.GetLbPolicy())
	}
	policies := c.GetLoadBalancingPolicy().GetPolicies()
	if len(policies) != 2 {
		t.Fatalf("load_balancing_policy has %d policies, want 2", len(policies))
	}
	first, second := policies[0].GetTypedExtensionConfig(), policies[1].GetTypedExtensionConfig()
	if first.GetName() != "envoy.load_balancing_policies.cluster_provided" || second.GetName() != "envoy.load_balancing_policies.wrr_locality" {
		t.Errorf("policy names = %q, %q", first.GetName(), second.GetName())
	}
	unpack(t, first.GetTypedConfig(), &clusterprovidedv3.ClusterProvided{})
	wrr := unpack(t, second.GetTypedConfig(), &wrrlocalityv3.WrrLocality{})
	endpointPicking := wrr.GetEndpointPickingPolicy().GetPolicies()
	if len(endpointPicking) != 1 || endpointPicking[0].GetTypedExtensionConfig().GetName() != "envoy.load_balancing_policies.round_robin" {
		t.Fatalf("endpoint picking policy = %v, want round robin alone", endpointPicking)
	}
	unpack(t, endpointPicking[0].GetTypedExtensionConfig().GetTypedConfig(), &roundrobinv3.RoundRobin{})
}
