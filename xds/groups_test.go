package xds

import (
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
)

func TestGroupOf(t *testing.T) {
	tests := []struct {
		name string
		node *corev3.Node
		want string
	}{
		{"envoy", &corev3.Node{UserAgentName: "envoy", Cluster: "edge"}, "envoy/edge"},
		{"grpc go", &corev3.Node{UserAgentName: "gRPC Go", Cluster: "checkout"}, "grpc/checkout"},
		{"grpc java", &corev3.Node{UserAgentName: "gRPC Java"}, "grpc/"},
		{"grpc c++", &corev3.Node{UserAgentName: "grpc-c++", Cluster: "x"}, "grpc/x"},
		{"no user agent is an envoy", &corev3.Node{Cluster: "edge"}, "envoy/edge"},
		{"nil node", nil, "envoy/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := GroupOf(tt.node).String(); got != tt.want {
				t.Errorf("GroupOf = %q, want %q", got, tt.want)
			}
		})
	}
}
