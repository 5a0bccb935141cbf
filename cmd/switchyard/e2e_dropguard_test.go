package main

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/snapshot"
)

// TestDropGuardHoldsMassDeregistration registers 20 instances of a service
// (each a live echo backend), then deregisters 19 of them within a second:
// the drop is held for --drop-confirm, while the client keeps reaching the
// instances in force and /v1/services shows the held drop, and applied
// after it. One instance of 20 deregistered is applied at once. The
// backends stay up throughout, so no RPC may fail.
func TestDropGuardHoldsMassDeregistration(t *testing.T) {
	const confirm = 3 * time.Second
	c := startConsul(t)
	ids := make([]string, 20)
	for i := range ids {
		ids[i] = fmt.Sprintf("web-%02d", i)
	}
	backends := startBackends(t, c, "web", ids...)
	sy := startSwitchyard(t, c.agent.HTTPAddr, func(cfg *serveConfig) {
		cfg.MaxEndpointDrop, cfg.DropConfirm = "50%", confirm
	})
	cc := dialXDS(t, sy.app.XDSAddr(), "client-guard", "web")
	waitUntil(t, "traffic reaches all 20 instances", func() bool { return servedBy(spread(t, cc, 60), ids...) })
	failed := 0
	batch := func() map[string]int {
		counts, f := spreadFailures(t, cc, 40)
		failed += f
		return counts
	}

	// 19 of 20 within one second: held, then applied.
	start := time.Now()
	deregisterAll(t, c, ids[1:])
	t.Logf("19 deregistrations took %s", time.Since(start).Round(time.Millisecond))
	var heldAt time.Duration // when /v1/services first showed the hold
	sawHold, fewest, full := false, len(ids), 0
	for {
		counts := batch()
		elapsed := time.Since(start)
		if servedBy(counts, ids[0]) {
			if elapsed < confirm {
				t.Fatalf("the drop reached the client after %s, inside the %s window", elapsed, confirm)
			}
			t.Logf("drop applied: the client reaches only %s %s after the deregistrations began (window %s)", ids[0], elapsed.Round(time.Millisecond), confirm)
			break
		}
		if elapsed < confirm {
			fewest = min(fewest, len(counts))
			if len(counts) < 2 {
				t.Fatalf("after %s the client reaches %v, inside the window", elapsed, counts)
			}
			// Once the hold has been published for a second, the client
			// reaches every instance of the peak.
			if sawHold && elapsed > heldAt+time.Second {
				if !servedBy(counts, ids...) {
					t.Fatalf("after %s, held since %s, the client reaches %d of 20 instances", elapsed, heldAt, len(counts))
				}
				full++
			}
			if d := heldDrop(t, sy, "web"); d != nil && !sawHold {
				sawHold, heldAt = true, elapsed
				t.Logf("held after %s: %+v", elapsed.Round(time.Millisecond), *d)
			}
		}
		if elapsed > confirm+waitTimeout {
			t.Fatalf("the drop was not applied within %s (last batch %v)", elapsed, counts)
		}
	}
	if !sawHold {
		t.Errorf("/v1/services never showed the held drop inside the window")
	}
	t.Logf("inside the window every batch reached at least %d of 20 instances; %d batches after the hold settled reached all 20", fewest, full)
	if full == 0 {
		t.Errorf("no batch inside the window was checked to reach all 20 instances")
	}
	if d := heldDrop(t, sy, "web"); d != nil {
		t.Errorf("drop applied but /v1/services still shows it held: %+v", *d)
	}

	// Back to 20, then 1 of 20: applied at once.
	for _, id := range ids[1:] {
		c.register(t, "web", id, backends[id].Port)
	}
	waitUntil(t, "traffic reaches all 20 instances again", func() bool { return servedBy(batch(), ids...) })
	start = time.Now()
	c.deregister(t, ids[19])
	for !servedBy(batch(), ids[:19]...) {
		if d := heldDrop(t, sy, "web"); d != nil {
			t.Fatalf("1 of 20 deregistered was held: %+v", *d)
		}
		if time.Since(start) > confirm {
			t.Fatalf("1 of 20 deregistered not applied within %s", confirm)
		}
	}
	t.Logf("1 of 20 deregistered: applied after %s", time.Since(start).Round(time.Millisecond))
	if failed > 0 {
		t.Errorf("%d RPCs failed while every backend was up", failed)
	}
}

// deregisterAll deregisters the instances concurrently, so that they all
// leave within a moment.
func deregisterAll(t *testing.T, c *consulFixture, ids []string) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, len(ids))
	for i, id := range ids {
		wg.Go(func() { errs[i] = c.client.Agent().ServiceDeregister(id) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("deregister: %v", err)
	}
}

// heldDrop returns the held drop /v1/services shows for a service, or nil.
func heldDrop(t *testing.T, sy *testSwitchyard, service string) *snapshot.HeldDrop {
	t.Helper()
	var views []snapshot.ServiceView
	adminJSON(t, sy.app.AdminAddr(), "/v1/services", &views)
	for _, v := range views {
		if v.Name == service {
			return v.HeldDrop
		}
	}
	return nil
}
