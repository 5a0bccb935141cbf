package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/switchyard/switchyard/envoy"
)

func TestBadFlagsExit2NamingTheFlag(t *testing.T) {
	tests := []struct {
		args []string
		flag string
	}{
		{[]string{"serve", "--envoy-listener-port", "70000"}, "--envoy-listener-port"},
		{[]string{"serve", "--envoy-listener-port", "0"}, "--envoy-listener-port"},
		{[]string{"serve", "--envoy-listener-port", "many"}, "--envoy-listener-port"},
		{[]string{"serve", "--log-format", "xml"}, "--log-format"},
		{[]string{"serve", "--log-level", "loud"}, "--log-level"},
		{[]string{"serve", "--xds-addr", "nowhere"}, "--xds-addr"},
		{[]string{"serve", "--consul-max-conns", "250"}, "--consul-max-conns"},
		{[]string{"serve", "--rollout-tick", "10ms"}, "--rollout-tick"},
		{[]string{"serve", "--rollout-lock-ttl", "5s"}, "--rollout-lock-ttl"},
		{[]string{"serve", "--load-report-interval", "50ms"}, "--load-report-interval"},
		{[]string{"serve", "--load-report-interval", "2m"}, "--load-report-interval"},
		{[]string{"serve", "--admin-addr", "127.0.0.1:99999"}, "--admin-addr"},
		{[]string{"serve", "--consul-addr", ""}, "--consul-addr"},
		{[]string{"serve", "--debounce-quiet", "1h"}, "--debounce-quiet"},
		{[]string{"serve", "--no-such-flag"}, "--no-such-flag"},
		{[]string{"bootstrap"}, "--node-id"},
		{[]string{"bootstrap", "--node-id", "a", "--xds-address", "nohost"}, "--xds-address"},
		{[]string{"bootstrap", "--node-id", "a", "--xds-address", "bad_host!:18000"}, "--xds-address"},
		{[]string{"bootstrap", "--node-id", "edge\x01"}, "--node-id"},
		{[]string{"bootstrap", "--node-id", "a", "--admin-port", "123456"}, "--admin-port"},
		{[]string{"bootstrap", "--node-id", "a", "--admin-address", "everywhere"}, "--admin-address"},
		{[]string{"frobnicate"}, "frobnicate"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := execute(context.Background(), tt.args, &stdout, &stderr)
			if code != 2 {
				t.Errorf("exit code %d, want 2 (stderr %q)", code, stderr.String())
			}
			msg := stderr.String()
			if strings.Count(msg, "\n") != 1 || !strings.Contains(msg, tt.flag) {
				t.Errorf("stderr %q: want one line naming %s", msg, tt.flag)
			}
		})
	}
}

func TestBootstrapCommandPrintsValidEnvoyBootstrap(t *testing.T) {
	var stdout, stderr bytes.Buffer
	args := []string{"bootstrap", "--node-id", "edge-7", "--cluster", "edge", "--xds-address", "switchyard.internal:18000", "--admin-port", "9901"}
	if code := execute(context.Background(), args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	b, err := envoy.ParseBootstrapYAML(stdout.Bytes())
	if err != nil {
		t.Fatalf("output is not a valid Envoy bootstrap: %v\n%s", err, stdout.String())
	}
	if b.GetNode().GetId() != "edge-7" || b.GetNode().GetCluster() != "edge" {
		t.Errorf("node = %v", b.GetNode())
	}
	if b.GetDynamicResources().GetAdsConfig() == nil || b.GetDynamicResources().GetCdsConfig().GetAds() == nil {
		t.Errorf("bootstrap does not use ADS: %v", b.GetDynamicResources())
	}
	sa := b.GetStaticResources().GetClusters()[0].GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetSocketAddress()
	if sa.GetAddress() != "switchyard.internal" || sa.GetPortValue() != 18000 {
		t.Errorf("xds address = %v", sa)
	}
}

func TestVersionCommand(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := execute(context.Background(), []string{"version"}, &stdout, &stderr); code != 0 || !strings.HasPrefix(stdout.String(), "switchyard ") {
		t.Errorf("exit %d, output %q", code, stdout.String())
	}
}

// TestExampleBootstrapMatchesCommand keeps examples/envoy/envoy-bootstrap.yaml
// what `switchyard bootstrap` prints for the flags in its header.
func TestExampleBootstrapMatchesCommand(t *testing.T) {
	data, err := os.ReadFile("../../examples/envoy/envoy-bootstrap.yaml")
	if err != nil {
		t.Fatal(err)
	}
	example, err := envoy.ParseBootstrapYAML(data)
	if err != nil {
		t.Fatalf("example bootstrap is not valid: %v", err)
	}
	var stdout, stderr bytes.Buffer
	args := []string{"bootstrap", "--node-id", "edge-1", "--cluster", "edge", "--xds-address", "switchyard:18000", "--admin-address", "0.0.0.0", "--admin-port", "9901"}
	if code := execute(context.Background(), args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	generated, err := envoy.ParseBootstrapYAML(stdout.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(generated, example, protocmp.Transform()); diff != "" {
		t.Errorf("examples/envoy/envoy-bootstrap.yaml drifted from `switchyard %s` (-generated +example):\n%s", strings.Join(args, " "), diff)
	}
}
