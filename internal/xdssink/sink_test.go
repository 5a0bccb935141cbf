package xdssink

import (
	"testing"

	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/switchyard/switchyard/envoy"
	"github.com/switchyard/switchyard/snapshot"
	"github.com/switchyard/switchyard/xds"
)

func TestConvert(t *testing.T) {
	cluster := envoy.EDSCluster(envoy.ClusterOptions{Name: "web"})
	u := snapshot.Update{
		Flavour:  snapshot.FlavourGRPC,
		Versions: snapshot.Versions{Clusters: "c1", Endpoints: "e1", Listeners: "l1", Routes: "r1"},
		Changes: []snapshot.Change{
			{TypeURL: resourcev3.ClusterType, Name: "web", Hash: "h1", Resource: cluster},
			{TypeURL: resourcev3.EndpointType, Name: "gone"},
		},
	}
	want := xds.Update{
		Versions: map[string]string{resourcev3.ClusterType: "c1", resourcev3.EndpointType: "e1", resourcev3.ListenerType: "l1", resourcev3.RouteType: "r1"},
		Changes: []xds.Change{
			{TypeURL: resourcev3.ClusterType, Name: "web", Version: "h1", Resource: cluster},
			{TypeURL: resourcev3.EndpointType, Name: "gone"},
		},
	}
	got := convert(u)
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Fatalf("convert (-want +got):\n%s", diff)
	}
	if got.Changes[1].Resource != nil {
		t.Fatal("a removal carries a non-nil resource")
	}
}

func TestPublishAppliesToTheFlavoursKind(t *testing.T) {
	srv := xds.New(xds.Config{})
	s := New(srv)
	for _, f := range snapshot.Flavours() {
		if err := s.Publish(snapshot.Update{Flavour: f, Versions: snapshot.Versions{Clusters: "c1"}}); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
	if err := s.Publish(snapshot.Update{}); err == nil {
		t.Fatal("an update of no flavour was applied")
	}
}
