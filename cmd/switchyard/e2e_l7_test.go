package main

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/switchyard/switchyard/internal/echo"
)

// The L7 end-to-end tests write Consul's service-defaults,
// service-resolver, service-splitter and service-router entries to a real
// Consul and count where the RPCs of real gRPC xDS clients land. Every
// instance answers with its id; groupOf turns ids into the subset (or
// service) that a split or route targets.

// webVersions are the instances of "web" and their meta versions: subset
// v1 has two instances, v2 one.
var webVersions = map[string]string{"web-1": "v1", "web-2": "v1", "web-3": "v2"}

// otherVersions are the instances of "other", the second service that
// splits, routes and failovers send traffic to.
var otherVersions = map[string]string{"other-1": "v1", "other-2": "v1"}

// The instance ids by where they count.
var (
	webV1     = []string{"web-1", "web-2"}
	webV2     = []string{"web-3"}
	webAll    = []string{"web-1", "web-2", "web-3"}
	otherAll  = []string{"other-1", "other-2"}
	groupOfID = map[string]string{"web-1": "v1", "web-2": "v1", "web-3": "v2", "other-1": "other", "other-2": "other"}
)

// l7Fixture is one Consul holding web and other (both declared grpc by
// service-defaults, web with a resolver defining subsets v1 and v2), a
// Switchyard, and a gRPC client dialing xds:///web.
type l7Fixture struct {
	c  *consulFixture
	sy *testSwitchyard
	cc *grpc.ClientConn
	// web holds web's backends by instance id.
	web map[string]*echo.Backend
}

// startL7 starts an l7Fixture and waits until the client reaches every
// instance of web. Options change Switchyard's configuration.
func startL7(t *testing.T, opts ...func(*serveConfig)) *l7Fixture {
	t.Helper()
	c := startConsul(t)
	web := startVersionedBackends(t, c, "web", webVersions)
	startVersionedBackends(t, c, "other", otherVersions)
	for _, svc := range []string{"web", "other"} {
		c.setEntry(t, grpcDefaults(svc))
	}
	c.setEntry(t, webResolver())
	sy := startSwitchyard(t, c.agent.HTTPAddr, opts...)
	cc := dialXDS(t, sy.app.XDSAddr(), "client-1", "web")
	waitUntil(t, "traffic reaches every web instance", func() bool { return servedBy(spread(t, cc, 30), webAll...) })
	return &l7Fixture{c: c, sy: sy, cc: cc, web: web}
}

// grpcDefaults declares a service's protocol grpc, which Consul requires
// before it accepts a splitter or router that involves the service.
func grpcDefaults(service string) *api.ServiceConfigEntry {
	return &api.ServiceConfigEntry{Kind: api.ServiceDefaults, Name: service, Protocol: "grpc"}
}

// webResolver defines web's subsets v1 and v2 by meta version.
func webResolver() *api.ServiceResolverConfigEntry {
	return &api.ServiceResolverConfigEntry{
		Kind: api.ServiceResolver, Name: "web",
		Subsets: map[string]api.ServiceResolverSubset{
			"v1": {Filter: "Service.Meta.version == v1"},
			"v2": {Filter: "Service.Meta.version == v2"},
		},
	}
}

// webSplit splits web between its subsets v1 and v2, in percent.
func webSplit(v1, v2 float32) *api.ServiceSplitterConfigEntry {
	return &api.ServiceSplitterConfigEntry{
		Kind: api.ServiceSplitter, Name: "web",
		Splits: []api.ServiceSplit{{Weight: v1, ServiceSubset: "v1"}, {Weight: v2, ServiceSubset: "v2"}},
	}
}

// webRouter routes web's requests by the given routes, in order.
func webRouter(routes ...api.ServiceRoute) *api.ServiceRouterConfigEntry {
	return &api.ServiceRouterConfigEntry{Kind: api.ServiceRouter, Name: "web", Routes: routes}
}

// httpRoute is one router rule sending what match matches to dest.
func httpRoute(match api.ServiceRouteHTTPMatch, dest api.ServiceRouteDestination) api.ServiceRoute {
	return api.ServiceRoute{Match: &api.ServiceRouteMatch{HTTP: &match}, Destination: &dest}
}

