package snapshot

import (
	"log/slog"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/switchyard/switchyard/discovery"
)

// splitModel is web with two v1/v2 instances and api with one, web split
// by weights between its v1 and v2 subsets.
func splitModel(v1, v2 int) discovery.Model {
	inst := func(id, version string, port int) discovery.Instance {
		return discovery.Instance{ID: id, Address: "127.0.0.1", Port: port, Health: discovery.HealthPassing,
			Weights: discovery.Weights{Passing: 1, Warning: 1}, Meta: map[string]string{"version": version}}
	}
	return discovery.Model{Datacenter: "dc1",
		Services: []discovery.Service{
			{Name: "api", Instances: []discovery.Instance{inst("api-1", "v1", 7000)}},
			{Name: "web", Instances: []discovery.Instance{inst("web-1", "v1", 8001), inst("web-2", "v2", 8002)}},
		},
		Config: &discovery.ConfigEntries{
			Resolvers: map[string]discovery.ServiceResolver{"web": {Name: "web", Subsets: map[string]discovery.ResolverSubset{
				"v1": {Filter: "Service.Meta.version == v1"}, "v2": {Filter: "Service.Meta.version == v2"}}}},
			Splitters: map[string]discovery.ServiceSplitter{"web": {Name: "web", Splits: []discovery.Split{
				{Weight: v1, ServiceSubset: "v1"}, {Weight: v2, ServiceSubset: "v2"}}}},
		}}
}

// grpcWeights returns the weighted clusters of a gRPC service's route.
func grpcWeights(t *testing.T, b *memoBuilder, service string) map[string]uint32 {
	t.Helper()
	r, ok := b.current(types.Route)[service]
	if !ok {
		t.Fatalf("no route configuration %q", service)
	}
	out := map[string]uint32{}
	a := r.res.(*routev3.RouteConfiguration).GetVirtualHosts()[0].GetRoutes()[0].GetRoute()
	if c := a.GetCluster(); c != "" {
		out[c] = 10000
	}
	for _, wc := range a.GetWeightedClusters().GetClusters() {
		out[wc.GetName()] = wc.GetWeight().GetValue()
	}
	return out
}

// TestRejectedEntryKeepsLastGoodRouting checks that a splitter Switchyard
// cannot apply leaves the service's last good split in force, is reported
// naming the entry and field, leaves other services alone, and that the
// fixed entry then applies.
func TestRejectedEntryKeepsLastGoodRouting(t *testing.T) {
	b := newMemoBuilder(Options{Flavour: FlavourGRPC})
	if _, err := b.rebuild(splitModel(8000, 2000)); err != nil {
		t.Fatal(err)
	}
	good := map[string]uint32{"web~v1": 8000, "web~v2": 2000}
	if got := grpcWeights(t, b, "web"); !maps.Equal(got, good) {
		t.Fatalf("weights = %v, want %v", got, good)
	}
	bad := splitModel(8000, 1000)
	bad.Services[0].Instances[0].Port = 7001 // an unrelated change still applies
	built, err := b.rebuild(bad)
	if err != nil {
		t.Fatalf("a rejected entry must not fail the build: %v", err)
	}
	if got := grpcWeights(t, b, "web"); !maps.Equal(got, good) {
		t.Errorf("after a bad splitter weights = %v, want the last good %v", got, good)
	}
	want := `service "web": config entry rejected, last good routing kept: service-splitter "web": Splits: weights sum to 90.00, want 100`
	if !containsLine(built.warnings, want) {
		t.Errorf("warnings = %q, want %q", built.warnings, want)
	}
	if _, ok := b.current(types.Endpoint)["api"]; !ok {
		t.Error("api lost its endpoints")
	}
	if _, err := b.rebuild(splitModel(5000, 5000)); err != nil {
		t.Fatal(err)
	}
	if got, want := grpcWeights(t, b, "web"), map[string]uint32{"web~v1": 5000, "web~v2": 5000}; !maps.Equal(got, want) {
		t.Errorf("after the fix weights = %v, want %v", got, want)
	}
	if built, _ := b.rebuild(splitModel(5000, 5000)); len(built.warnings) != 0 {
		t.Errorf("warnings after the fix = %q, want none", built.warnings)
	}
}

// containsLine reports whether one of lines is want.
func containsLine(lines []string, want string) bool {
	for _, l := range lines {
		if strings.TrimSpace(l) == want {
			return true
		}
	}
	return false
}

