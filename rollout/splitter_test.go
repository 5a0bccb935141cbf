package rollout

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/consul/api"
)

func TestWeightsFor(t *testing.T) {
	got := WeightsFor(validSpec(), 25)
	want := &api.ServiceSplitterConfigEntry{Kind: api.ServiceSplitter, Name: "web", Splits: []api.ServiceSplit{
		{Weight: 75, ServiceSubset: "v1"}, {Weight: 25, ServiceSubset: "v2"},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("splitter (-want +got):\n%s", diff)
	}
}

func TestCheckSubsetsAndWriteSplitter(t *testing.T) {
	ctx := context.Background()
	client := startConsul(t)
	spec := validSpec()
	checkErr(t, CheckSubsets(ctx, client, spec), "unknown service web")

	reg := &api.AgentServiceRegistration{ID: "web-1", Name: "web", Port: 9000, Meta: map[string]string{"version": "v1"}}
	if err := client.Agent().ServiceRegister(reg); err != nil {
		t.Fatal(err)
	}
	checkErr(t, CheckSubsets(ctx, client, spec), "service web has no service-resolver")

	// Splitters need an L7 protocol.
	defaults := &api.ServiceConfigEntry{Kind: api.ServiceDefaults, Name: "web", Protocol: "http"}
	resolver := &api.ServiceResolverConfigEntry{Kind: api.ServiceResolver, Name: "web", DefaultSubset: "v1",
		Subsets: map[string]api.ServiceResolverSubset{"v1": {Filter: `Service.Meta.version == v1`}}}
	for _, e := range []api.ConfigEntry{defaults, resolver} {
		if _, _, err := client.ConfigEntries().Set(e, nil); err != nil {
			t.Fatal(err)
		}
	}
	checkErr(t, CheckSubsets(ctx, client, spec), `unknown subset "v2" (--to): the service-resolver of web defines [v1]`)

	resolver.Subsets["v2"] = api.ServiceResolverSubset{Filter: `Service.Meta.version == v2`}
	if _, _, err := client.ConfigEntries().Set(resolver, nil); err != nil {
		t.Fatal(err)
	}
	checkErr(t, CheckSubsets(ctx, client, spec), "")

	for _, p := range []int{10, 100} {
		if err := WriteSplitter(ctx, client, spec, p); err != nil {
			t.Fatalf("write %d%%: %v", p, err)
		}
		entry, _, err := client.ConfigEntries().Get(api.ServiceSplitter, "web", nil)
		if err != nil {
			t.Fatal(err)
		}
		splits := entry.(*api.ServiceSplitterConfigEntry).Splits
		if len(splits) != 2 || splits[1].ServiceSubset != "v2" || splits[1].Weight != float32(p) {
			t.Errorf("after writing %d%%: splits %+v", p, splits)
		}
	}
}
