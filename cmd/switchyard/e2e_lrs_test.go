package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"google.golang.org/grpc"

	"github.com/switchyard/switchyard/internal/echo"
	"github.com/switchyard/switchyard/xds"
)

// v2Failure is in the message of every RPC web-3 fails on purpose.
const v2Failure = "backend web-3 fails this call"

// lrsTally counts, client side, where a gRPC client's RPCs went.
type lrsTally struct {
	answered map[string]int // by instance id
	v2Failed int            // failed by web-3's failure rate
	other    []string       // any other failure
}

// send sends n RPCs one after the other and counts them.
func (tl *lrsTally) send(t *testing.T, cc *grpc.ClientConn, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for range n {
		id, err := echo.Call(ctx, cc)
		switch {
		case err == nil:
			tl.answered[id]++
		case strings.Contains(err.Error(), v2Failure):
			tl.v2Failed++
		case ctx.Err() != nil:
			t.Fatalf("RPCs did not finish in time: %v", err)
		default:
			tl.other = append(tl.other, err.Error())
		}
	}
}

// clusterLoad returns the load of one cluster, summed over service names.
func clusterLoad(loads []xds.ClusterLoad, cluster string) xds.ClusterLoad {
	out := xds.ClusterLoad{Cluster: cluster}
	for _, l := range loads {
		if l.Cluster != cluster {
			continue
		}
		out.ServiceName = l.ServiceName
		out.Success += l.Success
		out.Error += l.Error
		out.Issued += l.Issued
		out.Dropped += l.Dropped
		out.Reporters += l.Reporters
	}
	return out
}

// TestL7LoadReports checks that the load a gRPC xDS client reports over
// LRS is what it sent. Web goes first all to subset v1, so that from then
// on every RPC web-3 answers or fails is one cluster web~v2 carried; then
// web-3 fails 30 % of its calls, a 50/50 split sends half the traffic to
// it, and after 1,000 RPCs /v1/loads must show web~v2 with exactly the
// successes and failures the client saw of web-3, and web~v1 with no error.
func TestL7LoadReports(t *testing.T) {
	f := startL7(t, func(cfg *serveConfig) { cfg.LoadReportInterval = 200 * time.Millisecond })
	f.c.setEntry(t, &api.ServiceSplitterConfigEntry{
		Kind: api.ServiceSplitter, Name: "web",
		Splits: []api.ServiceSplit{{Weight: 100, ServiceSubset: "v1"}},
	})
	waitUntil(t, "only v1 answers", func() bool { return servedBy(spread(t, f.cc, 30), webV1...) })

	f.web["web-3"].SetFailureRate(0.3)
	f.c.setEntry(t, webSplit(50, 50))
	tally := &lrsTally{answered: map[string]int{}}
	waitUntil(t, "v2 takes traffic", func() bool {
		tally.send(t, f.cc, 20)
		return tally.answered["web-3"] > 0
	})
	tally.send(t, f.cc, 1000)
	if len(tally.other) > 0 {
		t.Fatalf("%d RPCs failed other than by web-3's failure rate, first: %s", len(tally.other), tally.other[0])
	}
	v2Sent := tally.answered["web-3"] + tally.v2Failed
	t.Logf("client: web-3 answered %d and failed %d of its %d RPCs (%.1f %% errors); v1 answered %d",
		tally.answered["web-3"], tally.v2Failed, v2Sent, 100*float64(tally.v2Failed)/float64(v2Sent),
		tally.answered["web-1"]+tally.answered["web-2"])

	var body struct {
		Loads []xds.ClusterLoad `json:"loads"`
	}
	var v1, v2 xds.ClusterLoad
	defer func() {
		if t.Failed() {
			t.Logf("last /v1/loads: %+v", body.Loads)
		}
	}()
	took := waitUntil(t, "LRS counts of web~v2 match the client's", func() bool {
		adminJSON(t, f.sy.app.AdminAddr(), "/v1/loads", &body)
		v1, v2 = clusterLoad(body.Loads, "web~v1"), clusterLoad(body.Loads, "web~v2")
		return v2.Success == uint64(tally.answered["web-3"]) && v2.Error == uint64(tally.v2Failed)
	})
	errShare := 100 * float64(v2.Error) / float64(v2.Success+v2.Error)
	t.Logf("LRS after %s: web~v2 (service %q) success %d error %d issued %d (%.1f %% errors), web~v1 success %d error %d, %d reporter(s)",
		took.Round(time.Millisecond), v2.ServiceName, v2.Success, v2.Error, v2.Issued, errShare, v1.Success, v1.Error, v2.Reporters)
	if errShare < 25 || errShare > 35 {
		t.Errorf("web~v2 error share %.1f %%, want 30 ± 5", errShare)
	}
	if v2.Issued != v2.Success+v2.Error {
		t.Errorf("web~v2 issued %d, want success + error = %d", v2.Issued, v2.Success+v2.Error)
	}
	v1Sent := uint64(tally.answered["web-1"] + tally.answered["web-2"])
	if v1.Error != 0 || v1.Success < v1Sent {
		t.Errorf("web~v1: success %d error %d; want no error and at least the %d the client counted", v1.Success, v1.Error, v1Sent)
	}
	if v2.Reporters != 1 {
		t.Errorf("web~v2 has %d reporters, want 1 (the one client)", v2.Reporters)
	}
}
