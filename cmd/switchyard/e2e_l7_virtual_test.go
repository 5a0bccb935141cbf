package main

import (
	"slices"
	"testing"

	"github.com/hashicorp/consul/api"

	"github.com/switchyard/switchyard/xds"
)

// TestL7VirtualService routes a name that has no instance of its own: a
// service-splitter on "shop" sends half of shop's traffic to service
// shop-v1 and half to shop-v2, and a gRPC client dialing xds:///shop gets
// both; with the splitter deleted, shop is no longer served.
func TestL7VirtualService(t *testing.T) {
	c := startConsul(t)
	startBackends(t, c, "shop-v1", "v1-a")
	startBackends(t, c, "shop-v2", "v2-a")
	for _, svc := range []string{"shop", "shop-v1", "shop-v2"} {
		c.setEntry(t, grpcDefaults(svc))
	}
	c.setEntry(t, &api.ServiceSplitterConfigEntry{Kind: api.ServiceSplitter, Name: "shop", Splits: []api.ServiceSplit{
		{Weight: 50, Service: "shop-v1"}, {Weight: 50, Service: "shop-v2"}}})
	sy := startSwitchyard(t, c.agent.HTTPAddr)
	cc := dialXDS(t, sy.app.XDSAddr(), "virtual-1", "shop")
	waitUntil(t, "both shop versions answer xds:///shop", func() bool { return servedBy(spread(t, cc, 40), "v1-a", "v2-a") })
	counts := spreadStrict(t, cc, 2000)
	share := float64(counts["v1-a"]) / 2000
	t.Logf("virtual shop: v1 %.1f %% of 2,000 RPCs", share*100)
	if share < 0.45 || share > 0.55 {
		t.Errorf("shop-v1 share %.1f %%, want 50 ± 5", share*100)
	}
	if _, err := c.client.ConfigEntries().Delete(api.ServiceSplitter, "shop", nil); err != nil {
		t.Fatal(err)
	}
	// The client keeps what it has (its bootstrap asks to ignore
	// deletions); the server no longer serves a listener for shop.
	waitUntil(t, "listener shop no longer served", func() bool {
		for _, tr := range sy.app.xds.Resources(xds.KindGRPC) {
			if tr.Type == "LDS" {
				return !slices.ContainsFunc(tr.Resources, func(r xds.ResourceVersion) bool { return r.Name == "shop" })
			}
		}
		return false
	})
}
