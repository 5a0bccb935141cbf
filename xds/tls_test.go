package xds

import (
	"bytes"
	"context"
	"crypto/tls"
	"log/slog"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	lrsv3 "github.com/envoyproxy/go-control-plane/envoy/service/load_stats/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/switchyard/switchyard/internal/simenvoy"
	"github.com/switchyard/switchyard/internal/testcerts"
	"github.com/switchyard/switchyard/internal/tlsfiles"
)

// logBuffer collects a server's log lines for a test to read while the
// server writes.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// line returns the first line holding every part, or "".
func (b *logBuffer) line(parts ...string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	for l := range strings.SplitSeq(b.buf.String(), "\n") {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(l, p)
		}
		if all {
			return l
		}
	}
	return ""
}

// waitLog waits until the log has a line holding every part, failing
// the test with the whole log after 10s.
func waitLog(t *testing.T, logs *logBuffer, parts ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for logs.line(parts...) == "" {
		if time.Now().After(deadline) {
			logs.mu.Lock()
			defer logs.mu.Unlock()
			t.Fatalf("no log line holding %q within 10s; log:\n%s", parts, logs.buf.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// tlsWorld is an mTLS server with the node identity rule, its CA and the
// files it serves from.
type tlsWorld struct {
	srv   *Server
	addr  string
	ca    *testcerts.CA
	files testcerts.Files
	logs  *logBuffer
	reg   *prometheus.Registry
}

// counterValue returns the value of an unlabelled counter.
func counterValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name && len(f.GetMetric()) == 1 {
			return f.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no counter %s", name)
	return 0
}

// startTLSServer serves mTLS from files in a temporary directory,
// checking them for changes every 20ms.
func startTLSServer(t *testing.T, authz bool) *tlsWorld {
	t.Helper()
	ca := testcerts.NewCA(t, "switchyard test CA")
	files := ca.Server(t).Write(t, t.TempDir(), "server", ca)
	logs := &logBuffer{}
	reg := prometheus.NewRegistry()
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	r, err := tlsfiles.New(tlsfiles.Config{CertFile: files.Cert, KeyFile: files.Key, ClientCAFile: files.CA,
		CheckInterval: 20 * time.Millisecond, Logger: log, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	srv, addr := startServerWith(t, Config{ShutdownGrace: time.Second, Logger: log, Registerer: reg, TLS: r.ServerConfig(), AuthzNodeIdentity: authz})
	return &tlsWorld{srv: srv, addr: addr, ca: ca, files: files, logs: logs, reg: reg}
}

// clientTLS is a client configuration trusting ca and presenting cert.
// It presents cert even when the server asks for certificates of other
// CAs, as Envoy does (Go would otherwise send none).
func clientTLS(t *testing.T, ca *testcerts.CA, cert *testcerts.Cert) *tls.Config {
	t.Helper()
	cfg := &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}
	if cert != nil {
		pair := cert.TLS(t)
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &pair, nil }
	}
	return cfg
}

// allTypesAt reports whether a proxy accepted every type at version.
func allTypesAt(version string) func(simenvoy.State) bool {
	return func(s simenvoy.State) bool {
		for _, typ := range []string{resourcev3.ClusterType, resourcev3.EndpointType, resourcev3.ListenerType, resourcev3.RouteType} {
			if s.Types[typ].Version != version {
				return false
			}
		}
		return true
	}
}

func TestMTLSSimulatedEnvoysSync(t *testing.T) {
	w := startTLSServer(t, true)
	if err := w.srv.Publish(KindEnvoy, testSnapshot(t, "v1", 8080)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		cert  *testcerts.Cert
		delta bool
	}{
		{"DNS SAN, state of the world", w.ca.Client(t, "edge"), false},
		{"DNS SAN, delta", w.ca.Client(t, "edge"), true},
		{"SPIFFE URI SAN", w.ca.Issue(t, testcerts.Options{CommonName: "x", URIs: []string{"spiffe://example.org/ns/prod/sa/edge"}}), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := startEnvoy(t, w.addr, simenvoy.Config{NodeID: "e-" + tt.name, Cluster: "edge", Delta: tt.delta, TLS: clientTLS(t, w.ca, tt.cert)})
			waitState(t, e, allTypesAt("v1"))
		})
	}
}

// TestMTLSRefusals checks that every client the server must not serve is
// refused, and that the server's log says why.
func TestMTLSRefusals(t *testing.T) {
	w := startTLSServer(t, true)
	foreign := testcerts.NewCA(t, "someone else's CA")
	expired := w.ca.Issue(t, testcerts.Options{CommonName: "edge", DNS: []string{"edge"},
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})
	tests := []struct {
		name    string
		tls     *tls.Config
		cluster string
		code    codes.Code
		reason  string
		log     []string
	}{
		{"plaintext", nil, "edge", codes.Unavailable, "plaintext",
			[]string{"xds connection refused: client did not speak TLS", "reason=plaintext", "remote=127.0.0.1:"}},
		{"no client certificate", clientTLS(t, w.ca, nil), "edge", codes.Unavailable, "no_client_certificate",
			[]string{"xds connection refused: client presented no certificate", "remote=127.0.0.1:"}},
		{"foreign CA", clientTLS(t, w.ca, foreign.Client(t, "edge")), "edge", codes.Unavailable, "unknown_authority",
			[]string{"xds connection refused: client certificate is not signed by a trusted client CA", "certificate signed by unknown authority"}},
		{"expired certificate", clientTLS(t, w.ca, expired), "edge", codes.Unavailable, "expired",
			[]string{"xds connection refused: client certificate has expired", "reason=expired"}},
		{"node identity mismatch", clientTLS(t, w.ca, w.ca.Client(t, "edge")), "billing", codes.PermissionDenied, "node_identity",
			[]string{"xds stream refused: node cluster is not named by the client certificate", "node=n-node", "cluster=billing", "sans=[DNS:edge]", "remote=127.0.0.1:"}},
		{"empty cluster", clientTLS(t, w.ca, w.ca.Client(t, "edge")), "", codes.PermissionDenied, "node_identity",
			[]string{"xds stream refused: node cluster is not named", "node=n-empty", "cluster=\"\""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			node := "n-" + strings.Fields(tt.name)[0]
			err := refusedEnvoyErr(t, w.addr, simenvoy.Config{NodeID: node, Cluster: tt.cluster, TLS: tt.tls})
			if status.Code(err) != tt.code {
				t.Errorf("client error %v, want code %s", err, tt.code)
			}
			waitLog(t, w.logs, tt.log...)
			if got := testutil.ToFloat64(w.srv.refused.WithLabelValues(tt.reason)); got < 1 {
				t.Errorf("refused{reason=%q} = %v, want at least 1", tt.reason, got)
			}
			t.Logf("server log: %s", w.logs.line(tt.log...))
		})
	}
	if got := len(w.srv.Groups()); got != 0 {
		t.Errorf("a refused stream joined a group: %d groups", got)
	}
}

// refusedEnvoyErr starts a simulated Envoy that must be refused and
// returns why it was.
func refusedEnvoyErr(t *testing.T, addr string, cfg simenvoy.Config) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e, err := simenvoy.Start(ctx, addr, cfg)
	if err != nil {
		return err
	}
	defer e.Close()
	err = e.Wait(ctx, func(simenvoy.State) bool { return false })
	if err == nil || ctx.Err() != nil {
		t.Fatalf("simulated Envoy %s was served: %v", cfg.NodeID, err)
	}
	return err
}

// TestMTLSLoadReportingIdentity checks the node identity rule on LRS.
func TestMTLSLoadReportingIdentity(t *testing.T) {
	w := startTLSServer(t, true)
	tests := []struct {
		cluster string
		code    codes.Code
	}{
		{"edge", codes.OK},
		{"billing", codes.PermissionDenied},
	}
	for _, tt := range tests {
		t.Run(tt.cluster, func(t *testing.T) {
			cc, err := grpc.NewClient(w.addr, grpc.WithTransportCredentials(credentials.NewTLS(clientTLS(t, w.ca, w.ca.Client(t, "edge")))))
			if err != nil {
				t.Fatal(err)
			}
			defer cc.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			st, err := lrsv3.NewLoadReportingServiceClient(cc).StreamLoadStats(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := st.Send(&lrsv3.LoadStatsRequest{Node: &corev3.Node{Id: "lrs-" + tt.cluster, Cluster: tt.cluster}}); err != nil {
				t.Fatal(err)
			}
			_, err = st.Recv()
			if status.Code(err) != tt.code {
				t.Fatalf("first LRS answer: %v, want code %s", err, tt.code)
			}
			if tt.code != codes.OK && w.logs.line("xds stream refused", "node=lrs-"+tt.cluster, "StreamLoadStats") == "" {
				t.Errorf("no refusal logged for LRS node lrs-%s", tt.cluster)
			}
		})
	}
}

// serverSerial dials the server and returns its leaf certificate's serial.
func serverSerial(t *testing.T, addr string, cfg *tls.Config) *big.Int {
	t.Helper()
	cfg = cfg.Clone()
	cfg.NextProtos = []string{"h2"}
	conn, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		t.Fatalf("tls dial: %v", err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber
}

// acceptsClient reports whether the server completes a TLS 1.2 handshake
// with a client configuration: in TLS 1.2 the client's handshake ends only
// after the server verified its certificate.
func acceptsClient(addr string, cfg *tls.Config) bool {
	cfg = cfg.Clone()
	cfg.MaxVersion, cfg.NextProtos = tls.VersionTLS12, []string{"h2"}
	conn, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

// TestServerCertificateRotation replaces the server's certificate files:
// new connections get the new certificate without a restart, a bad
// replacement keeps the last good one, a client CA added to its file
// admits its clients, and a stream opened before keeps being served.
func TestServerCertificateRotation(t *testing.T) {
	w := startTLSServer(t, true)
	client := clientTLS(t, w.ca, w.ca.Client(t, "edge"))
	if err := w.srv.Publish(KindEnvoy, testSnapshot(t, "v1", 8080)); err != nil {
		t.Fatal(err)
	}
	e := startEnvoy(t, w.addr, simenvoy.Config{NodeID: "long-lived", Cluster: "edge", TLS: client})
	waitState(t, e, allTypesAt("v1"))
	first := serverSerial(t, w.addr, client)

	renew := func(serial int64) func() {
		return func() {
			next := w.ca.Issue(t, testcerts.Options{CommonName: "switchyard", IPs: w.ca.Server(t).Leaf.IPAddresses, Serial: serial,
				NotAfter: time.Now().Add(2 * time.Hour)})
			testcerts.WriteFile(t, w.files.Key, next.KeyPEM)
			testcerts.WriteFile(t, w.files.Cert, next.CertPEM)
		}
	}
	steps := []struct {
		name  string
		write func()
		// serial is the certificate a new connection then gets; log, if
		// set, a line the server must have logged by then.
		serial int64
		log    string
	}{
		{"renewed certificate", renew(1001), 1001, "tls certificate files changed: reloaded"},
		{"key of another certificate: the last good pair stays", func() {
			testcerts.WriteFile(t, w.files.Key, w.ca.Server(t).KeyPEM)
		}, 1001, "tls certificate files changed but cannot be loaded: keeping the last good ones"},
		{"renewed again", renew(1002), 1002, "serial=1002"},
	}
	for _, step := range steps {
		step.write()
		waitFor(t, func() bool {
			// Each dial is a handshake, at which the files are checked.
			return serverSerial(t, w.addr, client).Int64() == step.serial && w.logs.line(step.log) != ""
		})
	}
	if got := counterValue(t, w.reg, "switchyard_tls_reload_errors_total"); got != 1 {
		t.Errorf("switchyard_tls_reload_errors_total = %v, want 1", got)
	}

	// A client CA added to the file admits its clients from the next
	// handshake on.
	partner := testcerts.NewCA(t, "partner CA")
	partnerTLS := clientTLS(t, w.ca, partner.Client(t, "edge"))
	if acceptsClient(w.addr, partnerTLS) {
		t.Fatal("a client of a CA not in the client CA file was accepted")
	}
	testcerts.WriteFile(t, w.files.CA, append(append([]byte{}, w.ca.PEM...), partner.PEM...))
	waitFor(t, func() bool { return acceptsClient(w.addr, partnerTLS) })
	other := startEnvoy(t, w.addr, simenvoy.Config{NodeID: "partner", Cluster: "edge", TLS: partnerTLS})
	waitState(t, other, allTypesAt("v1"))
	if first.Cmp(big.NewInt(1002)) == 0 {
		t.Fatal("the first certificate already had the last serial")
	}
	if err := w.srv.Publish(KindEnvoy, testSnapshot(t, "v2", 8081)); err != nil {
		t.Fatal(err)
	}
	// v2 changes only the endpoints, which only EDS sends again.
	waitState(t, e, func(s simenvoy.State) bool { return s.Types[resourcev3.EndpointType].Version == "v2" })
}
