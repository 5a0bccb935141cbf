package envoy

import (
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

const (
	healthy  = corev3.HealthStatus_HEALTHY
	draining = corev3.HealthStatus_DRAINING
	unknown  = corev3.HealthStatus_UNKNOWN
)

func TestLoadAssignment(t *testing.T) {
	got := LoadAssignment("web", []LocalityEndpoints{
		{Locality: Locality{Region: "eu", Zone: "b"}, Endpoints: []Endpoint{
			{Address: "10.0.0.1", Port: 8080, Health: healthy, Weight: 3},
			{Address: "10.0.0.2", Port: 8080, Health: draining},
		}},
		{Locality: Locality{Region: "eu", Zone: "a"}},
		{Endpoints: []Endpoint{{Address: "10.0.0.3", Port: 9090, Health: healthy}}},
	})
	mustValidate(t, got)
	diffProto(t, &endpointv3.ClusterLoadAssignment{
		ClusterName: "web",
		Endpoints: []*endpointv3.LocalityLbEndpoints{
			{
				Locality: &corev3.Locality{Region: "eu", Zone: "b"},
				LbEndpoints: []*endpointv3.LbEndpoint{
					wantLbEndpoint("10.0.0.1", 8080, healthy, wrapperspb.UInt32(3)),
					wantLbEndpoint("10.0.0.2", 8080, draining, nil),
				},
				LoadBalancingWeight: wrapperspb.UInt32(3),
			},
			{
				Locality:            &corev3.Locality{},
				LbEndpoints:         []*endpointv3.LbEndpoint{wantLbEndpoint("10.0.0.3", 9090, healthy, nil)},
				LoadBalancingWeight: wrapperspb.UInt32(1),
			},
		},
	}, got)
}

// wantLbEndpoint spells out the expected LbEndpoint in full.
func wantLbEndpoint(addr string, port uint32, health corev3.HealthStatus, weight *wrapperspb.UInt32Value) *endpointv3.LbEndpoint {
	return &endpointv3.LbEndpoint{
		HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{
			Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
				Protocol:      corev3.SocketAddress_TCP,
				Address:       addr,
				PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: port},
			}}},
		}},
		HealthStatus:        health,
		LoadBalancingWeight: weight,
	}
}

func TestLoadAssignmentWeights(t *testing.T) {
	tests := []struct {
		name                string
		endpoints           []Endpoint
		wantLocalityWeight  uint32
		wantEndpointWeights []uint32 // 0 means unset
	}{
		{
			name:                "unweighted healthy count as one each",
			endpoints:           []Endpoint{{Health: healthy}, {Health: healthy}},
			wantLocalityWeight:  2,
			wantEndpointWeights: []uint32{0, 0},
		},
		{
			name:                "weights add up",
			endpoints:           []Endpoint{{Health: healthy, Weight: 80}, {Health: healthy, Weight: 20}},
			wantLocalityWeight:  100,
			wantEndpointWeights: []uint32{80, 20},
		},
		{
			name:                "only healthy endpoints count",
			endpoints:           []Endpoint{{Health: healthy, Weight: 5}, {Health: draining, Weight: 7}, {Health: unknown, Weight: 9}},
			wantLocalityWeight:  5,
			wantEndpointWeights: []uint32{5, 7, 9},
		},
		{
			name:                "all draining keeps weight one",
			endpoints:           []Endpoint{{Health: draining, Weight: 10}, {Health: draining}},
			wantLocalityWeight:  1,
			wantEndpointWeights: []uint32{10, 0},
		},
		{
			name:                "all unhealthy keeps weight one",
			endpoints:           []Endpoint{{Health: corev3.HealthStatus_UNHEALTHY}},
			wantLocalityWeight:  1,
			wantEndpointWeights: []uint32{0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i := range tt.endpoints {
				tt.endpoints[i].Address = "10.0.0." + string(rune('1'+i))
				tt.endpoints[i].Port = 80
			}
			got := LoadAssignment("c", []LocalityEndpoints{{Locality: Locality{"r", "z"}, Endpoints: tt.endpoints}})
			mustValidate(t, got)
			if n := len(got.GetEndpoints()); n != 1 {
				t.Fatalf("got %d localities, want 1", n)
			}
			l := got.GetEndpoints()[0]
			if l.GetLocality() == nil {
				t.Error("locality is nil")
			}
			if w := l.GetLoadBalancingWeight().GetValue(); w != tt.wantLocalityWeight {
				t.Errorf("locality weight = %d, want %d", w, tt.wantLocalityWeight)
			}
			if len(l.GetLbEndpoints()) != len(tt.endpoints) {
				t.Fatalf("got %d endpoints, want %d", len(l.GetLbEndpoints()), len(tt.endpoints))
			}
			for i, e := range l.GetLbEndpoints() {
				if e.GetHealthStatus() != tt.endpoints[i].Health {
					t.Errorf("endpoint %d health = %v, want %v", i, e.GetHealthStatus(), tt.endpoints[i].Health)
				}
				want := tt.wantEndpointWeights[i]
				if (e.GetLoadBalancingWeight() == nil) != (want == 0) || e.GetLoadBalancingWeight().GetValue() != want {
					t.Errorf("endpoint %d weight = %v, want %d (0 = unset)", i, e.GetLoadBalancingWeight(), want)
				}
			}
		})
	}
}

func TestLoadAssignmentEmpty(t *testing.T) {
	tests := []struct {
		name       string
		localities []LocalityEndpoints
	}{
		{name: "nil", localities: nil},
		{name: "only empty localities", localities: []LocalityEndpoints{{Locality: Locality{"eu", "a"}}, {}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := LoadAssignment("web", tt.localities)
			mustValidate(t, got)
			if got.GetClusterName() != "web" || len(got.GetEndpoints()) != 0 {
				t.Errorf("got %v, want cluster web with no localities", got)
			}
		})
	}
}

func TestLocalityWeightSaturates(t *testing.T) {
	if got := localityWeight(make([]Endpoint, 1)); got != 1 {
		t.Errorf("localityWeight(one UNKNOWN) = %d, want 1", got)
	}
	// Weights far above the 128 callers use, to show the sum cannot wrap.
	big := []Endpoint{{Health: healthy, Weight: 1 << 31}, {Health: healthy, Weight: 1 << 31}, {Health: healthy, Weight: 1 << 31}}
	if got := localityWeight(big); got != 1<<32-1 {
		t.Errorf("localityWeight(overflowing) = %d, want MaxUint32", got)
	}
}
