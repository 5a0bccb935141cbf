package xds

import (
	"testing"
	"time"

	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
)

// TestVersionMap checks which per-resource versions move with which change:
// an endpoint assignment's moves with its cluster even when its own bytes do
// not, nothing else moves with it, and go-control-plane's own hash is kept
// for resources nothing references.
func TestVersionMap(t *testing.T) {
	base := map[string]svc{"api": {port: 8081}, "web": {port: 8080}}
	tests := []struct {
		name  string
		next  map[string]svc
		moved map[string][]string
	}{
		{"same content", base, map[string][]string{}},
		{"endpoint change", map[string]svc{"api": {port: 8081}, "web": {port: 9090}},
			map[string][]string{resourcev3.EndpointType: {"web"}}},
		{"cluster change", map[string]svc{"api": {port: 8081}, "web": {port: 8080, timeout: time.Second}},
			map[string][]string{resourcev3.ClusterType: {"web"}, resourcev3.EndpointType: {"web"}}},
	}
	_, before, err := withVersionMap(deltaWorld(t, "a", base))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snap, after, err := withVersionMap(deltaWorld(t, "b", tt.next))
			if err != nil {
				t.Fatal(err)
			}
			for _, typ := range allTypes {
				for name, v := range after.combined[typ] {
					moved := v != before.combined[typ][name]
					want := false
					for _, n := range tt.moved[typ] {
						want = want || n == name
					}
					if moved != want {
						t.Errorf("%s %s moved = %v, want %v", shortType(typ), name, moved, want)
					}
				}
			}
			if got := snap.GetVersionMap(resourcev3.ClusterType)["api"]; got != after.plain[resourcev3.ClusterType]["api"] {
				t.Errorf("cluster version %q is not the content hash", got)
			}
		})
	}
}

// TestResumeVersions checks the translation of a reconnecting client's
// endpoint versions: current bytes under current clusters are current,
// anything else is sent again.
func TestResumeVersions(t *testing.T) {
	_, table, err := withVersionMap(deltaWorld(t, "a", map[string]svc{"web": {port: 8080}}))
	if err != nil {
		t.Fatal(err)
	}
	plainCLA := table.plain[resourcev3.EndpointType]["web"]
	plainCluster := table.plain[resourcev3.ClusterType]["web"]
	tests := []struct {
		name     string
		cla      string
		clusters map[string]string
		current  bool
	}{
		{"all current", plainCLA, map[string]string{"web": plainCluster}, true},
		{"stale cluster", plainCLA, map[string]string{"web": "old"}, false},
		{"no cluster declared", plainCLA, nil, false},
		{"stale endpoints", "old", map[string]string{"web": plainCluster}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := table.resumeVersions(resourcev3.EndpointType, map[string]string{"web": tt.cla}, tt.clusters)
			if current := got["web"] == table.combined[resourcev3.EndpointType]["web"]; current != tt.current {
				t.Errorf("taken as current = %v, want %v", current, tt.current)
			}
		})
	}
}

// TestVersionMapUsesSnapshotHashes checks that hashes a snapshot already
// carries are taken as they are rather than computed again, and that a map
// that does not cover every resource is ignored.
func TestVersionMapUsesSnapshotHashes(t *testing.T) {
	snap := deltaWorld(t, "a", map[string]svc{"api": {port: 8081}, "web": {port: 8080}})
	_, computed, err := withVersionMap(snap)
	if err != nil {
		t.Fatal(err)
	}
	given := *snap
	given.VersionMap = map[string]map[string]string{
		resourcev3.ClusterType: {"api": "given-api", "web": "given-web"},
		resourcev3.RouteType:   {"partial": "ignored"},
	}
	_, table, err := withVersionMap(&given)
	if err != nil {
		t.Fatal(err)
	}
	if got := table.plain[resourcev3.ClusterType]["web"]; got != "given-web" {
		t.Errorf("cluster hash %q, want the snapshot's own", got)
	}
	if got, want := table.plain[resourcev3.RouteType], computed.plain[resourcev3.RouteType]; len(got) != len(want) || got["partial"] != "" {
		t.Errorf("route hashes %v, want computed %v", got, want)
	}
}
