package main

import (
	"io"
	"log/slog"
	"net"
	"testing"
)

// TestNodeAddressesLoopback checks that every synthetic node gets a
// distinct loopback address, up to the largest catalog the flags allow.
func TestNodeAddressesLoopback(t *testing.T) {
	c, err := newChurn(slog.New(slog.NewTextHandler(io.Discard, nil)), "127.0.0.1:1", churnConfig{prefix: "load-", services: 1, instances: 1, writesPerSecond: 1, writers: 1})
	if err != nil {
		t.Fatal(err)
	}
	c.cfg.instances = maxInstances
	seen := map[string]bool{}
	for _, n := range []int{0, 1, 254, 255, 256, 65535, 65536, maxInstances - 1} {
		a := c.nodeAddress(0, n)
		ip := net.ParseIP(a)
		if ip == nil || !ip.IsLoopback() || a == "127.0.0.0" || seen[a] {
			t.Errorf("node %d: address %q, want a distinct loopback address", n, a)
		}
		seen[a] = true
	}
	if got := c.nodeName(0, 7); got != "load-node-00007" {
		t.Errorf("node name %q, want load-node-00007", got)
	}
}
