package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"google.golang.org/grpc"
)

// TestTrafficFollowsConsul drives real gRPC xDS clients through Switchyard
// while Consul changes: every passing instance gets traffic, a critical one
// or one in maintenance loses it, a new one gains it and a deregistered one
// gets none. Each change
// is timed from the Consul write to the first batch of RPCs that shows it.
func TestTrafficFollowsConsul(t *testing.T) {
	c := startConsul(t)
	startBackends(t, c, "echo", "echo-1", "echo-2", "echo-3")
	sy := startSwitchyard(t, c.agent.HTTPAddr)
	cc := dialXDS(t, sy.app.XDSAddr(), "client-1", "echo")

	all := []string{"echo-1", "echo-2", "echo-3"}
	first := waitUntil(t, "traffic reaches every passing instance", func() bool {
		return servedBy(spread(t, cc, 30), all...)
	})
	t.Logf("first traffic to all three instances after %s", first.Round(time.Millisecond))

	var took []time.Duration
	measure := func(what string, change func(), want ...string) {
		t.Helper()
		start := time.Now()
		change()
		waitUntil(t, what, func() bool { return servedBy(spread(t, cc, 30), want...) })
		d := time.Since(start)
		took = append(took, d)
		t.Logf("%-28s → traffic changed after %s", what, d.Round(time.Millisecond))
	}
	for round := range 10 {
		id := all[round%len(all)]
		measure(id+" critical", func() { c.setHealth(t, id, api.HealthCritical) }, without(all, id)...)
		measure(id+" passing", func() { c.setHealth(t, id, api.HealthPassing) }, all...)
	}

	agent := c.client.Agent()
	measure("echo-2 maintenance on", func() {
		if err := agent.EnableServiceMaintenance("echo-2", "test"); err != nil {
			t.Fatal(err)
		}
	}, without(all, "echo-2")...)
	measure("echo-2 maintenance off", func() {
		if err := agent.DisableServiceMaintenance("echo-2"); err != nil {
			t.Fatal(err)
		}
	}, all...)
	measure("echo-4 registered", func() { startBackends(t, c, "echo", "echo-4") }, append(all, "echo-4")...)
	measure("echo-4 deregistered", func() { c.deregister(t, "echo-4") }, all...)
	assertNeverServed(t, cc, "echo-4")

	t.Logf("Consul change → traffic change: %s", durationStats(took))
}

// assertNeverServed checks that several batches of RPCs avoid an instance.
func assertNeverServed(t *testing.T, cc *grpc.ClientConn, id string) {
	t.Helper()
	for range 5 {
		if n := spreadStrict(t, cc, 30)[id]; n != 0 {
			t.Fatalf("%s answered %d RPCs after it left", id, n)
		}
	}
}

// without returns ids minus one.
func without(ids []string, drop string) []string {
	var out []string
	for _, id := range ids {
		if id != drop {
			out = append(out, id)
		}
	}
	return out
}

// TestTwoServicesTwoClients checks that each client only reaches its own
// service's instances.
func TestTwoServicesTwoClients(t *testing.T) {
	c := startConsul(t)
	startBackends(t, c, "alpha", "alpha-1", "alpha-2")
	startBackends(t, c, "beta", "beta-1")
	sy := startSwitchyard(t, c.agent.HTTPAddr)
	for service, want := range map[string][]string{"alpha": {"alpha-1", "alpha-2"}, "beta": {"beta-1"}} {
		cc := dialXDS(t, sy.app.XDSAddr(), fmt.Sprintf("client-%s", service), service)
		waitUntil(t, service+" traffic", func() bool { return servedBy(spread(t, cc, 20), want...) })
	}
}