// TestNewTargetIsWarmedFirst checks that when a service's routes start
// sending to another service, gRPC clients first get the old routes with
// the new cluster referenced by a route that never matches, and the new
// routes only on the next build; Envoy clients get the new routes at once.
func TestNewTargetIsWarmedFirst(t *testing.T) {
	m := splitModel(5000, 5000)
	next := splitModel(5000, 5000)
	next.Config.Splitters["web"] = discovery.ServiceSplitter{Name: "web", Splits: []discovery.Split{
		{Weight: 5000, ServiceSubset: "v1"}, {Weight: 5000, Service: "api"}}}

	envoyB := newMemoBuilder(Options{Flavour: FlavourEnvoy, ListenerPort: 10000})
	for _, model := range []discovery.Model{m, next} {
		if _, err := envoyB.rebuild(model); err != nil {
			t.Fatal(err)
		}
	}
	if envoyB.plans.unsettled {
		t.Error("the Envoy flavour warms, want the new routes at once")
	}

	b := newMemoBuilder(Options{Flavour: FlavourGRPC})
	if _, err := b.rebuild(m); err != nil {
		t.Fatal(err)
	}
	if _, err := b.rebuild(next); err != nil {
		t.Fatal(err)
	}
	if !b.plans.unsettled {
		t.Fatal("no warming step for a share of another service")
	}
	if got, want := grpcWeights(t, b, "web"), map[string]uint32{"web~v1": 5000, "web~v2": 5000}; !maps.Equal(got, want) {
		t.Errorf("warming step routes %v, want the old %v", got, want)
	}
	if !warms(t, b, "web", "api") {
		t.Error("warming step does not reference cluster api from a route that never matches")
	}
	if _, err := b.rebuild(next); err != nil {
		t.Fatal(err)
	}
	if b.plans.unsettled {
		t.Error("still unsettled after the step")
	}
	if got, want := grpcWeights(t, b, "web"), map[string]uint32{"web~v1": 5000, "api": 5000}; !maps.Equal(got, want) {
		t.Errorf("after the step routes %v, want %v", got, want)
	}
}

// warms reports whether a gRPC service's route configuration references
// cluster from a route that never matches.
func warms(t *testing.T, b *memoBuilder, service, cluster string) bool {
	t.Helper()
	rc := b.current(types.Route)[service].res.(*routev3.RouteConfiguration)
	for _, r := range rc.GetVirtualHosts()[0].GetRoutes() {
		if r.GetMatch().GetRuntimeFraction() == nil {
			continue
		}
		for _, wc := range r.GetRoute().GetWeightedClusters().GetClusters() {
			if wc.GetName() == cluster {
				return true
			}
		}
	}
	return false
}

// TestPublisherReportsRejectedEntries checks that a rejected entry shows
// in the status (naming entry and field), in the gauge and in the log,
// once, and that fixing it clears all three.
func TestPublisherReportsRejectedEntries(t *testing.T) {
	var logs strings.Builder
	reg := prometheus.NewRegistry()
	p, err := NewPublisher(PublisherConfig{
		Sink: newRecordingSink(t), Translate: Options{ListenerPort: 10000}, Registerer: reg,
		Quiet: 20 * time.Millisecond, MaxDelay: 200 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	gauge := func() float64 { return testutil.ToFloat64(p.metrics.rejected) }
	p.publishModel(splitModel(8000, 2000))
	p.publishModel(splitModel(8000, 1000))
	p.publishModel(splitModel(8000, 1000))
	want := `service-splitter "web": Splits: weights sum to 90.00, want 100`
	if got := p.Status().Services["web"].Rejected; got != want {
		t.Errorf("status rejected = %q, want %q", got, want)
	}
	if gauge() != 1 || testutil.ToFloat64(p.metrics.rejectedBy.WithLabelValues("web")) != 1 {
		t.Errorf("rejected gauges = %v, %v; want 1 and 1 for web", gauge(), testutil.ToFloat64(p.metrics.rejectedBy.WithLabelValues("web")))
	}
	if n := strings.Count(logs.String(), "config entry rejected"); n != 1 {
		t.Errorf("logged the rejection %d times, want once:\n%s", n, logs.String())
	}
	p.publishModel(splitModel(5000, 5000))
	if st, ok := p.Status().Services["web"]; ok {
		t.Errorf("status after the fix = %+v, want nothing to report", st)
	}
	if n := testutil.CollectAndCount(p.metrics.rejectedBy); n != 0 {
		t.Errorf("rejected by service has %d series after the fix, want 0", n)
	}
	if gauge() != 0 || !strings.Contains(logs.String(), "config entries apply again") {
		t.Errorf("after the fix gauge = %v, log:\n%s", gauge(), logs.String())
	}
}

// TestServicesView checks what operators see of services: instances,
// subsets with the instances they select, and each route's shares.
func TestServicesView(t *testing.T) {
	p := newTestPublisher(t, newRecordingSink(t), nil)
	p.publishModel(splitModel(8000, 2000))
	got := p.Services()
	if len(got) != 2 || got[0].Name != "api" || got[1].Name != "web" {
		t.Fatalf("services = %+v, want api and web", got)
	}
	if r := got[0].Routes; len(r) != 1 || len(r[0].Shares) != 1 || r[0].Shares[0].Percent != 100 {
		t.Errorf("api routes = %+v, want everything to api", r)
	}
	web := got[1]
	if len(web.Instances) != 2 || web.Instances[0].Health != "passing" {
		t.Errorf("web instances = %+v", web.Instances)
	}
	if len(web.Subsets) != 2 || web.Subsets[0].Name != "v1" || !slices.Equal(web.Subsets[0].Instances, []string{"web-1"}) {
		t.Errorf("web subsets = %+v, want v1 selecting web-1 and v2", web.Subsets)
	}
	want := []ShareView{{Service: "web", Subset: "v1", Percent: 80}, {Service: "web", Subset: "v2", Percent: 20}}
	if len(web.Routes) != 1 || !slices.Equal(web.Routes[0].Shares, want) {
		t.Errorf("web routes = %+v, want %+v", web.Routes, want)
	}
}
