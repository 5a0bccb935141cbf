package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"

	"github.com/hashicorp/consul/api"

	"github.com/switchyard/switchyard/internal/echo"
	"github.com/switchyard/switchyard/internal/simenvoy"
)

// loadResult is what one load worker saw in each phase: answers per
// instance, and failed RPCs per error message.
type loadResult struct {
	answers []map[string]int
	errors  []map[string]int
}

// loadWorker sends RPCs over cc one after another until stop is closed,
// counting each answer or error under the phase in force when the RPC
// started. Each RPC has a deadline of its own rather than a context that
// stop cancels, so that stopping fails no RPC.
func loadWorker(cc *grpc.ClientConn, phase *atomic.Int32, phases int, stop <-chan struct{}) loadResult {
	res := loadResult{answers: make([]map[string]int, phases), errors: make([]map[string]int, phases)}
	for i := range phases {
		res.answers[i], res.errors[i] = map[string]int{}, map[string]int{}
	}
	for {
		select {
		case <-stop:
			return res
		default:
		}
		p := phase.Load()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		id, err := echo.Call(ctx, cc)
		cancel()
		if err != nil {
			res.errors[p][err.Error()]++
			continue
		}
		res.answers[p][id]++
	}
}

// sum adds up a map's counts.
func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// routedClusters lists the clusters that the routes of one virtual host
// of a route configuration send requests to (with a weight above 0),
// sorted and without duplicates.
func routedClusters(s simenvoy.State, routeConfig, vhost string) []string {
	var out []string
	for _, r := range vhostRoutes(s, routeConfig, vhost) {
		if c := r.GetRoute().GetCluster(); c != "" {
			out = append(out, c)
		}
		for _, wc := range r.GetRoute().GetWeightedClusters().GetClusters() {
			if wc.GetWeight().GetValue() > 0 {
				out = append(out, wc.GetName())
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// TestL7SplitChangesUnderLoad runs gRPC clients flat out (several xDS
// clients, several goroutines each) while web's split changes 90/10 →
// 50/50 → 0/100, and back to 50/50. The clients must reach at least 500
// RPCs/s together, and no RPC may fail in the first three phases. Under
// 0/100 v1 gets nothing while its cluster and endpoints stay served: a
// simulated client in the gRPC group (which subscribes to every cluster;
// it does not follow API listeners to their routes) still gets web~v1 and
// its endpoints, and a simulated Envoy shows web's routes no longer send
// to it. Going back to 50/50 sends to web~v1 again: gRPC-Go (v1.85) fails
// RPCs picked for a cluster its balancer has not built yet ("unknown
// cluster selected for RPC"), which Switchyard avoids by keeping every
// subset referenced from a route that never matches, so no phase may fail
// any RPC. Once v1 is back, a health change in it reaches every client.
func TestL7SplitChangesUnderLoad(t *testing.T) {
	const (
		conns, workersPerConn = 4, 4
		phaseLength           = 1500 * time.Millisecond
		minRate               = 500.0
	)
	splits := [][2]float32{{90, 10}, {50, 50}, {0, 100}, {50, 50}}

	f := startL7(t)
	f.c.setEntry(t, webSplit(splits[0][0], splits[0][1]))
	var ccs []*grpc.ClientConn
	for i := range conns {
		cc := dialXDS(t, f.sy.app.XDSAddr(), fmt.Sprintf("load-%d", i), "web")
		waitShare(t, cc, "v1", 0.9, 0.1, 200)
		ccs = append(ccs, cc)
	}
	envoyProbe := startSimEnvoy(t, f.sy.app.XDSAddr(), "probe-envoy")
	grpcProbe, err := simenvoy.Start(context.Background(), f.sy.app.XDSAddr(), simenvoy.Config{NodeID: "probe-grpc", Cluster: "e2e", UserAgent: "gRPC Go"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(grpcProbe.Close)

	var phase atomic.Int32
	stop := make(chan struct{})
	results := make([]loadResult, conns*workersPerConn)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range results {
		wg.Go(func() { results[i] = loadWorker(ccs[i%conns], &phase, len(splits), stop) })
	}
	phaseStart := []time.Time{start}
	timer := time.NewTimer(phaseLength)
	for p := 1; p < len(splits); p++ {
		<-timer.C
		phase.Store(int32(p))
		phaseStart = append(phaseStart, time.Now())
		f.c.setEntry(t, webSplit(splits[p][0], splits[p][1]))
		timer.Reset(phaseLength)
		if splits[p][0] == 0 {
			checkV1Idle(t, f, ccs, envoyProbe, grpcProbe)
		}
	}
	<-timer.C
	close(stop)
	wg.Wait()
	phaseStart = append(phaseStart, time.Now())
	reportLoad(t, splits, phaseStart, results, minRate)

	f.c.setHealth(t, "web-1", api.HealthCritical)
	for i, cc := range ccs {
		waitUntil(t, fmt.Sprintf("client load-%d: v1 back without web-1", i), func() bool {
			return servedBy(spread(t, cc, 50), "web-2", "web-3")
		})
	}
	for _, p := range []*simenvoy.Envoy{envoyProbe, grpcProbe} {
		if n := p.State().NACKs; len(n) != 0 {
			t.Errorf("simulated client rejected config: %v", n)
		}
	}
}

// checkV1Idle checks, while a 0/100 split is in force, that v1 gets
// nothing from any client and that its cluster and endpoints stay served.
func checkV1Idle(t *testing.T, f *l7Fixture, ccs []*grpc.ClientConn, envoyProbe, grpcProbe *simenvoy.Envoy) {
	t.Helper()
	for i, cc := range ccs {
		waitUntil(t, fmt.Sprintf("client load-%d: v1 gets nothing", i), func() bool { return groups(spread(t, cc, 50))["v1"] == 0 })
		if n := groups(spreadStrict(t, cc, 100))["v1"]; n != 0 {
			t.Errorf("client load-%d: v1 answered %d of 100 RPCs under a 0/100 split", i, n)
		}
	}
	waitEnvoy(t, envoyProbe, "Envoy routes web only to web~v2", func(s simenvoy.State) bool {
		return slices.Equal(routedClusters(s, "http_10000", "web"), []string{"web~v2"})
	})
	waitEnvoy(t, grpcProbe, "gRPC flavour keeps web~v1 and its endpoints", func(s simenvoy.State) bool {
		_, hasV1 := s.Types[resourcev3.ClusterType].Resources["web~v1"]
		return hasV1 && len(endpointAddrs(s, "web~v1")) == len(webV1) && len(endpointAddrs(s, "web~v2")) == len(webV2)
	})
}

// reportLoad logs each phase's RPCs, rate, share and failures, and checks
// the overall rate and that no phase failed any RPC.
func reportLoad(t *testing.T, splits [][2]float32, phaseStart []time.Time, results []loadResult, minRate float64) {
	t.Helper()
	all := 0
	for p := range splits {
		answers, errs := map[string]int{}, map[string]int{}
		for _, r := range results {
			for k, v := range r.answers[p] {
				answers[k] += v
			}
			for k, v := range r.errors[p] {
				errs[k] += v
			}
		}
		length := phaseStart[p+1].Sub(phaseStart[p])
		n, failed := sum(answers)+sum(errs), sum(errs)
		all += n
		t.Logf("phase %d (split %v/%v, %s): %d RPCs (%.0f/s), %d failed, v1 share %.1f%%, per group %v",
			p, splits[p][0], splits[p][1], length.Round(time.Millisecond), n, float64(n)/length.Seconds(),
			failed, 100*share(answers, "v1"), groups(answers))
		for msg, k := range errs {
			t.Errorf("phase %d: %d RPCs failed: %s", p, k, msg)
		}
	}
	elapsed := phaseStart[len(phaseStart)-1].Sub(phaseStart[0])
	rate := float64(all) / elapsed.Seconds()
	t.Logf("%d workers: %d RPCs in %s = %.0f RPCs/s", len(results), all, elapsed.Round(time.Millisecond), rate)
	if rate < minRate {
		t.Errorf("load reached %.0f RPCs/s, want at least %.0f", rate, minRate)
	}
}

// TestL7ShiftToAnotherServiceUnderLoad runs gRPC clients flat out while
// web's splitter starts sending to another service, then everything, then
// nothing again. A gRPC client builds only the clusters its routes
// reference and fails RPCs picked for one it has not built yet, so
// Switchyard first sends gRPC clients the old routes with the new cluster
// referenced from a route that never matches, and the new routes a
// moment later: no phase may fail any RPC.
func TestL7ShiftToAnotherServiceUnderLoad(t *testing.T) {
	const (
		conns, workersPerConn = 4, 4
		phaseLength           = 1500 * time.Millisecond
		minRate               = 500.0
	)
	toOther := func(webShare float32) *api.ServiceSplitterConfigEntry {
		return &api.ServiceSplitterConfigEntry{Kind: api.ServiceSplitter, Name: "web", Splits: []api.ServiceSplit{
			{Weight: webShare, ServiceSubset: "v1"}, {Weight: 100 - webShare, Service: "other"}}}
	}
	// The labels are web's share and other's.
	splits := [][2]float32{{100, 0}, {50, 50}, {0, 100}, {100, 0}}
	f := startL7(t)
	f.c.setEntry(t, toOther(100))
	var ccs []*grpc.ClientConn
	for i := range conns {
		cc := dialXDS(t, f.sy.app.XDSAddr(), fmt.Sprintf("shift-%d", i), "web")
		waitUntil(t, "web's v1 alone answers", func() bool { return servedBy(spread(t, cc, 30), "web-1", "web-2") })
		ccs = append(ccs, cc)
	}
	var phase atomic.Int32
	stop := make(chan struct{})
	results := make([]loadResult, conns*workersPerConn)
	var wg sync.WaitGroup
	phaseStart := []time.Time{time.Now()}
	for i := range results {
		wg.Go(func() { results[i] = loadWorker(ccs[i%conns], &phase, len(splits), stop) })
	}
	timer := time.NewTimer(phaseLength)
	for p := 1; p < len(splits); p++ {
		<-timer.C
		phase.Store(int32(p))
		phaseStart = append(phaseStart, time.Now())
		f.c.setEntry(t, toOther(splits[p][0]))
		timer.Reset(phaseLength)
	}
	<-timer.C
	close(stop)
	wg.Wait()
	phaseStart = append(phaseStart, time.Now())
	reportLoad(t, splits, phaseStart, results, minRate)
	for _, p := range []int{1, 2} {
		got := 0
		for _, r := range results {
			got += r.answers[p]["other-1"] + r.answers[p]["other-2"]
		}
		if got == 0 {
			t.Errorf("phase %d: other answered no RPC", p)
		}
	}
	for i, cc := range ccs {
		waitUntil(t, fmt.Sprintf("client shift-%d: back on web's v1 alone", i), func() bool {
			return servedBy(spread(t, cc, 50), "web-1", "web-2")
		})
	}
}
