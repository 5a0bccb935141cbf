package envoy

import (
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	aggregatev3 "github.com/envoyproxy/go-control-plane/envoy/extensions/clusters/aggregate/v3"
	clusterprovidedv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/load_balancing_policies/cluster_provided/v3"
	roundrobinv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/load_balancing_policies/round_robin/v3"
	wrrlocalityv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/load_balancing_policies/wrr_locality/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Extension names of the aggregate cluster type and of the load balancing
// policies an aggregate cluster lists.
const (
	aggregateClusterType  = "envoy.clusters.aggregate"
	clusterProvidedPolicy = "envoy.load_balancing_policies.cluster_provided"
	wrrLocalityPolicy     = "envoy.load_balancing_policies.wrr_locality"
	roundRobinPolicyName  = "envoy.load_balancing_policies.round_robin"
)

// AggregateCluster returns an aggregate cluster that fails over between
// clusters in the order given: all traffic goes to the first cluster that
// has healthy hosts. clusters should not be empty, since gRPC clients reject
// an aggregate cluster without any.
//
// Envoy and gRPC disagree about the load balancing policy of an aggregate
// cluster. Envoy requires CLUSTER_PROVIDED, since the aggregate cluster
// brings its own load balancer, while gRPC rejects any lb_policy but
// ROUND_ROBIN, RING_HASH and LEAST_REQUEST, and balances every cluster under
// the aggregate with the aggregate's own policy. So lb_policy stays
// ROUND_ROBIN and load_balancing_policy, which both clients prefer to
// lb_policy, lists cluster_provided followed by round robin over weighted
// localities: each client uses the first policy it supports, Envoy the
// first and gRPC, which lacks cluster_provided, the second, the same policy
// it derives from ROUND_ROBIN.
func AggregateCluster(name string, clusters []string) *clusterv3.Cluster {
	return &clusterv3.Cluster{
		Name: name,
		ClusterDiscoveryType: &clusterv3.Cluster_ClusterType{
			ClusterType: &clusterv3.Cluster_CustomClusterType{
				Name:        aggregateClusterType,
				TypedConfig: mustAny(&aggregatev3.ClusterConfig{Clusters: clusters}),
			},
		},
		ConnectTimeout: durationpb.New(defaultConnectTimeout),
		LbPolicy:       clusterv3.Cluster_ROUND_ROBIN,
		LoadBalancingPolicy: &clusterv3.LoadBalancingPolicy{
			Policies: []*clusterv3.LoadBalancingPolicy_Policy{
				lbPolicy(clusterProvidedPolicy, &clusterprovidedv3.ClusterProvided{}),
				lbPolicy(wrrLocalityPolicy, &wrrlocalityv3.WrrLocality{
					EndpointPickingPolicy: &clusterv3.LoadBalancingPolicy{
						Policies: []*clusterv3.LoadBalancingPolicy_Policy{
							lbPolicy(roundRobinPolicyName, &roundrobinv3.RoundRobin{}),
						},
					},
				}),
			},
		},
	}
}

// lbPolicy returns one entry of a load_balancing_policy list.
func lbPolicy(name string, config proto.Message) *clusterv3.LoadBalancingPolicy_Policy {
	return &clusterv3.LoadBalancingPolicy_Policy{
		TypedExtensionConfig: &corev3.TypedExtensionConfig{Name: name, TypedConfig: mustAny(config)},
	}
}
