package main

import (
	"net"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// freeAddr returns a loopback address that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestServeBinaryStopsOnSignals builds the real binary, serves a real Consul
// until ready, and checks that SIGTERM and SIGINT each stop it cleanly
// (exit 0) within the shutdown grace.
func TestServeBinaryStopsOnSignals(t *testing.T) {
	bin := switchyardBinary.MustPath(t)
	c := startConsul(t)
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			admin := freeAddr(t)
			cmd := exec.Command(bin, "serve", "--consul-addr", c.agent.HTTPAddr,
				"--xds-addr", freeAddr(t), "--admin-addr", admin, "--log-format", "json")
			var logs strings.Builder
			cmd.Stderr = &logs
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			waitUntil(t, "binary ready", func() bool {
				resp, err := http.Get("http://" + admin + "/readyz")
				if err != nil {
					return false
				}
				resp.Body.Close()
				return resp.StatusCode == http.StatusOK
			})
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("exit after %s: %v\n%s", sig, err, logs.String())
				}
			case <-time.After(15 * time.Second):
				cmd.Process.Kill()
				<-done
				t.Fatalf("still running 15s after %s\n%s", sig, logs.String())
			}
			if !strings.Contains(logs.String(), "switchyard stopped") {
				t.Errorf("no clean-stop log line:\n%s", logs.String())
			}
		})
	}
}
