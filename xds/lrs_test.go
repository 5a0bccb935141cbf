package xds

import (
	"context"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	lrsv3 "github.com/envoyproxy/go-control-plane/envoy/service/load_stats/v3"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// lrsClient is one load reporting stream opened the way gRPC clients
// open theirs: a first request with the node, then reports.
type lrsClient struct {
	st   grpc.BidiStreamingClient[lrsv3.LoadStatsRequest, lrsv3.LoadStatsResponse]
	stop context.CancelFunc
}

// openLRS opens a stream for node and returns it with the server's answer.
func openLRS(t *testing.T, addr, node string) (*lrsClient, *lrsv3.LoadStatsResponse) {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	st, err := lrsv3.NewLoadReportingServiceClient(cc).StreamLoadStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Send(&lrsv3.LoadStatsRequest{Node: &corev3.Node{Id: node}}); err != nil {
		t.Fatal(err)
	}
	resp, err := st.Recv()
	if err != nil {
		t.Fatalf("first response: %v", err)
	}
	return &lrsClient{st: st, stop: cancel}, resp
}

// clusterStats is one cluster's report over one locality per entry of
// localities, each {success, error, issued, in progress}.
func clusterStats(cluster, service string, dropped uint64, localities ...[4]uint64) *endpointv3.ClusterStats {
	cs := &endpointv3.ClusterStats{ClusterName: cluster, ClusterServiceName: service, TotalDroppedRequests: dropped}
	for i, l := range localities {
		cs.UpstreamLocalityStats = append(cs.UpstreamLocalityStats, &endpointv3.UpstreamLocalityStats{
			Locality:                &corev3.Locality{Zone: string(rune('a' + i))},
			TotalSuccessfulRequests: l[0], TotalErrorRequests: l[1], TotalIssuedRequests: l[2], TotalRequestsInProgress: l[3],
		})
	}
	return cs
}

// lrsStep is one report sent on stream n, or (with close) the end of it.
type lrsStep struct {
	stream int
	close  bool
	stats  []*endpointv3.ClusterStats
}

func TestLoadReportsAreSummed(t *testing.T) {
	tests := []struct {
		name  string
		steps []lrsStep
		want  []ClusterLoad
	}{{
		name: "deltas add up over reports and localities; in progress is the latest",
		steps: []lrsStep{
			{stream: 0, stats: []*endpointv3.ClusterStats{clusterStats("web~v2", "web~v2", 1, [4]uint64{7, 3, 12, 2}, [4]uint64{1, 0, 1, 0})}},
			{stream: 0, stats: []*endpointv3.ClusterStats{clusterStats("web~v2", "web~v2", 0, [4]uint64{4, 1, 4, 1})}},
		},
		want: []ClusterLoad{{Cluster: "web~v2", ServiceName: "web~v2", Success: 12, Error: 4, Issued: 17, Dropped: 1, InProgress: 1, Reporters: 1}},
	}, {
		name: "streams add up; a cluster left out of a report has nothing in progress",
		steps: []lrsStep{
			{stream: 0, stats: []*endpointv3.ClusterStats{clusterStats("web", "", 0, [4]uint64{5, 0, 8, 3}), clusterStats("api", "api", 0, [4]uint64{1, 1, 2, 0})}},
			{stream: 1, stats: []*endpointv3.ClusterStats{clusterStats("web", "", 2, [4]uint64{10, 2, 14, 2})}},
			{stream: 0, stats: []*endpointv3.ClusterStats{clusterStats("api", "api", 0, [4]uint64{0, 0, 1, 1})}},
		},
		want: []ClusterLoad{
			{Cluster: "api", ServiceName: "api", Success: 1, Error: 1, Issued: 3, InProgress: 1, Reporters: 1},
			{Cluster: "web", Success: 15, Error: 2, Issued: 22, Dropped: 2, InProgress: 2, Reporters: 2},
		},
	}, {
		name: "a closed stream's counts stay, its in progress and place go",
		steps: []lrsStep{
			{stream: 0, stats: []*endpointv3.ClusterStats{clusterStats("web", "web", 0, [4]uint64{5, 1, 9, 3})}},
			{stream: 1, stats: []*endpointv3.ClusterStats{clusterStats("web", "web", 0, [4]uint64{2, 0, 3, 1})}},
			{stream: 0, close: true},
		},
		want: []ClusterLoad{{Cluster: "web", ServiceName: "web", Success: 7, Error: 1, Issued: 12, InProgress: 1, Reporters: 1}},
	}, {
		name: "clusters sort by name then service name",
		steps: []lrsStep{
			{stream: 0, stats: []*endpointv3.ClusterStats{clusterStats("b", "", 0, [4]uint64{1, 0, 1, 0}), clusterStats("a", "z", 0, [4]uint64{1, 0, 1, 0}), clusterStats("a", "", 0, [4]uint64{1, 0, 1, 0})}},
		},
		want: []ClusterLoad{
			{Cluster: "a", Success: 1, Issued: 1, Reporters: 1},
			{Cluster: "a", ServiceName: "z", Success: 1, Issued: 1, Reporters: 1},
			{Cluster: "b", Success: 1, Issued: 1, Reporters: 1},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			srv, addr := startServerWith(t, Config{ShutdownGrace: time.Second, LoadReportInterval: 250 * time.Millisecond, Registerer: reg})
			clients := map[int]*lrsClient{}
			reports, open := 0, 0
			for _, step := range tt.steps {
				c, ok := clients[step.stream]
				if !ok {
					var resp *lrsv3.LoadStatsResponse
					c, resp = openLRS(t, addr, "node-"+string(rune('a'+step.stream)))
					if !resp.GetSendAllClusters() || resp.GetLoadReportingInterval().AsDuration() != 250*time.Millisecond {
						t.Fatalf("first response = %v, want send_all_clusters and a 250ms interval", resp)
					}
					clients[step.stream] = c
					open++
					waitFor(t, func() bool { return testutil.ToFloat64(srv.lrsMetrics.streams) == float64(open) })
				}
				if step.close {
					c.stop()
					open--
					waitFor(t, func() bool { return testutil.ToFloat64(srv.lrsMetrics.streams) == float64(open) })
					continue
				}
				if err := c.st.Send(&lrsv3.LoadStatsRequest{ClusterStats: step.stats}); err != nil {
					t.Fatal(err)
				}
				reports++
				waitFor(t, func() bool { return testutil.ToFloat64(srv.lrsMetrics.reports) == float64(reports) })
			}
			got := srv.Loads()
			for _, l := range got {
				if l.LastReport.IsZero() {
					t.Errorf("%s/%s: no last report time", l.Cluster, l.ServiceName)
				}
			}
			if d := cmp.Diff(tt.want, got, cmpopts.IgnoreFields(ClusterLoad{}, "LastReport")); d != "" {
				t.Errorf("Loads() (-want +got):\n%s", d)
			}
			checkLRSMetrics(t, srv, tt.want)
		})
	}
}

// checkLRSMetrics checks switchyard_lrs_requests_total against loads.
func checkLRSMetrics(t *testing.T, srv *Server, loads []ClusterLoad) {
	t.Helper()
	want := map[[2]string]uint64{}
	for _, l := range loads {
		want[[2]string{l.Cluster, "success"}] += l.Success
		want[[2]string{l.Cluster, "error"}] += l.Error
		want[[2]string{l.Cluster, "dropped"}] += l.Dropped
	}
	for k, n := range want {
		if got := testutil.ToFloat64(srv.lrsMetrics.requests.WithLabelValues(k[0], k[1])); got != float64(n) {
			t.Errorf("switchyard_lrs_requests_total{cluster=%q,result=%q} = %v, want %d", k[0], k[1], got, n)
		}
	}
}

func TestLoadTableKeepsAtMostMaxClusters(t *testing.T) {
	table := newLoadTable(2)
	r := table.newReporter()
	now := time.Now()
	stats := []*endpointv3.ClusterStats{
		clusterStats("a", "", 0, [4]uint64{1, 0, 1, 1}),
		clusterStats("b", "", 0, [4]uint64{1, 0, 1, 0}),
		clusterStats("c", "", 0, [4]uint64{1, 0, 1, 0}),
	}
	deltas, dropped := table.record(r, stats, now)
	if len(deltas) != 2 || dropped != 1 {
		t.Fatalf("record = %d deltas, %d dropped; want 2 and 1", len(deltas), dropped)
	}
	// A cluster already kept still counts when the table is full.
	if _, dropped := table.record(r, stats[:1], now); dropped != 0 {
		t.Fatalf("a kept cluster was dropped")
	}
	want := []ClusterLoad{
		{Cluster: "a", Success: 2, Issued: 2, InProgress: 1, Reporters: 1, LastReport: now},
		{Cluster: "b", Success: 1, Issued: 1, Reporters: 1, LastReport: now},
	}
	if d := cmp.Diff(want, table.loads()); d != "" {
		t.Errorf("loads (-want +got):\n%s", d)
	}
	table.close(r)
	want[0].InProgress, want[0].Reporters, want[1].Reporters = 0, 0, 0
	if d := cmp.Diff(want, table.loads()); d != "" {
		t.Errorf("loads after close (-want +got):\n%s", d)
	}
}
