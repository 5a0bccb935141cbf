package main

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/switchyard/switchyard/internal/simenvoy"
	"github.com/switchyard/switchyard/rollout"
)

// canaryRouteRejection is what the rejecting Envoys of these tests answer
// to routes that send web's requests to web~v2.
const canaryRouteRejection = "test Envoy refuses routes to web~v2"

// rejectCanaryRoutes NACKs a route response whose configuration sends any
// requests to web~v2, as an Envoy that cannot take the new routes would.
func rejectCanaryRoutes(resp *discoveryv3.DiscoveryResponse) error {
	if resp.GetTypeUrl() != resourcev3.RouteType {
		return nil
	}
	for _, r := range resp.GetResources() {
		if strings.Contains(string(r.GetValue()), "web~v2") {
			return errors.New(canaryRouteRejection)
		}
	}
	return nil
}

// TestRolloutAbortsWhenProxiesReject runs two registered replicas with a
// rejecting simulated Envoy on each and a gRPC client on the first: the
// first step's routes are NACKed by both Envoys, and whichever replica
// leads aborts the rollout naming both, so the --require-ack gate saw the
// other replica's proxy through its admin API.
func TestRolloutAbortsWhenProxiesReject(t *testing.T) {
	c := startConsul(t)
	startVersionedBackends(t, c, "web", webVersions)
	c.setEntry(t, grpcDefaults("web"))
	c.setEntry(t, webResolver())
	one := startSwitchyard(t, c.agent.HTTPAddr, withRegister, withRolloutTick)
	two := startSwitchyard(t, c.agent.HTTPAddr, withRegister, withRolloutTick)
	waitUntil(t, "both replicas registered", func() bool {
		return replicaEntry(t, c.client, one.app.AdminAddr()) != nil && replicaEntry(t, c.client, two.app.AdminAddr()) != nil
	})
	var envoys []*simenvoy.Envoy
	for i, sy := range []*testSwitchyard{one, two} {
		e, err := simenvoy.Start(context.Background(), sy.app.XDSAddr(), simenvoy.Config{
			NodeID: []string{"edge-1", "edge-2"}[i], Cluster: "edge", Reject: rejectCanaryRoutes,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(e.Close)
		envoys = append(envoys, e)
	}
	cc := dialXDS(t, one.app.XDSAddr(), "client-1", "web")
	waitUntil(t, "traffic reaches every web instance", func() bool { return servedBy(spread(t, cc, 30), webAll...) })
	for _, e := range envoys {
		waitEnvoy(t, e, "web's routes", func(s simenvoy.State) bool { return len(describeRoutes(s, "http_10000", "web")) > 0 })
	}

	cli := rolloutCLI{consulAddr: c.agent.HTTPAddr}
	cli.ok(t, "start", "web", "--to", "v2", "--from", "v1", "--steps", "10,50,100", "--interval", "1m")
	st := waitRollout(t, cli, "rollout aborted", func(s rolloutStatus) bool { return s.Phase.Finished() })
	last := st.History[len(st.History)-1]
	t.Logf("phase %s; last event %s: %s", st.Phase, last.Action, last.Reason)
	if st.Phase != rollout.PhaseAborted {
		t.Fatalf("phase %s, want aborted; history %s", st.Phase, stepEvents(st.State))
	}
	for _, want := range []string{"step 10%: 2 proxies rejected the routes of web", "edge-1: ", "edge-2: ", canaryRouteRejection} {
		if !strings.Contains(last.Reason, want) {
			t.Errorf("abort reason %q lacks %q", last.Reason, want)
		}
	}
	waitUntil(t, "splitter back at 0%", func() bool { return splitterAt(t, c, 0) })
	waitUntil(t, "traffic back on v1", func() bool {
		counts, failed := spreadFailures(t, cc, 30)
		return failed == 0 && servedBy(counts, webV1...)
	})
	if i := slices.IndexFunc(st.Gates, func(g rollout.GateResult) bool { return g.Gate == rollout.GateAcks }); i < 0 || st.Gates[i].OK {
		t.Errorf("gates %+v: want a failed acks gate", st.Gates)
	}
}
