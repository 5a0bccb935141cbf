package grpcxds_test

import (
	"encoding/json"
	"slices"
	"testing"

	"go.uber.org/goleak"

	"github.com/switchyard/switchyard/internal/grpcxds"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestBootstrapJSON(t *testing.T) {
	raw := grpcxds.BootstrapJSON("127.0.0.1:18000", "client-1", "demo")
	var got struct {
		XDSServers []struct {
			ServerURI    string `json:"server_uri"`
			ChannelCreds []struct {
				Type string `json:"type"`
			} `json:"channel_creds"`
			ServerFeatures []string `json:"server_features"`
		} `json:"xds_servers"`
		Node struct {
			ID      string `json:"id"`
			Cluster string `json:"cluster"`
		} `json:"node"`
	}
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("bootstrap is not JSON: %v\n%s", err, raw)
	}
	if len(got.XDSServers) != 1 {
		t.Fatalf("xds_servers = %d entries, want 1", len(got.XDSServers))
	}
	s := got.XDSServers[0]
	if s.ServerURI != "127.0.0.1:18000" {
		t.Errorf("server_uri = %q", s.ServerURI)
	}
	if len(s.ChannelCreds) != 1 || s.ChannelCreds[0].Type != "insecure" {
		t.Errorf("channel_creds = %+v, want one insecure", s.ChannelCreds)
	}
	for _, f := range []string{"xds_v3", "ignore_resource_deletion"} {
		if !slices.Contains(s.ServerFeatures, f) {
			t.Errorf("server_features %v lacks %q", s.ServerFeatures, f)
		}
	}
	if got.Node.ID != "client-1" || got.Node.Cluster != "demo" {
		t.Errorf("node = %+v, want id client-1 cluster demo", got.Node)
	}
}

func TestDialAcceptsBootstrap(t *testing.T) {
	cc, err := grpcxds.Dial(grpcxds.BootstrapJSON("127.0.0.1:1", "n", "c"), "xds:///echo")
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	if err := cc.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
}

func TestDialRejectsBrokenBootstrap(t *testing.T) {
	if cc, err := grpcxds.Dial([]byte("{"), "xds:///echo"); err == nil {
		_ = cc.Close()
		t.Fatal("dial with broken bootstrap succeeded")
	}
}