// groups adds up a batch's answers per group (see groupOfID); an unknown
// id counts as "?".
func groups(counts map[string]int) map[string]int {
	out := map[string]int{}
	for id, n := range counts {
		g, ok := groupOfID[id]
		if !ok {
			g = "?"
		}
		out[g] += n
	}
	return out
}

// share returns the fraction of a batch's answers that group g gave; 0
// for an empty batch.
func share(counts map[string]int, g string) float64 {
	total := 0
	for _, n := range counts {
		total += n
	}
	if total == 0 {
		return 0
	}
	return float64(groups(counts)[g]) / float64(total)
}

// within reports whether got is want ± tol.
func within(got, want, tol float64) bool {
	return math.Abs(got-want) <= tol+1e-9
}

// spreadMD is spreadFailures with md sent as request metadata (HTTP/2
// headers, which routes and hash policies match) on every RPC.
func spreadMD(t *testing.T, cc *grpc.ClientConn, n int, md metadata.MD) (map[string]int, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if md != nil {
		ctx = metadata.NewOutgoingContext(ctx, md)
	}
	counts, failed, err := echo.Spread(ctx, cc, n)
	if err != nil {
		t.Fatal(err)
	}
	return counts, failed
}

// waitShare sends probe batches of n RPCs until group g's share of one is
// want ± tol, and returns how long that took.
func waitShare(t *testing.T, cc *grpc.ClientConn, g string, want, tol float64, n int) time.Duration {
	t.Helper()
	what := fmt.Sprintf("%s share %.0f%% ± %.0f", g, 100*want, 100*tol)
	return waitUntil(t, what, func() bool { return within(share(spread(t, cc, n), g), want, tol) })
}

// assertShare sends n RPCs with metadata md, none of which may fail, and
// checks that group g answered want ± tol of them.
func assertShare(t *testing.T, cc *grpc.ClientConn, md metadata.MD, g string, want, tol float64, n int) {
	t.Helper()
	counts, failed := spreadMD(t, cc, n, md)
	got := share(counts, g)
	t.Logf("%d RPCs: %s share %.1f%% (want %.0f ± %.0f), per group %v, per instance %v",
		n, g, 100*got, 100*want, 100*tol, groups(counts), counts)
	if failed > 0 {
		t.Errorf("%d of %d RPCs failed", failed, n)
	}
	if !within(got, want, tol) {
		t.Errorf("%s answered %.1f%% of %d RPCs, want %.0f ± %.0f %%", g, 100*got, n, 100*want, 100*tol)
	}
}

// TestL7SplitShiftsTraffic checks that an 80/20 split between web's
// subsets gives v1 80 ± 5 % of 2,000 RPCs, and that rewriting it to 50/50
// shows in traffic within a second: probe batches of 200 RPCs run from the
// write until one gives v1 50 ± 10 %, and the time to the end of that
// batch must stay under one second plus the batch's own duration. 2,000
// RPCs then give 50 ± 5 %.
func TestL7SplitShiftsTraffic(t *testing.T) {
	f := startL7(t)
	start := time.Now()
	f.c.setEntry(t, webSplit(80, 20))
	waitShare(t, f.cc, "v1", 0.8, 0.1, 200)
	t.Logf("80/20 split in force %s after the write", time.Since(start).Round(time.Millisecond))
	assertShare(t, f.cc, nil, "v1", 0.8, 0.05, 2000)

	const probe = 200
	start = time.Now()
	f.c.setEntry(t, webSplit(50, 50))
	var batches []time.Duration
	for {
		if time.Since(start) > waitTimeout {
			t.Fatalf("50/50 split not seen within %s (%d probe batches)", waitTimeout, len(batches))
		}
		batchStart := time.Now()
		counts := spreadStrict(t, f.cc, probe)
		batches = append(batches, time.Since(batchStart))
		if within(share(counts, "v1"), 0.5, 0.1) {
			break
		}
	}
	seen, last := time.Since(start), batches[len(batches)-1]
	t.Logf("50/50 split seen %s after the write, at the end of probe batch %d of %d RPCs; probe batches took %s",
		seen.Round(time.Millisecond), len(batches), probe, durationStats(batches))
	if seen > time.Second+last {
		t.Errorf("the new split showed after %s, want under 1s + one probe batch (%s)", seen.Round(time.Millisecond), last.Round(time.Millisecond))
	}
	assertShare(t, f.cc, nil, "v1", 0.5, 0.05, 2000)
}

