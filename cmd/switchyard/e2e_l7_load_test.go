package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"

	"github.com/switchyard/switchyard/internal/echo"
	"github.com/switchyard/switchyard/internal/simenvoy"
)

// loadResult is what one load worker saw: answers per phase and instance,
// and its failed RPCs.
type loadResult struct {
	answers  []map[string]int
	failed   int
	firstErr error
}

// loadWorker sends RPCs over cc one after another until stop is closed,
// counting each answer under the phase in force when the RPC started. Each
// RPC has a deadline of its own rather than a context that stop cancels,
// so that stopping fails no RPC.
func loadWorker(cc *grpc.ClientConn, phase *atomic.Int32, phases int, stop <-chan struct{}) loadResult {
	res := loadResult{answers: make([]map[string]int, phases)}
	for i := range res.answers {
		res.answers[i] = map[string]int{}
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
			res.failed++
			if res.firstErr == nil {
				res.firstErr = err
			}
			continue
		}
		res.answers[p][id]++
	}
}

// routedClusters lists the clusters that the routes of one virtual host
// of a route configuration send requests to (with a weight above 0),
// sorted and without duplicates.
func routedClusters(s simenvoy.State, routeConfig, vhost string) []string {
	rc, ok := s.Types[resourcev3.RouteType].Resources[routeConfig].(*routev3.RouteConfiguration)
	if !ok {
		return nil
	}
	var out []string
	for _, vh := range rc.GetVirtualHosts() {
		if vh.GetName() != vhost {
			continue
		}
		for _, r := range vh.GetRoutes() {
			if c := r.GetRoute().GetCluster(); c != "" {
				out = append(out, c)
			}
			for _, wc := range r.GetRoute().GetWeightedClusters().GetClusters() {
				if wc.GetWeight().GetValue() > 0 {
					out = append(out, wc.GetName())
				}
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// TestL7SplitChangesUnderLoad runs gRPC clients flat out (several xDS
// clients, several goroutines each) while web's split changes 90/10 →
// 50/50 → 0/100: no RPC may fail, the clients must reach at least 500
// RPCs/s together, and after the last change v1 gets nothing while its
// cluster and endpoints stay served: a simulated client in the gRPC group
// (which subscribes to every cluster; it does not follow API listeners to
// their routes) still gets web~v1 and its endpoints, and a simulated Envoy
// shows web's routes no longer send to it.
func TestL7SplitChangesUnderLoad(t *testing.T) {
	const (
		conns, workersPerConn = 4, 4
		phaseLength           = 1500 * time.Millisecond
		minRate               = 500.0
	)
	splits := [][2]float32{{90, 10}, {50, 50}, {0, 100}}

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
	}
	<-timer.C
	close(stop)
	wg.Wait()
	elapsed := time.Since(start)

	total, failed := 0, 0
	perPhase := make([]map[string]int, len(splits))
	for p := range perPhase {
		perPhase[p] = map[string]int{}
	}
	for _, r := range results {
		failed += r.failed
		if r.firstErr != nil {
			t.Errorf("a load worker's RPC failed: %v", r.firstErr)
		}
		for p, counts := range r.answers {
			for id, n := range counts {
				perPhase[p][id] += n
				total += n
			}
		}
	}
	rate := float64(total+failed) / elapsed.Seconds()
	for p, counts := range perPhase {
		end := start.Add(elapsed)
		if p+1 < len(phaseStart) {
			end = phaseStart[p+1]
		}
		n := 0
		for _, c := range counts {
			n += c
		}
		t.Logf("phase %d (split %v/%v, %s): %d RPCs (%.0f/s), v1 share %.1f%%, per group %v",
			p, splits[p][0], splits[p][1], end.Sub(phaseStart[p]).Round(time.Millisecond), n,
			float64(n)/end.Sub(phaseStart[p]).Seconds(), 100*share(counts, "v1"), groups(counts))
	}
	t.Logf("%d workers on %d xDS clients: %d RPCs in %s = %.0f RPCs/s, %d failed",
		len(results), conns, total+failed, elapsed.Round(time.Millisecond), rate, failed)
	if failed > 0 {
		t.Errorf("%d of %d RPCs failed while the split changed", failed, total+failed)
	}
	if rate < minRate {
		t.Errorf("load reached %.0f RPCs/s, want at least %.0f", rate, minRate)
	}

	// 0/100 is in force: v1 gets nothing, yet its cluster and endpoints
	// stay served, so that a later split back to v1 needs no warming.
	for i, cc := range ccs {
		if n := groups(spreadStrict(t, cc, 300))["v1"]; n != 0 {
			t.Errorf("client load-%d: v1 answered %d of 300 RPCs under a 0/100 split", i, n)
		}
	}
	waitEnvoy(t, envoyProbe, "Envoy routes web only to web~v2", func(s simenvoy.State) bool {
		return slices.Equal(routedClusters(s, "http_10000", "web"), []string{"web~v2"})
	})
	waitEnvoy(t, grpcProbe, "gRPC flavour keeps web~v1 and its endpoints", func(s simenvoy.State) bool {
		_, hasV1 := s.Types[resourcev3.ClusterType].Resources["web~v1"]
		return hasV1 && len(endpointAddrs(s, "web~v1")) == len(webV1) && len(endpointAddrs(s, "web~v2")) == len(webV2)
	})
	for _, p := range []*simenvoy.Envoy{envoyProbe, grpcProbe} {
		if n := p.State().NACKs; len(n) != 0 {
			t.Errorf("simulated client rejected config: %v", n)
		}
	}
}
