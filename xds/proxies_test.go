package xds

import (
	"errors"
	"strings"
	"testing"
	"time"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/switchyard/switchyard/internal/simenvoy"
)

// proxy returns the status of the proxy with an id, and false if it is
// not connected.
func proxy(srv *Server, id string) (ProxyStatus, bool) {
	for _, p := range srv.Proxies() {
		if p.ID == id {
			return p, true
		}
	}
	return ProxyStatus{}, false
}

// typeStatus returns one type's status of a proxy.
func typeStatus(p ProxyStatus, typ string) TypeStatus {
	for _, ts := range p.Types {
		if ts.Type == typ {
			return ts
		}
	}
	return TypeStatus{}
}

// TestProxiesTrackRejection checks that a proxy rejecting a version shows
// as REJECTED with its error and the version, in the rejection metric,
// that the rejected version is sent once, and that the next good snapshot
// brings it back to SYNCED.
func TestProxiesTrackRejection(t *testing.T) {
	reg := prometheus.NewRegistry()
	srv, addr := startServerWith(t, Config{ShutdownGrace: time.Second, Registerer: reg})
	if err := srv.Publish(KindEnvoy, testSnapshot(t, "v1", 8080)); err != nil {
		t.Fatal(err)
	}
	e := startEnvoy(t, addr, simenvoy.Config{NodeID: "edge-1", Cluster: "edge", Reject: func(r *discoveryv3.DiscoveryResponse) error {
		if r.GetVersionInfo() == "bad" && r.GetTypeUrl() == resourcev3.EndpointType {
			return errors.New("endpoints web: unknown field for the test")
		}
		return nil
	}})
	waitFor(t, func() bool { p, ok := proxy(srv, "edge-1"); return ok && p.State == StateSynced })
	p, _ := proxy(srv, "edge-1")
	if p.Group != "envoy/edge" || p.Kind != "envoy" || p.Protocol != "sotw" || p.Remote == "" || p.UserAgent != "envoy" {
		t.Errorf("proxy = %+v, want group envoy/edge, kind envoy, sotw, a remote address", p)
	}
	if cds := typeStatus(p, "CDS"); cds.Sent != "v1" || cds.Accepted != "v1" || cds.State != StateSynced {
		t.Errorf("CDS = %+v, want v1 sent and accepted", cds)
	}

	if err := srv.Publish(KindEnvoy, testSnapshot(t, "bad", 8081)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { p, _ := proxy(srv, "edge-1"); return p.State == StateRejected })
	p, _ = proxy(srv, "edge-1")
	eds := typeStatus(p, "EDS")
	if eds.Rejection == nil || eds.Rejection.Version != "bad" || eds.Rejection.Error != "endpoints web: unknown field for the test" || eds.Accepted != "v1" {
		t.Errorf("EDS = %+v, want bad rejected with the client's error, v1 still accepted", eds)
	}
	if got := testutil.ToFloat64(srv.metrics.groupResponses.WithLabelValues("ClusterLoadAssignment", "envoy/edge")); got != 2 {
		t.Errorf("EDS responses to envoy/edge = %v, want 2", got)
	}
	if got := testutil.ToFloat64(srv.metrics.rejections.WithLabelValues("ClusterLoadAssignment", "envoy/edge")); got != 1 {
		t.Errorf("rejections metric = %v, want 1", got)
	}

	if err := srv.Publish(KindEnvoy, deltaWorld(t, "good", map[string]svc{"web": {port: 8082, timeout: 3 * time.Second}})); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { p, _ := proxy(srv, "edge-1"); return p.State == StateSynced })
	p, _ = proxy(srv, "edge-1")
	if eds := typeStatus(p, "EDS"); eds.Rejection != nil || eds.Accepted != "good" || eds.Rejections != 1 || eds.Responses != 3 {
		t.Errorf("after the good snapshot EDS = %+v, want good accepted, no rejection, 1 rejection and 3 responses in all", eds)
	}
	if n := e.State().Responses[resourcev3.EndpointType]; n != 3 {
		t.Errorf("client got %d EDS responses, want 3 (the rejected version once)", n)
	}
}