// TestL7CanaryHeader checks that a router's header match sends every RPC
// carrying x-canary: true to subset v2, while RPCs without it, or with
// another value, follow the 80/20 split.
func TestL7CanaryHeader(t *testing.T) {
	f := startL7(t)
	f.c.setEntry(t, webSplit(80, 20))
	f.c.setEntry(t, webRouter(httpRoute(
		api.ServiceRouteHTTPMatch{Header: []api.ServiceRouteHTTPMatchHeader{{Name: "x-canary", Exact: "true"}}},
		api.ServiceRouteDestination{ServiceSubset: "v2"})))
	canary := metadata.Pairs("x-canary", "true")
	took := waitUntil(t, "canary RPCs reach only v2", func() bool {
		counts, _ := spreadMD(t, f.cc, 50, canary)
		return servedBy(counts, webV2...)
	})
	t.Logf("canary route in force after %s", took.Round(time.Millisecond))

	for _, tc := range []struct {
		name      string
		md        metadata.MD
		group     string
		want, tol float64
		n         int
	}{
		{"x-canary: true goes to v2, every RPC", canary, "v2", 1, 0, 500},
		{"no header follows the split", nil, "v1", 0.8, 0.05, 2000},
		{"x-canary: false follows the split", metadata.Pairs("x-canary", "false"), "v1", 0.8, 0.05, 2000},
	} {
		t.Run(tc.name, func(t *testing.T) { assertShare(t, f.cc, tc.md, tc.group, tc.want, tc.tol, tc.n) })
	}
}

// TestL7PathRoutes checks path matches on the gRPC method path
// ("/grpc.testing.TestService/UnaryCall", the one method the echo backends
// serve): a prefix, exact path or regular expression that matches it sends
// every RPC to service other; one that does not leaves them on web. Each
// router rewrite flips the destination, so each shows in traffic.
func TestL7PathRoutes(t *testing.T) {
	f := startL7(t)
	for _, tc := range []struct {
		name  string
		match api.ServiceRouteHTTPMatch
		want  []string
	}{
		{"service prefix goes to other", api.ServiceRouteHTTPMatch{PathPrefix: "/grpc.testing.TestService/"}, otherAll},
		{"another service's prefix stays on web", api.ServiceRouteHTTPMatch{PathPrefix: "/grpc.testing.ReconnectService/"}, webAll},
		{"exact method goes to other", api.ServiceRouteHTTPMatch{PathExact: "/grpc.testing.TestService/UnaryCall"}, otherAll},
		{"another exact method stays on web", api.ServiceRouteHTTPMatch{PathExact: "/grpc.testing.TestService/EmptyCall"}, webAll},
		{"regex goes to other", api.ServiceRouteHTTPMatch{PathRegex: `/grpc\.testing\.TestService/Unary.*`}, otherAll},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			f.c.setEntry(t, webRouter(httpRoute(tc.match, api.ServiceRouteDestination{Service: "other"})))
			waitUntil(t, tc.name, func() bool { return servedBy(spread(t, f.cc, 30), tc.want...) })
			t.Logf("route in force after %s", time.Since(start).Round(time.Millisecond))
			if counts := spreadStrict(t, f.cc, 300); !servedBy(counts, tc.want...) {
				t.Errorf("300 RPCs answered by %v, want only %v", counts, tc.want)
			}
		})
	}
}

// TestL7FailoverAndBack checks resolver failover: web's default subset v1
// fails over to subset v2, or to service other, when both v1 instances
// turn critical, and traffic returns to v1 when they pass again.
func TestL7FailoverAndBack(t *testing.T) {
	f := startL7(t)
	for _, tc := range []struct {
		name     string
		failover api.ServiceResolverFailover
		to       []string
	}{
		{"to subset v2", api.ServiceResolverFailover{ServiceSubset: "v2"}, webV2},
		{"to service other", api.ServiceResolverFailover{Service: "other"}, otherAll},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := webResolver()
			r.DefaultSubset = "v1"
			r.Failover = map[string]api.ServiceResolverFailover{"v1": tc.failover}
			f.c.setEntry(t, r)
			waitUntil(t, "traffic on v1", func() bool { return servedBy(spread(t, f.cc, 30), webV1...) })

			start := time.Now()
			for _, id := range webV1 {
				f.c.setHealth(t, id, api.HealthCritical)
			}
			waitUntil(t, "traffic fails over", func() bool { return servedBy(spread(t, f.cc, 30), tc.to...) })
			t.Logf("failed over %s after v1 turned critical", time.Since(start).Round(time.Millisecond))
			if counts := spreadStrict(t, f.cc, 300); !servedBy(counts, tc.to...) {
				t.Errorf("during failover 300 RPCs answered by %v, want only %v", counts, tc.to)
			}

			start = time.Now()
			for _, id := range webV1 {
				f.c.setHealth(t, id, api.HealthPassing)
			}
			waitUntil(t, "traffic back on v1", func() bool { return servedBy(spread(t, f.cc, 30), webV1...) })
			t.Logf("back on v1 %s after it passed again", time.Since(start).Round(time.Millisecond))
			if counts := spreadStrict(t, f.cc, 300); !servedBy(counts, webV1...) {
				t.Errorf("after recovery 300 RPCs answered by %v, want only %v", counts, webV1)
			}
		})
	}
}

