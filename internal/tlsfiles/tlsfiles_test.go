package tlsfiles_test

import (
	"bytes"
	"crypto/tls"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchyard/switchyard/internal/testcerts"
	"github.com/switchyard/switchyard/internal/tlsfiles"
)

// current returns the configuration a handshake would get now.
func current(t *testing.T, r *tlsfiles.Reloader) *tls.Config {
	t.Helper()
	cfg, err := r.ServerConfig().GetConfigForClient(&tls.ClientHelloInfo{})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestReloaderFollowsTheFiles(t *testing.T) {
	caA, caB := testcerts.NewCA(t, "A"), testcerts.NewCA(t, "B")
	dir := t.TempDir()
	files := caA.Issue(t, testcerts.Options{CommonName: "s", Serial: 1}).Write(t, dir, "server", caA)
	var logs bytes.Buffer
	reg := prometheus.NewRegistry()
	r, err := tlsfiles.New(tlsfiles.Config{CertFile: files.Cert, KeyFile: files.Key, ClientCAFile: files.CA,
		CheckInterval: time.Nanosecond, Logger: slog.New(slog.NewTextHandler(&logs, nil)), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	if cfg := current(t, r); cfg.ClientAuth != tls.RequireAndVerifyClientCert || cfg.MinVersion != tls.VersionTLS12 || !cfg.SessionTicketsDisabled {
		t.Fatalf("client auth %v, min version %x, session tickets disabled %v: want verified client certificates, TLS 1.2 and no resumption",
			cfg.ClientAuth, cfg.MinVersion, cfg.SessionTicketsDisabled)
	}
	pair := func(serial int64, o testcerts.Options) func() {
		return func() {
			o.CommonName, o.Serial = "s", serial
			c := caA.Issue(t, o)
			testcerts.WriteFile(t, files.Key, c.KeyPEM)
			testcerts.WriteFile(t, files.Cert, c.CertPEM)
		}
	}
	steps := []struct {
		name   string
		change func()
		serial int64
		ca     *testcerts.CA
		errors float64
		log    string
	}{
		{"unchanged", func() {}, 1, caA, 0, ""},
		{"new client CA", func() { testcerts.WriteFile(t, files.CA, caB.PEM) }, 1, caB, 0, "reloaded"},
		{"renewed pair", pair(2, testcerts.Options{}), 2, caB, 0, "serial=2"},
		{"key that does not match", func() {
			testcerts.WriteFile(t, files.Key, caA.Issue(t, testcerts.Options{}).KeyPEM)
		}, 2, caB, 1, "private key does not match public key"},
		{"the same bad files again", func() {}, 2, caB, 1, ""},
		{"expired pair", pair(3, testcerts.Options{NotBefore: time.Now().Add(-2 * time.Hour), NotAfter: time.Now().Add(-time.Hour)}),
			2, caB, 2, "is valid only from"},
		{"key file missing", func() {
			if err := os.Remove(files.Key); err != nil {
				t.Fatal(err)
			}
		}, 2, caB, 3, "no such file"},
		{"CA file without certificates", func() {
			pair(4, testcerts.Options{})()
			testcerts.WriteFile(t, files.CA, []byte("not PEM"))
		}, 2, caB, 4, "holds no PEM certificate"},
		{"good again", func() { testcerts.WriteFile(t, files.CA, caA.PEM) }, 4, caA, 4, "serial=4"},
	}
	for _, step := range steps {
		logs.Reset()
		step.change()
		cfg := current(t, r)
		if got := cfg.Certificates[0].Leaf.SerialNumber.Int64(); got != step.serial {
			t.Errorf("%s: serving serial %d, want %d", step.name, got, step.serial)
		}
		if !cfg.ClientCAs.Equal(step.ca.Pool()) {
			t.Errorf("%s: client CAs are not those of the expected CA", step.name)
		}
		if got := reloadErrors(t, reg); got != step.errors {
			t.Errorf("%s: reload errors %v, want %v", step.name, got, step.errors)
		}
		if step.log != "" && !strings.Contains(logs.String(), step.log) {
			t.Errorf("%s: log %q lacks %q", step.name, logs.String(), step.log)
		}
		if step.log == "" && logs.Len() != 0 {
			t.Errorf("%s: unexpected log %q", step.name, logs.String())
		}
	}
}

// reloadErrors returns switchyard_tls_reload_errors_total as gathered
// from reg.
func reloadErrors(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == "switchyard_tls_reload_errors_total" {
			return f.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatal("switchyard_tls_reload_errors_total is not registered")
	return 0
}

func TestNewRefusesUnusableFiles(t *testing.T) {
	ca := testcerts.NewCA(t, "A")
	dir := t.TempDir()
	good := ca.Issue(t, testcerts.Options{CommonName: "s"}).Write(t, dir, "good", ca)
	expired := ca.Issue(t, testcerts.Options{CommonName: "s", NotBefore: time.Now().Add(-2 * time.Hour), NotAfter: time.Now().Add(-time.Hour)}).Write(t, dir, "expired", ca)
	other := ca.Issue(t, testcerts.Options{CommonName: "o"}).Write(t, dir, "other", ca)
	junk := filepath.Join(dir, "junk.pem")
	testcerts.WriteFile(t, junk, []byte("junk"))
	tests := []struct {
		name          string
		cert, key, ca string
		want          string
	}{
		{"missing certificate", filepath.Join(dir, "nope.crt"), good.Key, "", "no such file"},
		{"key of another certificate", good.Cert, other.Key, "", "private key does not match"},
		{"expired certificate", expired.Cert, expired.Key, "", "is valid only from"},
		{"client CA without certificates", good.Cert, good.Key, junk, "holds no PEM certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tlsfiles.New(tlsfiles.Config{CertFile: tt.cert, KeyFile: tt.key, ClientCAFile: tt.ca, Logger: slog.New(slog.DiscardHandler)})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New: %v, want an error holding %q", err, tt.want)
			}
		})
	}
}