// TestProxiesTrackStale checks that a proxy that stops answering goes
// PENDING, then STALE once StaleAfter has passed, and that a gRPC client
// shows with its own kind and group.
func TestProxiesTrackStale(t *testing.T) {
	srv, addr := startServerWith(t, Config{ShutdownGrace: time.Second, StaleAfter: 300 * time.Millisecond})
	if err := srv.Publish(KindGRPC, testSnapshot(t, "v1", 8080)); err != nil {
		t.Fatal(err)
	}
	startEnvoy(t, addr, simenvoy.Config{NodeID: "app-1", Cluster: "apps", UserAgent: "gRPC Go", Silent: func(r *discoveryv3.DiscoveryResponse) bool {
		return r.GetVersionInfo() == "v2"
	}})
	waitFor(t, func() bool { p, ok := proxy(srv, "app-1"); return ok && p.State == StateSynced })
	if err := srv.Publish(KindGRPC, testSnapshot(t, "v2", 8081)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { p, _ := proxy(srv, "app-1"); return typeStatus(p, "EDS").Sent == "v2" })
	start := time.Now()
	p, _ := proxy(srv, "app-1")
	if eds := typeStatus(p, "EDS"); eds.State != StatePending && time.Since(eds.PendingSince) < 300*time.Millisecond {
		t.Errorf("EDS just sent = %+v, want PENDING", eds)
	}
	waitFor(t, func() bool { p, _ := proxy(srv, "app-1"); return p.State == StateStale })
	if waited := time.Since(start); waited > 5*time.Second {
		t.Errorf("STALE after %s, want about 300ms", waited)
	}
	p, _ = proxy(srv, "app-1")
	if p.Kind != "grpc" || p.Group != "grpc/apps" || typeStatus(p, "EDS").Accepted != "v1" {
		t.Errorf("proxy = %+v, want kind grpc, group grpc/apps, EDS v1 still accepted", p)
	}
}

// TestProxiesTrackDelta checks that a delta client is tracked too: its
// protocol, the versions it was sent and accepted, and a rejection.
func TestProxiesTrackDelta(t *testing.T) {
	srv, addr := startServer(t)
	if err := srv.Publish(KindEnvoy, testSnapshot(t, "v1", 8080)); err != nil {
		t.Fatal(err)
	}
	startEnvoy(t, addr, simenvoy.Config{NodeID: "delta-1", Cluster: "edge", Delta: true, Reject: func(r *discoveryv3.DiscoveryResponse) error {
		if r.GetTypeUrl() == resourcev3.EndpointType {
			return errors.New("endpoints rejected for the test")
		}
		return nil
	}})
	waitFor(t, func() bool {
		p, ok := proxy(srv, "delta-1")
		return ok && typeStatus(p, "CDS").State == StateSynced && typeStatus(p, "EDS").State == StateRejected
	})
	p, _ := proxy(srv, "delta-1")
	if p.Protocol != "delta" || typeStatus(p, "CDS").Accepted == "" {
		t.Errorf("proxy = %+v, want protocol delta and CDS accepted", p)
	}
	p, _ = proxy(srv, "delta-1")
	if r := typeStatus(p, "EDS").Rejection; r == nil || r.Error != "endpoints rejected for the test" || r.Version != typeStatus(p, "EDS").Sent {
		t.Errorf("EDS = %+v, want the sent version rejected with the client's error", typeStatus(p, "EDS"))
	}
}

// TestFleetMetrics checks the scrape-time gauges of proxies by state and
// resources by type.
func TestFleetMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	srv, addr := startServerWith(t, Config{ShutdownGrace: time.Second, Registerer: reg})
	if err := srv.Publish(KindEnvoy, testSnapshot(t, "v1", 8080)); err != nil {
		t.Fatal(err)
	}
	startEnvoy(t, addr, simenvoy.Config{NodeID: "m-1", Cluster: "edge"})
	waitFor(t, func() bool { p, ok := proxy(srv, "m-1"); return ok && p.State == StateSynced })
	want := `
# HELP switchyard_xds_proxies Connected xDS streams by client kind, group and sync state (see /v1/proxies).
# TYPE switchyard_xds_proxies gauge
switchyard_xds_proxies{group="envoy/edge",kind="envoy",state="SYNCED"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "switchyard_xds_proxies"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(newFleetCollector(srv), "switchyard_xds_resources"); n != 8 {
		t.Errorf("resources series = %d, want 8 (two kinds × four types)", n)
	}
}

// TestGroupsExpire checks that a client group is forgotten when its last
// stream closes, and counted while any is open.
func TestGroupsExpire(t *testing.T) {
	srv, addr := startServer(t)
	a := startEnvoy(t, addr, simenvoy.Config{NodeID: "g-1", Cluster: "short-lived"})
	b := startEnvoy(t, addr, simenvoy.Config{NodeID: "g-2", Cluster: "short-lived"})
	waitFor(t, func() bool { return len(srv.Groups()) == 1 && len(srv.Proxies()) == 2 })
	a.Close()
	waitFor(t, func() bool { return len(srv.Proxies()) == 1 })
	if got := len(srv.Groups()); got != 1 {
		t.Errorf("groups with one stream left = %d, want 1", got)
	}
	b.Close()
	waitFor(t, func() bool { return len(srv.Groups()) == 0 })
}
