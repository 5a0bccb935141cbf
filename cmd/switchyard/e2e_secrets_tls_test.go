package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/echo"
	"github.com/switchyard/switchyard/internal/grpcxds"
	"github.com/switchyard/switchyard/internal/testcerts"
)

// keyLines returns the base64 lines of a PEM private key: any of them in an
// output would be key material leaking.
func keyLines(pem []byte) []string {
	var out []string
	for _, l := range strings.Split(string(pem), "\n") {
		if l != "" && !strings.HasPrefix(l, "-----") {
			out = append(out, l)
		}
	}
	return out
}

// TestNoKeyMaterialInOutput serves xDS over mutual TLS, refuses a client
// claiming another cluster (so the refusal paths log), swaps the server's
// key pair on disk (so the reload path logs), and reads everything
// Switchyard shows — the admin API, the dashboard, metrics, config dumps,
// `switchyard status` and its debug log: no line of either server key or
// of the client's key appears.
func TestNoKeyMaterialInOutput(t *testing.T) {
	c := startConsul(t)
	startBackends(t, c, "echo", "echo-1")
	ca := testcerts.NewCA(t, "secrets CA")
	dir := t.TempDir()
	first := ca.Server(t)
	server := first.Write(t, dir, "server", ca)
	clientCert := ca.Client(t, "e2e")
	client := clientCert.Write(t, dir, "client", ca)
	var log lockedBuffer
	a, stop := startLoggedSwitchyard(t, c.agent.HTTPAddr, &log, withMTLS(server, true))
	admin := a.AdminAddr()
	files := grpcxds.TLSFiles{CAFile: client.CA, CertFile: client.Cert, KeyFile: client.Key}
	for _, cluster := range []string{"e2e", "billing"} {
		cc, err := grpcxds.Dial(grpcxds.BootstrapTLSJSON(a.XDSAddr(), "tls-"+cluster, cluster, files), "xds:///echo")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cc.Close() })
		if cluster == "e2e" {
			waitUntil(t, "traffic over mTLS", func() bool { return servedBy(spread(t, cc, 5), "echo-1") })
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, _, _ = echo.Spread(ctx, cc, 1) // refused: the RPC fails, the refusal logs
		cancel()
	}
	second := ca.Server(t)
	testcerts.WriteFile(t, server.Cert, second.CertPEM)
	testcerts.WriteFile(t, server.Key, second.KeyPEM)
	waitUntil(t, "the refusal and a reload counted", func() bool {
		m := adminText(t, admin, "/metrics")
		return strings.Contains(m, `switchyard_xds_streams_refused_total{reason="node_identity"}`)
	})

	outputs := map[string]string{}
	for _, p := range []string{"/", "/dashboard/dashboard.js", "/status", "/metrics", "/v1/proxies", "/v1/services",
		"/v1/loads", "/debug/config_dump?group=grpc", "/debug/config_dump?group=envoy", "/debug/pprof/cmdline"} {
		outputs[p] = adminText(t, admin, p)
	}
	var stdout, stderr bytes.Buffer
	if code := execute(context.Background(), []string{"status", "--admin-addr", admin}, &stdout, &stderr); code != 0 {
		t.Fatalf("switchyard status: exit %d: %s", code, stderr.String())
	}
	outputs["switchyard status"] = stdout.String() + stderr.String()
	stop()
	outputs["debug log"] = log.String()
	if !strings.Contains(outputs["debug log"], "node_identity") {
		t.Errorf("the debug log does not show the refusal; the test did not exercise the error paths")
	}
	keys := map[string][]byte{"first server key": first.KeyPEM, "second server key": second.KeyPEM, "client key": clientCert.KeyPEM}
	for where, out := range outputs {
		for name, pem := range keys {
			for _, line := range keyLines(pem) {
				if strings.Contains(out, line) {
					t.Errorf("%s shows a line of the %s", where, name)
					break
				}
			}
		}
	}
	t.Logf("%d outputs read, %d bytes of debug log; no key line in any", len(outputs), len(outputs["debug log"]))
}
