package main

import (
	"context"
	"crypto/tls"
	"strings"
	"testing"
	"time"

	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/switchyard/switchyard/internal/echo"
	"github.com/switchyard/switchyard/internal/grpcxds"
	"github.com/switchyard/switchyard/internal/simenvoy"
	"github.com/switchyard/switchyard/internal/testcerts"
)

// withMTLS has startSwitchyard serve xDS over mutual TLS from files,
// applying the node identity rule when authz is set.
func withMTLS(files testcerts.Files, authz bool) func(*serveConfig) {
	return func(cfg *serveConfig) {
		cfg.TLS = serveTLS{CertFile: files.Cert, KeyFile: files.Key, ClientCAFile: files.CA, AuthzNodeIdentity: authz}
	}
}

// TestGRPCClientOverMTLS sends RPCs through Switchyard, against a real
// Consul, from a gRPC-Go xDS client whose bootstrap has "tls" channel
// credentials with a client certificate naming its node cluster; a
// simulated Envoy with a certificate of its own syncs on the same server,
// and a client claiming a cluster its certificate does not name gets
// nothing and is counted.
func TestGRPCClientOverMTLS(t *testing.T) {
	c := startConsul(t)
	startBackends(t, c, "echo", "echo-1", "echo-2")
	ca := testcerts.NewCA(t, "e2e CA")
	dir := t.TempDir()
	server := ca.Server(t).Write(t, dir, "server", ca)
	client := ca.Client(t, "e2e").Write(t, dir, "client", ca)
	sy := startSwitchyard(t, c.agent.HTTPAddr, withMTLS(server, true))
	files := grpcxds.TLSFiles{CAFile: client.CA, CertFile: client.Cert, KeyFile: client.Key}

	cc, err := grpcxds.Dial(grpcxds.BootstrapTLSJSON(sy.app.XDSAddr(), "tls-client", "e2e", files), "xds:///echo")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	took := waitUntil(t, "traffic over mTLS reaches both instances", func() bool {
		return servedBy(spread(t, cc, 30), "echo-1", "echo-2")
	})
	t.Logf("first traffic over mTLS after %s", took.Round(time.Millisecond))

	pair := ca.Client(t, "edge").TLS(t)
	e, err := simenvoy.Start(context.Background(), sy.app.XDSAddr(), simenvoy.Config{NodeID: "edge-1", Cluster: "edge",
		TLS: &tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := e.Wait(ctx, func(s simenvoy.State) bool { return s.Types[resourcev3.ListenerType].Version != "" }); err != nil {
		t.Fatalf("simulated Envoy over mTLS: %v", err)
	}

	intruder, err := grpcxds.Dial(grpcxds.BootstrapTLSJSON(sy.app.XDSAddr(), "intruder", "billing", files), "xds:///echo")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { intruder.Close() })
	rctx, rcancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer rcancel()
	if counts, failed, _ := echo.Spread(rctx, intruder, 1); failed == 0 {
		t.Errorf("a client claiming cluster billing with a certificate for e2e was served: %v", counts)
	}
	waitUntil(t, "the refusal is counted", func() bool {
		return strings.Contains(adminText(t, sy.app.AdminAddr(), "/metrics"), `switchyard_xds_streams_refused_total{reason="node_identity"}`)
	})
}
