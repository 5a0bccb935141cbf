package snapshot

import (
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"

	"github.com/switchyard/switchyard/discovery"
)

func TestEndpointHealth(t *testing.T) {
	w := func(p, wa int) discovery.Weights { return discovery.Weights{Passing: p, Warning: wa} }
	healthy := corev3.HealthStatus_HEALTHY
	tests := []struct {
		name    string
		health  discovery.Health
		weights discovery.Weights
		flavour Flavour
		want    endpointState
	}{
		{"passing uses passing weight", discovery.HealthPassing, w(3, 1), FlavourEnvoy, endpointState{true, healthy, 3}},
		{"warning uses warning weight", discovery.HealthWarning, w(3, 1), FlavourEnvoy, endpointState{true, healthy, 1}},
		{"warning with zero warning weight is out", discovery.HealthWarning, w(3, 0), FlavourGRPC, endpointState{}},
		{"passing with zero weight is out", discovery.HealthPassing, w(0, 1), FlavourEnvoy, endpointState{}},
		{"weight is clamped to 128", discovery.HealthPassing, w(1000, 1), FlavourGRPC, endpointState{true, healthy, 128}},
		{"critical is out", discovery.HealthCritical, w(1, 1), FlavourEnvoy, endpointState{}},
		{"maintenance drains on Envoy", discovery.HealthMaintenance, w(5, 5), FlavourEnvoy, endpointState{true, corev3.HealthStatus_DRAINING, 1}},
		{"maintenance is out for gRPC", discovery.HealthMaintenance, w(5, 5), FlavourGRPC, endpointState{}},
		{"unknown health is out", discovery.Health(0), w(1, 1), FlavourEnvoy, endpointState{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := endpointHealth(discovery.Instance{Health: tt.health, Weights: tt.weights}, tt.flavour)
			if got != tt.want {
				t.Errorf("endpointHealth = %+v, want %+v", got, tt.want)
			}
		})
	}
}
