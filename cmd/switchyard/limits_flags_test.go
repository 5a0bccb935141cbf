package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLimitFlagsOutOfRangeExit2 gives each limit flag a value outside its
// range: serve exits 2 with one line naming the flag.
func TestLimitFlagsOutOfRangeExit2(t *testing.T) {
	for _, tc := range []struct {
		flag, value string
	}{
		{"--max-streams-per-conn", "0"},
		{"--max-msg-size", "1024"},
		{"--max-msg-size", "1073741824"},
		{"--keepalive-min-ping", "100ms"},
		{"--max-connection-age", "1s"},
		{"--shutdown-grace", "1h"},
		{"--max-new-streams-per-second", "0"},
		{"--max-new-streams-per-second", "1e6"},
	} {
		t.Run(tc.flag+"="+tc.value, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := execute(context.Background(), []string{"serve", tc.flag, tc.value}, &stdout, &stderr); code != 2 {
				t.Errorf("exit code %d, want 2 (stderr %q)", code, stderr.String())
			}
			if msg := stderr.String(); strings.Count(msg, "\n") != 1 || !strings.Contains(msg, tc.flag) {
				t.Errorf("stderr %q: want one line naming %s", msg, tc.flag)
			}
		})
	}
}

// TestLimitFlagsReachTheXDSServer checks that the flags' values are what
// the xDS server is built with.
func TestLimitFlagsReachTheXDSServer(t *testing.T) {
	cfg := defaultServeConfig()
	cmd := newServeCommand()
	args := []string{"--max-streams-per-conn=7", "--max-msg-size=2097152", "--keepalive-min-ping=3s",
		"--max-connection-age=2m", "--shutdown-grace=9s", "--max-new-streams-per-second=12.5"}
	if err := cmd.ParseFlags(args); err != nil {
		t.Fatal(err)
	}
	get := func(name string) string { return cmd.Flags().Lookup(name).Value.String() }
	for name, want := range map[string]string{
		"max-streams-per-conn": "7", "max-msg-size": "2097152", "keepalive-min-ping": "3s",
		"max-connection-age": "2m0s", "shutdown-grace": "9s", "max-new-streams-per-second": "12.5",
	} {
		if got := get(name); got != want {
			t.Errorf("--%s = %s, want %s", name, got, want)
		}
	}
	cfg.XDSLimits = xdsLimits{MaxStreamsPerConn: 7, MaxMsgSize: 2 << 20, KeepaliveMinPing: 3 * time.Second,
		MaxConnectionAge: 2 * time.Minute, ShutdownGrace: 9 * time.Second, MaxNewStreamsPerSecond: 12.5}
	x := xdsConfig(cfg, nil, nil)
	if x.MaxConcurrentStreams != 7 || x.MaxMsgSize != 2<<20 || x.MinPingInterval != 3*time.Second ||
		x.MaxConnectionAge != 2*time.Minute || x.ShutdownGrace != 9*time.Second || x.MaxNewStreamsPerSecond != 12.5 {
		t.Errorf("xds config %+v does not carry the limits %+v", x, cfg.XDSLimits)
	}
}

// TestTokenFileFlagDefaultsToConsulsVariable checks that
// --consul-token-file follows CONSUL_HTTP_TOKEN_FILE, and that a missing
// file stops serve at start.
func TestTokenFileFlagDefaultsToConsulsVariable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	t.Setenv("CONSUL_HTTP_TOKEN_FILE", path)
	cfg := defaultServeConfig()
	if cfg.ConsulTokenFile != path {
		t.Fatalf("ConsulTokenFile = %q, want %q", cfg.ConsulTokenFile, path)
	}
	if _, err := openTokenFile(cfg, nil); err == nil || !strings.Contains(err.Error(), "--consul-token-file") {
		t.Fatalf("openTokenFile(missing) = %v, want an error naming the flag", err)
	}
	if err := os.WriteFile(path, []byte("s3cr3t\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tokens, err := openTokenFile(cfg, nil)
	if err != nil || tokens.Token() != "s3cr3t" {
		t.Fatalf("openTokenFile() = %v, %v", tokens, err)
	}
}