// TestL7SplitToOtherService checks a split between web itself (70 %) and
// service other (30 %): other answers 30 ± 5 % of 2,000 RPCs, and web's
// share is spread over all its instances.
func TestL7SplitToOtherService(t *testing.T) {
	f := startL7(t)
	start := time.Now()
	f.c.setEntry(t, &api.ServiceSplitterConfigEntry{
		Kind: api.ServiceSplitter, Name: "web",
		Splits: []api.ServiceSplit{{Weight: 70}, {Weight: 30, Service: "other"}},
	})
	waitShare(t, f.cc, "other", 0.3, 0.1, 200)
	t.Logf("split to other in force after %s", time.Since(start).Round(time.Millisecond))
	counts, failed := spreadMD(t, f.cc, 2000, nil)
	got := share(counts, "other")
	t.Logf("2000 RPCs: other %.1f%% (want 30 ± 5), per instance %v", 100*got, counts)
	if failed > 0 || !within(got, 0.3, 0.05) {
		t.Errorf("other answered %.1f%% of 2000 RPCs with %d failed, want 30 ± 5 %% and none failed", 100*got, failed)
	}
	if !servedBy(counts, append(slices.Clone(webAll), otherAll...)...) {
		t.Errorf("answers %v, want every instance of web and other", counts)
	}
}

// TestL7RingHashKeepsKeys checks ring_hash with a header hash policy: the
// RPCs of one x-user value all land on one instance, again on a second
// pass, and different values spread over more than one instance.
func TestL7RingHashKeepsKeys(t *testing.T) {
	f := startL7(t)
	r := webResolver()
	r.LoadBalancer = &api.LoadBalancer{Policy: "ring_hash", HashPolicies: []api.HashPolicy{{Field: "header", FieldValue: "x-user"}}}
	start := time.Now()
	f.c.setEntry(t, r)
	user := func(i int) metadata.MD { return metadata.Pairs("x-user", fmt.Sprintf("user-%d", i)) }
	// Round robin spreads 20 RPCs over all three instances; ring hash keeps
	// each key on one.
	waitUntil(t, "ring hash in force", func() bool {
		for i := range 3 {
			if counts, _ := spreadMD(t, f.cc, 20, user(i)); len(counts) != 1 {
				return false
			}
		}
		return true
	})
	t.Logf("ring hash in force after %s", time.Since(start).Round(time.Millisecond))

	const keys, perKey = 12, 50
	where := map[int]string{}
	for pass := range 2 {
		for i := range keys {
			counts, failed := spreadMD(t, f.cc, perKey, user(i))
			if failed > 0 || len(counts) != 1 {
				t.Fatalf("pass %d, user-%d: %d RPCs answered by %v with %d failed, want all on one instance", pass, i, perKey, counts, failed)
			}
			id := slices.Collect(maps.Keys(counts))[0]
			if prev, ok := where[i]; ok && prev != id {
				t.Errorf("user-%d moved from %s to %s", i, prev, id)
			}
			where[i] = id
		}
	}
	perInstance := map[string]int{}
	for _, id := range where {
		perInstance[id]++
	}
	t.Logf("%d keys × %d RPCs, twice: keys per instance %v", keys, perKey, perInstance)
	if len(perInstance) < 2 {
		t.Errorf("every key hashed to one instance: %v", perInstance)
	}
}

// rejectedWeb returns what /status says about web's rejected entries.
func rejectedWeb(t *testing.T, f *l7Fixture) string {
	t.Helper()
	var st adminStatus
	adminJSON(t, f.sy.app.AdminAddr(), "/status", &st)
	return st.Services["web"].Rejected
}

