package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/switchyard/switchyard/internal/simenvoy"
)

// convergence returns the count and sum of the convergence histogram.
func convergence(t *testing.T, adminAddr string) (uint64, float64) {
	t.Helper()
	h := scrapeOne(t, adminAddr, "switchyard_xds_convergence_seconds").GetHistogram()
	return h.GetSampleCount(), h.GetSampleSum()
}

// TestConvergenceHistogram flips an instance's health back and forth with
// several simulated Envoys connected, times each change from the Consul
// write to each Envoy accepting it, and checks that the convergence
// histogram counted one observation per proxy per change and that its mean
// agrees with the measured one within 20 %.
func TestConvergenceHistogram(t *testing.T) {
	const proxies, changes = 8, 10
	c := startConsul(t)
	c.register(t, "web", "web-1", 18091)
	c.register(t, "web", "web-2", 18092)
	sy := startSwitchyard(t, c.agent.HTTPAddr)
	var envoys []*simenvoy.Envoy
	for i := range proxies {
		envoys = append(envoys, startSimEnvoy(t, sy.app.XDSAddr(), fmt.Sprintf("conv-%d", i)))
	}
	both := []string{"127.0.0.1:18091", "127.0.0.1:18092"}
	for _, e := range envoys {
		waitEnvoy(t, e, "both endpoints", func(s simenvoy.State) bool { return slices.Equal(endpointAddrs(s, "web"), both) })
	}
	waitUntil(t, "every proxy synced", func() bool {
		n := 0
		for _, p := range sy.app.xds.Proxies() {
			if p.State == "SYNCED" {
				n++
			}
		}
		return n == proxies
	})
	count0, sum0 := convergence(t, sy.app.AdminAddr())

	var measured []time.Duration
	for i := range changes {
		status, want := api.HealthCritical, []string{"127.0.0.1:18092"}
		if i%2 == 1 {
			status, want = api.HealthPassing, both
		}
		c.setHealth(t, "web-1", status)
		// The change exists from the moment Consul answers the write.
		start := time.Now()
		var mu sync.Mutex
		var wg sync.WaitGroup
		for _, e := range envoys {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				if err := e.Wait(ctx, func(s simenvoy.State) bool { return slices.Equal(endpointAddrs(s, "web"), want) }); err != nil {
					t.Errorf("change %d: %v", i, err)
					return
				}
				mu.Lock()
				measured = append(measured, time.Since(start))
				mu.Unlock()
			})
		}
		wg.Wait()
		// The histogram is written when the ACK arrives, just after the
		// Envoy accepted: wait for this change's observations.
		seen := count0 + uint64((i+1)*proxies)
		waitUntil(t, "this change's observations", func() bool { n, _ := convergence(t, sy.app.AdminAddr()); return n >= seen })
	}
	count, sum := convergence(t, sy.app.AdminAddr())
	if got := count - count0; got != proxies*changes {
		t.Errorf("histogram counted %d observations, want %d (one per proxy per change)", got, proxies*changes)
	}
	var total time.Duration
	for _, d := range measured {
		total += d
	}
	e2e := total.Seconds() / float64(len(measured))
	hist := (sum - sum0) / float64(count-count0)
	t.Logf("mean convergence: histogram %.2f ms, measured end to end %.2f ms over %d proxy-changes", hist*1000, e2e*1000, len(measured))
	if diff := hist/e2e - 1; diff > 0.2 || diff < -0.2 {
		t.Errorf("histogram mean %.2f ms differs from the end-to-end %.2f ms by %.0f %%, want within 20 %%", hist*1000, e2e*1000, diff*100)
	}
}
