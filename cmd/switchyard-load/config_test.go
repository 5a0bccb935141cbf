package main

import "testing"

// TestValidateTarget checks that the peers need --start, and Consul delta.
func TestValidateTarget(t *testing.T) {
	tests := []struct {
		target, protocol string
		start, ok        bool
	}{
		{targetSwitchyard, "sotw", true, true},
		{targetGCP, "sotw", true, true},
		{targetGCP, "delta", false, false},
		{targetConsul, "delta", true, true},
		{targetConsul, "sotw", true, false},
		{"envoy-gateway", "sotw", true, false},
	}
	for _, tt := range tests {
		cfg := defaultConfig()
		cfg.Target, cfg.Protocol, cfg.Start = tt.target, tt.protocol, tt.start
		if !tt.start {
			cfg.XDSAddr, cfg.ConsulAddr = "127.0.0.1:18000", "127.0.0.1:8500"
		}
		if err := cfg.validate(); (err == nil) != tt.ok {
			t.Errorf("--target %s --protocol %s start=%v: error %v, want ok=%v", tt.target, tt.protocol, tt.start, err, tt.ok)
		}
	}
}
