package envoy

import (
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// ptr returns a pointer to v.
func ptr[T any](v T) *T { return &v }

func TestClusterLoadBalancing(t *testing.T) {
	tests := []struct {
		name       string
		lb         LoadBalancing
		wantPolicy clusterv3.Cluster_LbPolicy
		wantConfig any // the lb_config oneof, nil for none
	}{
		{name: "zero is round robin", wantPolicy: clusterv3.Cluster_ROUND_ROBIN},
		{name: "round robin ignores other fields", lb: LoadBalancing{ChoiceCount: 3, MinRingSize: 10}, wantPolicy: clusterv3.Cluster_ROUND_ROBIN},
		{name: "least request default", lb: LoadBalancing{Policy: LBLeastRequest}, wantPolicy: clusterv3.Cluster_LEAST_REQUEST},
		{
			name: "least request choice count", lb: LoadBalancing{Policy: LBLeastRequest, ChoiceCount: 3},
			wantPolicy: clusterv3.Cluster_LEAST_REQUEST,
			wantConfig: &clusterv3.Cluster_LeastRequestLbConfig_{LeastRequestLbConfig: &clusterv3.Cluster_LeastRequestLbConfig{
				ChoiceCount: wrapperspb.UInt32(3),
			}},
		},
		{
			name: "ring hash default", lb: LoadBalancing{Policy: LBRingHash},
			wantPolicy: clusterv3.Cluster_RING_HASH,
			wantConfig: &clusterv3.Cluster_RingHashLbConfig_{RingHashLbConfig: &clusterv3.Cluster_RingHashLbConfig{
				HashFunction: clusterv3.Cluster_RingHashLbConfig_XX_HASH,
			}},
		},
		{
			name: "ring hash sizes", lb: LoadBalancing{Policy: LBRingHash, MinRingSize: 2048, MaxRingSize: 1 << 20},
			wantPolicy: clusterv3.Cluster_RING_HASH,
			wantConfig: &clusterv3.Cluster_RingHashLbConfig_{RingHashLbConfig: &clusterv3.Cluster_RingHashLbConfig{
				HashFunction:    clusterv3.Cluster_RingHashLbConfig_XX_HASH,
				MinimumRingSize: wrapperspb.UInt64(2048),
				MaximumRingSize: wrapperspb.UInt64(1 << 20),
			}},
		},
		{name: "maglev", lb: LoadBalancing{Policy: LBMaglev}, wantPolicy: clusterv3.Cluster_MAGLEV},
		{name: "random", lb: LoadBalancing{Policy: LBRandom}, wantPolicy: clusterv3.Cluster_RANDOM},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := ClusterOptions{Name: "web", LB: tt.lb}
			for _, c := range []*clusterv3.Cluster{EDSCluster(opts), DNSCluster(opts, DNSLogical, oneHost())} {
				mustValidate(t, c)
				if c.GetLbPolicy() != tt.wantPolicy {
					t.Errorf("%v cluster: lb_policy = %v, want %v", c.GetType(), c.GetLbPolicy(), tt.wantPolicy)
				}
				diffProto(t, tt.wantConfig, c.LbConfig)
				if c.GetRingHashLbConfig() != nil && c.GetRingHashLbConfig().GetHashFunction() != clusterv3.Cluster_RingHashLbConfig_XX_HASH {
					t.Errorf("ring hash function = %v, want XX_HASH", c.GetRingHashLbConfig().GetHashFunction())
				}
			}
		})
	}
}

// oneHost returns the endpoints of a DNS cluster with a single host.
func oneHost() []LocalityEndpoints {
	return []LocalityEndpoints{{Endpoints: []Endpoint{{Address: "ext.example.com", Port: 443}}}}
}

