package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/envoy"
)

// FuzzBootstrapFlags checks the flags of `switchyard bootstrap`: any
// values either fail as a usage error naming a flag, or give a bootstrap
// that passes ValidateAll and survives its own YAML.
func FuzzBootstrapFlags(f *testing.F) {
	f.Add("edge-1", "edge", "127.0.0.1:18000", "127.0.0.1", uint32(9901))
	f.Add("", "edge", "switchyard.service.consul:18000", "0.0.0.0", uint32(0))
	f.Add("a\x00b", "ü", "[::1]:18000", "::1", uint32(70000))
	f.Add("n", "c", "host:", "", uint32(1))
	f.Fuzz(func(t *testing.T, nodeID, cluster, xdsAddress, adminAddress string, adminPort uint32) {
		opts, err := bootstrapOptions(nodeID, cluster, xdsAddress, adminAddress, adminPort)
		if err != nil {
			var usage usageError
			if !errors.As(err, &usage) || !strings.Contains(err.Error(), "invalid value for --") {
				t.Fatalf("error %q is not a usage error naming the flag", err)
			}
			return
		}
		b := envoy.Bootstrap(opts)
		if err := b.ValidateAll(); err != nil {
			t.Fatalf("accepted flags %q %q %q %q %d give an invalid bootstrap: %v", nodeID, cluster, xdsAddress, adminAddress, adminPort, err)
		}
		out, err := envoy.BootstrapYAML(b)
		if err != nil {
			t.Fatalf("render: %v", err)
		}
		if _, err := envoy.ParseBootstrapYAML(out); err != nil {
			t.Fatalf("the rendered bootstrap does not parse back: %v\n%s", err, out)
		}
	})
}
