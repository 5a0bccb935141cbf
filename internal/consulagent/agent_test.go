//go:build linux

package consulagent

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestBinaryFromEnv(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "consul")
	t.Setenv(binaryEnv, missing)
	_, err := Binary()
	if err == nil || !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), "make consul") {
		t.Fatalf("Binary() error = %v, want one naming %s and `make consul`", err, missing)
	}
	if err := os.WriteFile(missing, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := Binary()
	if err != nil || got != missing {
		t.Fatalf("Binary() = %q, %v; want %q", got, err, missing)
	}
}

func TestModuleRoot(t *testing.T) {
	root := t.TempDir()
	other := filepath.Join(root, "vendor", "other")
	deep := filepath.Join(other, "a", "b")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(dir, module string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("// comment\nmodule "+module+"\n\ngo 1.26\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(root, modulePath)
	write(other, "example.com/other")
	got, err := moduleRoot(deep)
	if err != nil || got != root {
		t.Fatalf("moduleRoot(%s) = %q, %v; want %q (skipping the other module)", deep, got, err, root)
	}
	if _, err := moduleRoot(t.TempDir()); err == nil {
		t.Fatal("moduleRoot outside any Switchyard module: want an error")
	}
}

func TestTailBufferKeepsLastBytes(t *testing.T) {
	tb := &tailBuffer{max: 5}
	for _, s := range []string{"abc", "defg", "h"} {
		_, _ = tb.Write([]byte(s))
	}
	if got := tb.String(); got != "defgh" {
		t.Fatalf("tail = %q, want %q", got, "defgh")
	}
}

func TestFreePortsDistinct(t *testing.T) {
	p, err := freePorts()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, v := range []int{p.HTTP, p.GRPC, p.GRPCTLS, p.SerfLAN, p.SerfWAN, p.Server} {
		if v <= 0 || seen[v] {
			t.Fatalf("ports %+v are not distinct and positive", p)
		}
		seen[v] = true
	}
}

func TestTwoAgentsAtOnce(t *testing.T) {
	var (
		wg     sync.WaitGroup
		agents [2]*Agent
		errs   [2]error
	)
	for i := range agents {
		wg.Go(func() {
			agents[i], errs[i] = Start(t.Context(), Options{})
		})
	}
	wg.Wait()
	for i, a := range agents {
		if a != nil {
			t.Cleanup(func() { _ = a.Stop() })
		}
		if errs[i] != nil {
			t.Fatalf("agent %d: %v", i, errs[i])
		}
	}
	if agents[0].HTTPAddr == agents[1].HTTPAddr {
		t.Fatalf("both agents on %s", agents[0].HTTPAddr)
	}
	for i, a := range agents {
		c, err := a.Client()
		if err != nil {
			t.Fatal(err)
		}
		leader, err := c.Status().Leader()
		if err != nil || leader == "" {
			t.Fatalf("agent %d leader = %q, %v", i, leader, err)
		}
		self, err := c.Agent().NodeName()
		if err != nil || self != a.NodeName {
			t.Fatalf("agent %d node = %q, %v; want %q", i, self, err, a.NodeName)
		}
	}
	for i, a := range agents {
		if err := a.Stop(); err != nil {
			t.Fatalf("stop agent %d: %v", i, err)
		}
		if err := a.Stop(); err != nil {
			t.Fatalf("second stop of agent %d: %v", i, err)
		}
	}
}

func TestKillMakesAPIUnreachable(t *testing.T) {
	a := StartT(t)
	c, err := a.Client()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Status().Leader(); err != nil {
		t.Fatalf("leader before kill: %v", err)
	}
	if err := a.Kill(); err != nil {
		t.Fatalf("kill: %v", err)
	}
	if leader, err := c.Status().Leader(); err == nil {
		t.Fatalf("leader after kill = %q, want an error", leader)
	}
	if err := a.Kill(); err != nil {
		t.Fatalf("second kill: %v", err)
	}
	if err := a.Stop(); err != nil {
		t.Fatalf("stop after kill: %v", err)
	}
}

func TestStartFailsOnBadBinary(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "consul")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\necho refusing to start >&2\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := Start(context.Background(), Options{Binary: bin})
	if err == nil || !strings.Contains(err.Error(), "refusing to start") {
		t.Fatalf("Start with a failing binary: err = %v, want one with the log tail", err)
	}
}