func TestClusterCircuitBreakers(t *testing.T) {
	tests := []struct {
		name string
		cb   *CircuitBreakers
		want *clusterv3.CircuitBreakers
	}{
		{name: "nil", cb: nil, want: nil},
		{
			name: "only max requests, as gRPC reads",
			cb:   &CircuitBreakers{MaxRequests: ptr(uint32(200))},
			want: &clusterv3.CircuitBreakers{Thresholds: []*clusterv3.CircuitBreakers_Thresholds{{
				Priority: corev3.RoutingPriority_DEFAULT, MaxRequests: wrapperspb.UInt32(200),
			}}},
		},
		{
			name: "all, zero kept",
			cb:   &CircuitBreakers{MaxConnections: ptr(uint32(0)), MaxPendingRequests: ptr(uint32(10)), MaxRequests: ptr(uint32(1000))},
			want: &clusterv3.CircuitBreakers{Thresholds: []*clusterv3.CircuitBreakers_Thresholds{{
				Priority:           corev3.RoutingPriority_DEFAULT,
				MaxConnections:     wrapperspb.UInt32(0),
				MaxPendingRequests: wrapperspb.UInt32(10),
				MaxRequests:        wrapperspb.UInt32(1000),
			}}},
		},
		{
			name: "empty still sets a default threshold",
			cb:   &CircuitBreakers{},
			want: &clusterv3.CircuitBreakers{Thresholds: []*clusterv3.CircuitBreakers_Thresholds{{Priority: corev3.RoutingPriority_DEFAULT}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := EDSCluster(ClusterOptions{Name: "web", CircuitBreakers: tt.cb})
			mustValidate(t, c)
			diffProto(t, tt.want, c.GetCircuitBreakers())
		})
	}
}

func TestClusterOutlierDetection(t *testing.T) {
	tests := []struct {
		name string
		od   *OutlierDetection
		want *clusterv3.OutlierDetection
	}{
		{name: "nil", od: nil, want: nil},
		{name: "empty turns on defaults", od: &OutlierDetection{}, want: &clusterv3.OutlierDetection{}},
		{
			name: "all",
			od: &OutlierDetection{
				Interval: 10 * time.Second, Consecutive5xx: 5, EnforcingConsecutive5xx: ptr(uint32(100)),
				MaxEjectionPercent: ptr(uint32(50)), BaseEjectionTime: 30 * time.Second,
			},
			want: &clusterv3.OutlierDetection{
				Interval:                 durationpb.New(10 * time.Second),
				Consecutive_5Xx:          wrapperspb.UInt32(5),
				EnforcingConsecutive_5Xx: wrapperspb.UInt32(100),
				MaxEjectionPercent:       wrapperspb.UInt32(50),
				BaseEjectionTime:         durationpb.New(30 * time.Second),
			},
		},
		{
			name: "explicit zero enforcement is kept",
			od:   &OutlierDetection{Consecutive5xx: 3, EnforcingConsecutive5xx: ptr(uint32(0))},
			want: &clusterv3.OutlierDetection{Consecutive_5Xx: wrapperspb.UInt32(3), EnforcingConsecutive_5Xx: wrapperspb.UInt32(0)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := EDSCluster(ClusterOptions{Name: "web", OutlierDetection: tt.od})
			mustValidate(t, c)
			diffProto(t, tt.want, c.GetOutlierDetection())
		})
	}
}

// TestClusterOptionsInvalid shows that values Envoy and gRPC clients reject
// are caught by ValidateAll, which callers run before publishing.
func TestClusterOptionsInvalid(t *testing.T) {
	tests := []struct {
		name string
		opts ClusterOptions
	}{
		{name: "choice count 1", opts: ClusterOptions{LB: LoadBalancing{Policy: LBLeastRequest, ChoiceCount: 1}}},
		{name: "ring above 8M", opts: ClusterOptions{LB: LoadBalancing{Policy: LBRingHash, MaxRingSize: 8388609}}},
		{name: "ejection above 100%", opts: ClusterOptions{OutlierDetection: &OutlierDetection{MaxEjectionPercent: ptr(uint32(101))}}},
		{name: "enforcement above 100%", opts: ClusterOptions{OutlierDetection: &OutlierDetection{EnforcingConsecutive5xx: ptr(uint32(101))}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Name = "web"
			if err := EDSCluster(tt.opts).ValidateAll(); err == nil {
				t.Error("ValidateAll = nil, want an error")
			}
		})
	}
}

// TestClusterZeroOptionsUnchanged pins the encoding of a cluster built
// without the policy options to the one before they existed, which the
// snapshot golden files depend on.
func TestClusterZeroOptionsUnchanged(t *testing.T) {
	want := &clusterv3.Cluster{
		Name:                 "web",
		ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_EDS},
		EdsClusterConfig:     &clusterv3.Cluster_EdsClusterConfig{EdsConfig: adsConfigSource(), ServiceName: "web"},
		ConnectTimeout:       durationpb.New(5 * time.Second),
		LbPolicy:             clusterv3.Cluster_ROUND_ROBIN,
	}
	marshal := proto.MarshalOptions{Deterministic: true}
	wantBytes, err := marshal.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	gotBytes, err := marshal.Marshal(EDSCluster(ClusterOptions{Name: "web"}))
	if err != nil {
		t.Fatal(err)
	}
	if string(gotBytes) != string(wantBytes) {
		t.Errorf("EDSCluster encoding changed:\n got %x\nwant %x", gotBytes, wantBytes)
	}
}
