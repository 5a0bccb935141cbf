package snapshot

import (
	"strings"
	"testing"

	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/switchyard/switchyard/envoy"
)

func TestValidateRejects(t *testing.T) {
	good := func(t *testing.T, f Flavour) Resources {
		res, err := Translate(mixedModel(t), Options{Flavour: f, ListenerPort: 10000})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	tests := []struct {
		name    string
		flavour Flavour
		mutate  func(*Resources)
		want    string
	}{
		{"route to a missing cluster", FlavourEnvoy, func(r *Resources) {
			r.Clusters = slicesWithout(r.Clusters, "api")
		}, `cluster "api" does not exist`},
		{"EDS cluster without endpoints", FlavourGRPC, func(r *Resources) {
			r.Endpoints = slicesWithout(r.Endpoints, "web")
		}, `endpoint assignment "web" does not exist`},
		{"API listener without its route", FlavourGRPC, func(r *Resources) {
			r.Routes = slicesWithout(r.Routes, "api")
		}, `route configuration "api" does not exist`},
		{"HTTP listener without its route", FlavourEnvoy, func(r *Resources) {
			r.Routes = nil
		}, `route configuration "http_10000" does not exist`},
		{"invalid proto", FlavourEnvoy, func(r *Resources) {
			r.Endpoints = append(r.Endpoints, &endpointv3.ClusterLoadAssignment{})
		}, "ClusterName"},
		{"route to an unknown cluster", FlavourEnvoy, func(r *Resources) {
			rc := r.Routes[0].(*routev3.RouteConfiguration)
			rc.VirtualHosts = append(rc.VirtualHosts, envoy.VirtualHost("ghost", []string{"ghost"}, "ghost"))
		}, `cluster "ghost" does not exist`},
		{"weighted cluster to nowhere", FlavourGRPC, func(r *Resources) {
			rc := r.Routes[0].(*routev3.RouteConfiguration)
			rc.VirtualHosts[0].Routes[0].GetRoute().ClusterSpecifier = &routev3.RouteAction_WeightedClusters{
				WeightedClusters: &routev3.WeightedCluster{Clusters: []*routev3.WeightedCluster_ClusterWeight{
					{Name: "api", Weight: wrapperspb.UInt32(90)},
					{Name: "api~canary", Weight: wrapperspb.UInt32(10)},
				}},
			}
		}, `cluster "api~canary" does not exist`},
		{"two virtual hosts share a domain", FlavourEnvoy, func(r *Resources) {
			rc := r.Routes[0].(*routev3.RouteConfiguration)
			rc.VirtualHosts = append(rc.VirtualHosts, envoy.VirtualHost("copy", []string{"API"}, "api"))
		}, `domain "API" is in virtual hosts "api" and "copy"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := good(t, tt.flavour)
			if err := Validate(res); err != nil {
				t.Fatalf("good resources rejected: %v", err)
			}
			tt.mutate(&res)
			err := Validate(res)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate = %v, want an error containing %q", err, tt.want)
			}
			if _, _, err := Build(res); err == nil {
				t.Fatal("Build accepted resources that Validate rejects")
			}
		})
	}
}

// slicesWithout drops the resource with a name.
func slicesWithout(list []types.Resource, name string) []types.Resource {
	var out []types.Resource
	for _, r := range list {
		if cachev3.GetResourceName(r) != name {
			out = append(out, r)
		}
	}
	return out
}
