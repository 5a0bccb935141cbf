package main

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"testing"

	"github.com/switchyard/switchyard/internal/consulagent"
	"github.com/switchyard/switchyard/internal/testcerts"
)

// freeLoopbackPort returns a TCP port free on 127.0.0.1 a moment ago.
func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestConsulOverMutualTLS runs Consul with an HTTPS port that requires
// client certificates, and Switchyard against it with nothing but Consul's
// own environment variables (CONSUL_CACERT, CONSUL_CLIENT_CERT,
// CONSUL_CLIENT_KEY) and an https:// address: it loads the catalog, serves
// traffic and follows a change. A client without a certificate is refused,
// so the test would notice TLS silently not being used.
func TestConsulOverMutualTLS(t *testing.T) {
	dir := t.TempDir()
	ca := testcerts.NewCA(t, "consul-ca")
	server := ca.Server(t).Write(t, dir, "consul", ca)
	client := ca.Client(t, "switchyard").Write(t, dir, "switchyard", ca)
	httpsPort := freeLoopbackPort(t)
	agent := consulagent.StartWithT(t, consulagent.Options{HCL: []string{
		fmt.Sprintf("ports { https = %d }", httpsPort),
		fmt.Sprintf(`tls { defaults { ca_file = %q cert_file = %q key_file = %q } https { verify_incoming = true } }`,
			server.CA, server.Cert, server.Key),
	}})
	admin, err := agent.Client() // plain HTTP, for the test's own changes
	if err != nil {
		t.Fatal(err)
	}
	c := &consulFixture{agent: agent, client: admin}
	startBackends(t, c, "echo", "echo-1", "echo-2")

	httpsAddr := fmt.Sprintf("127.0.0.1:%d", httpsPort)
	bare := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}
	if resp, err := bare.Get("https://" + httpsAddr + "/v1/status/leader"); err == nil {
		resp.Body.Close()
		t.Fatalf("Consul's HTTPS port answered a client without a certificate (%s); the test needs it to refuse", resp.Status)
	}

	t.Setenv("CONSUL_CACERT", client.CA)
	t.Setenv("CONSUL_CLIENT_CERT", client.Cert)
	t.Setenv("CONSUL_CLIENT_KEY", client.Key)
	sy := startSwitchyard(t, "https://"+httpsAddr)
	cc := dialXDS(t, sy.app.XDSAddr(), "client-1", "echo")
	waitUntil(t, "traffic through a Switchyard that reads Consul over mTLS", func() bool {
		return servedBy(spread(t, cc, 20), "echo-1", "echo-2")
	})
	startBackends(t, c, "echo", "echo-3")
	took := waitUntil(t, "a new instance seen over mTLS", func() bool {
		return servedBy(spread(t, cc, 30), "echo-1", "echo-2", "echo-3")
	})
	t.Logf("Consul over mTLS at %s: a new instance in traffic after %s", httpsAddr, took)
}
