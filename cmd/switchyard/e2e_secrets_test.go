package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a log destination that goroutines may share.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startLoggedSwitchyard is startSwitchyard with its debug log written to
// w, and the function that stops it.
func startLoggedSwitchyard(t *testing.T, consulAddr string, w io.Writer, opts ...func(*serveConfig)) (*app, func()) {
	t.Helper()
	cfg := defaultServeConfig()
	cfg.ConsulAddr, cfg.XDSAddr, cfg.AdminAddr = consulAddr, "127.0.0.1:0", "127.0.0.1:0"
	cfg.ConsulWait = 30 * time.Second
	for _, o := range opts {
		o(&cfg)
	}
	a, err := newApp(cfg, slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("switchyard run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	waitUntil(t, "switchyard ready", func() bool { return httpStatus(a.AdminAddr(), "/readyz") == http.StatusOK })
	return a, stop
}

// TestNoSecretInOutput runs Switchyard with a Consul token file, has it
// serve a proxy, refuse a rotated-in unknown token and recover, then reads
// everything it shows (the admin API, the dashboard, metrics, `switchyard
// status` in both formats and for one proxy, and its debug log): neither
// token's secret appears anywhere.
func TestNoSecretInOutput(t *testing.T) {
	c := aclConsul(t)
	good := c.aclToken(t, "switchyard", goodTokenRules)
	unknown := "0b5e55ed-0000-4000-8000-00000000cafe"
	startBackends(t, c, "web", "web-1")
	path := filepath.Join(t.TempDir(), "consul-token")
	writeTokenFile(t, path, good)
	var log lockedBuffer
	a, stop := startLoggedSwitchyard(t, c.agent.HTTPAddr, &log, withRegister, withTokenFile(path))
	admin := a.AdminAddr()
	cc := dialXDS(t, a.XDSAddr(), "secret-client", "web")
	waitUntil(t, "web served", func() bool { return servedBy(spread(t, cc, 5), "web-1") })
	waitUntil(t, "the replica registered", func() bool { return replicaEntry(t, c.client, admin) != nil })

	outputs := map[string]string{}
	// A refused token, so that the error paths log too.
	writeTokenFile(t, path, unknown)
	waitUntil(t, "the unknown token in force", func() bool { return a.tokens.Token() == unknown })
	c.register(t, "api", "api-1", 9)
	waitUntil(t, "the refusal in /status", func() bool {
		var st adminStatus
		adminJSON(t, admin, "/status", &st)
		return st.Consul.Failing
	})
	var stdout, stderr bytes.Buffer
	if code := execute(context.Background(), []string{"status", "--admin-addr", admin}, &stdout, &stderr); code != 0 {
		t.Fatalf("switchyard status: exit %d: %s", code, stderr.String())
	}
	outputs["status while refused"] = stdout.String() + stderr.String()
	writeTokenFile(t, path, good)
	waitUntil(t, "recovered", func() bool {
		var st adminStatus
		adminJSON(t, admin, "/status", &st)
		return !st.Consul.Failing && st.Consul.LastSuccess.After(st.Consul.LastErrorAt)
	})

	for _, p := range []string{"/", "/dashboard/dashboard.js", "/status", "/readyz", "/metrics", "/v1/proxies",
		"/v1/proxies/secret-client", "/v1/services", "/v1/loads", "/debug/config_dump?group=envoy", "/debug/config_dump?group=grpc", "/debug/pprof/", "/debug/pprof/cmdline"} {
		outputs[p] = adminText(t, admin, p)
	}
	t.Setenv("CONSUL_HTTP_TOKEN", good)
	for _, args := range [][]string{
		{"status", "--consul-addr", c.agent.HTTPAddr},
		{"status", "--consul-addr", c.agent.HTTPAddr, "-o", "json"},
		{"status", "--consul-addr", c.agent.HTTPAddr, "secret-client"},
	} {
		var stdout, stderr bytes.Buffer
		if code := execute(context.Background(), args, &stdout, &stderr); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr.String())
		}
		outputs[strings.Join(args, " ")] = stdout.String() + stderr.String()
	}
	if !strings.Contains(outputs["status --consul-addr "+c.agent.HTTPAddr], "secret-client") {
		t.Fatalf("switchyard status did not find the proxy through Consul:\n%s", outputs["status --consul-addr "+c.agent.HTTPAddr])
	}
	entry, err := json.Marshal(replicaEntry(t, c.client, admin))
	if err != nil {
		t.Fatal(err)
	}
	outputs["the replica's registration in Consul"] = string(entry)
	stop()
	outputs["debug log"] = log.String()
	if !strings.Contains(outputs["debug log"], "ACL not found") {
		t.Errorf("the debug log does not show the refusal; the test did not exercise the error paths")
	}
	for where, out := range outputs {
		t.Logf("%s: %d bytes", where, len(out))
		for name, secret := range map[string]string{"good token": good, "unknown token": unknown} {
			if strings.Contains(out, secret) {
				i := strings.Index(out, secret)
				t.Errorf("%s shows the %s: …%s…", where, name, out[max(0, i-200):i])
			}
		}
	}
}