// TestL7RejectedEntryKeepsRouting writes entries that Consul accepts but
// Switchyard cannot apply, each of which would visibly change web's 80/20
// split if it were applied: the split stays in force (2,000 RPCs, none
// failing), /status names the entry and the field, and restoring the
// entry clears it. A splitter whose weights sum to 90 is refused by Consul
// itself, so it cannot reach Switchyard.
func TestL7RejectedEntryKeepsRouting(t *testing.T) {
	f := startL7(t)
	f.c.setEntry(t, webSplit(80, 20))
	waitShare(t, f.cc, "v1", 0.8, 0.1, 200)

	bad := webSplit(50, 40)
	if _, _, err := f.c.client.ConfigEntries().Set(bad, nil); err == nil {
		t.Fatal("Consul accepted a splitter whose weights sum to 90")
	} else {
		t.Logf("Consul refuses a splitter summing to 90: %v", err)
	}

	// Consul accepts a failover to a service that is not registered once
	// its protocol is declared (grpc, like web's).
	f.c.setEntry(t, grpcDefaults("ghost"))
	// swapped selects v2's instances as v1 and the other way round.
	swapped := webResolver()
	swapped.Subsets["v1"], swapped.Subsets["v2"] = swapped.Subsets["v2"], swapped.Subsets["v1"]
	for _, tc := range []struct {
		name   string
		bad    api.ConfigEntry
		want   []string
		fix    func(t *testing.T)
		ifUsed string
	}{
		{
			name: "subset filter on an unknown field",
			bad: &api.ServiceResolverConfigEntry{Kind: api.ServiceResolver, Name: "web", Subsets: map[string]api.ServiceResolverSubset{
				"v1": {Filter: "Service.Version == v1"}, "v2": {Filter: "Service.Meta.version == v2"}}},
			want:   []string{`service-resolver "web"`, `Subsets["v1"].Filter`},
			fix:    func(t *testing.T) { f.c.setEntry(t, webResolver()) },
			ifUsed: "v1 would select no instance and 80 % of RPCs would fail",
		},
		{
			name: "failover to an unregistered service",
			bad: func() api.ConfigEntry {
				r := webResolver()
				r.Subsets = swapped.Subsets
				r.Failover = map[string]api.ServiceResolverFailover{"v1": {Service: "ghost"}}
				return r
			}(),
			want:   []string{`service-resolver "web"`, `Failover["v1"]`, `"ghost" is not registered`},
			fix:    func(t *testing.T) { f.c.setEntry(t, webResolver()) },
			ifUsed: "the swapped subsets would turn the split to 20/80",
		},
		{
			name: "route path regex that is not RE2",
			bad: webRouter(
				httpRoute(api.ServiceRouteHTTPMatch{PathRegex: "/x{2000}"}, api.ServiceRouteDestination{ServiceSubset: "v1"}),
				httpRoute(api.ServiceRouteHTTPMatch{PathPrefix: "/"}, api.ServiceRouteDestination{ServiceSubset: "v2"})),
			want:   []string{`service-router "web"`, `Routes[0].Match.HTTP.PathRegex`},
			fix:    func(t *testing.T) { f.c.deleteEntry(t, api.ServiceRouter, "web") },
			ifUsed: "every RPC would go to v2",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			f.c.setEntry(t, tc.bad)
			var why string
			waitUntil(t, "rejection in /status", func() bool { why = rejectedWeb(t, f); return why != "" })
			t.Logf("rejected after %s: %s", time.Since(start).Round(time.Millisecond), why)
			for _, w := range tc.want {
				if !strings.Contains(why, w) {
					t.Errorf("/status services.web.rejected = %q, want it to name %s", why, w)
				}
			}
			t.Logf("if applied, %s; checking the 80/20 split holds", tc.ifUsed)
			assertShare(t, f.cc, nil, "v1", 0.8, 0.05, 2000)

			start = time.Now()
			tc.fix(t)
			waitUntil(t, "rejection cleared from /status", func() bool { return rejectedWeb(t, f) == "" })
			t.Logf("cleared %s after the fix", time.Since(start).Round(time.Millisecond))
			assertShare(t, f.cc, nil, "v1", 0.8, 0.1, 200)
		})
	}
}
