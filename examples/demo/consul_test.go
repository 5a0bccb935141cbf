package main

import (
	"testing"

	"github.com/hashicorp/consul/api"
)

func TestResolverEntry(t *testing.T) {
	e := resolverEntry("web", []string{"v1", "v2"})
	if e.Kind != api.ServiceResolver || e.Name != "web" || len(e.Subsets) != 2 {
		t.Fatalf("resolverEntry = %+v", e)
	}
	for v, want := range map[string]string{"v1": "Service.Meta.version == v1", "v2": "Service.Meta.version == v2"} {
		if got := e.Subsets[v].Filter; got != want {
			t.Errorf("subset %s filter = %q, want %q", v, got, want)
		}
	}
}

func TestSplitterEntry(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    splitStep
		want []api.ServiceSplit
	}{
		{"90/10", split9010, []api.ServiceSplit{{Weight: 90, ServiceSubset: "v1"}, {Weight: 10, ServiceSubset: "v2"}}},
		{"0/100 keeps the zero weight", split0100, []api.ServiceSplit{{Weight: 0, ServiceSubset: "v1"}, {Weight: 100, ServiceSubset: "v2"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := splitterEntry("web", tc.s)
			if e.Kind != api.ServiceSplitter || e.Name != "web" || len(e.Splits) != len(tc.want) {
				t.Fatalf("splitterEntry = %+v", e)
			}
			for i, w := range tc.want {
				if got := e.Splits[i]; got.Weight != w.Weight || got.ServiceSubset != w.ServiceSubset || got.Service != "" {
					t.Errorf("split %d = %+v, want %+v", i, got, w)
				}
			}
		})
	}
}

func TestDefaultsEntry(t *testing.T) {
	if e := defaultsEntry("web"); e.Kind != api.ServiceDefaults || e.Name != "web" || e.Protocol != "grpc" {
		t.Errorf("defaultsEntry = %+v", e)
	}
}
