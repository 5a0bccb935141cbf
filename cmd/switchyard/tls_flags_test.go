package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/testcerts"
)

func TestTLSFlagsExit2NamingTheFlag(t *testing.T) {
	ca := testcerts.NewCA(t, "A")
	dir := t.TempDir()
	good := ca.Server(t).Write(t, dir, "good", ca)
	other := ca.Server(t).Write(t, dir, "other", ca)
	expired := ca.Issue(t, testcerts.Options{CommonName: "s", NotBefore: time.Now().Add(-2 * time.Hour), NotAfter: time.Now().Add(-time.Hour)}).Write(t, dir, "expired", ca)
	missing := filepath.Join(dir, "missing.pem")
	tests := []struct {
		args []string
		flag string
	}{
		{[]string{"--tls-cert", good.Cert}, "--tls-key"},
		{[]string{"--tls-key", good.Key}, "--tls-cert"},
		{[]string{"--tls-client-ca", good.CA}, "--tls-client-ca"},
		{[]string{"--tls-cert", good.Cert, "--tls-key", good.Key, "--authz-node-identity"}, "--authz-node-identity"},
		{[]string{"--authz-node-identity"}, "--tls-client-ca"},
		{[]string{"--xds-addr", "0.0.0.0:18000"}, "--insecure"},
		{[]string{"--xds-addr", ":18000"}, "--xds-addr"},
		{[]string{"--xds-addr", "[::]:18000"}, "--tls-cert"},
		{[]string{"--tls-cert", missing, "--tls-key", good.Key}, "--tls-cert"},
		{[]string{"--tls-cert", good.Cert, "--tls-key", missing}, "--tls-key"},
		{[]string{"--tls-cert", good.Cert, "--tls-key", good.Key, "--tls-client-ca", missing}, "--tls-client-ca"},
		{[]string{"--tls-cert", good.Cert, "--tls-key", good.Key, "--tls-client-ca", good.Key}, "--tls-client-ca"},
		{[]string{"--tls-cert", good.Cert, "--tls-key", other.Key}, "--tls-key"},
		{[]string{"--tls-cert", expired.Cert, "--tls-key", expired.Key}, "--tls-cert"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := execute(context.Background(), append([]string{"serve"}, tt.args...), &stdout, &stderr)
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

func TestTLSConfigAccepts(t *testing.T) {
	ca := testcerts.NewCA(t, "A")
	files := ca.Server(t).Write(t, t.TempDir(), "server", ca)
	mtls := serveTLS{CertFile: files.Cert, KeyFile: files.Key, ClientCAFile: files.CA, AuthzNodeIdentity: true}
	tests := []struct {
		name string
		addr string
		tls  serveTLS
	}{
		{"default address", defaultServeConfig().XDSAddr, serveTLS{}},
		{"IPv4 loopback", "127.0.0.1:0", serveTLS{}},
		{"IPv6 loopback", "[::1]:0", serveTLS{}},
		{"localhost", "localhost:0", serveTLS{}},
		{"every interface, --insecure", ":0", serveTLS{Insecure: true}},
		{"every interface, TLS", "0.0.0.0:0", serveTLS{CertFile: files.Cert, KeyFile: files.Key}},
		{"every interface, mTLS and node identity", ":0", mtls},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := defaultServeConfig()
			cfg.XDSAddr, cfg.TLS = tt.addr, tt.tls
			if err := cfg.validate(); err != nil {
				t.Errorf("validate: %v", err)
			}
		})
	}
}
