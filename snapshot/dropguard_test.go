package snapshot

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"

	"github.com/switchyard/switchyard/discovery"
)

// guardService returns service name with n instances i0…i(n-1) on
// distinct loopback ports, the first serving passing and the rest in the
// given health.
func guardService(name string, n, serving int, rest discovery.Health) discovery.Service {
	svc := discovery.Service{Name: name, Datacenter: "dc1"}
	for i := range n {
		h := discovery.HealthPassing
		if i >= serving {
			h = rest
		}
		svc.Instances = append(svc.Instances, discovery.Instance{
			ID: fmt.Sprintf("%s-%02d", name, i), Node: "node1", Address: "127.0.0.1", Port: 20000 + i,
			Health: h, Weights: discovery.Weights{Passing: 1, Warning: 1},
		})
	}
	return svc
}

// up returns service name with n passing instances.
func up(name string, n int) discovery.Service {
	return guardService(name, n, n, discovery.HealthPassing)
}

// guardModel returns a model of the services, sorted by name.
func guardModel(services ...discovery.Service) discovery.Model {
	services = slices.Clone(services)
	slices.SortFunc(services, compareServices)
	return discovery.Model{Datacenter: "dc1", Services: services}
}

// splitterTo returns config entries in which service from splits its
// traffic between itself and to.
func splitterTo(from, to string) *discovery.ConfigEntries {
	return &discovery.ConfigEntries{Splitters: map[string]discovery.ServiceSplitter{
		from: {Name: from, Splits: []discovery.Split{{Weight: 5000, Service: from}, {Weight: 5000, Service: to}}},
	}}
}

// guardStep is one model the guard is given, at an offset from the start,
// and what it must serve of service "web": its serving endpoints (-1 when
// it must be absent), whether a drop is held, and the event expected.
type guardStep struct {
	at      time.Duration
	model   discovery.Model
	serving int
	held    bool
	event   dropEventKind
}

func TestDropGuard(t *testing.T) {
	const confirm = 10 * time.Second
	on := DropGuardConfig{MaxDrop: 0.5, Confirm: confirm}
	other := up("other", 3)
	referenced := guardModel(other)
	referenced.Config = splitterTo("other", "web")
	withNew := up("web", 1)
	withNew.Instances = append(withNew.Instances, discovery.Instance{ID: "web-new", Node: "node2", Address: "127.0.0.2", Port: 30000,
		Health: discovery.HealthPassing, Weights: discovery.Weights{Passing: 1, Warning: 1}})
	tests := []struct {
		name  string
		cfg   DropGuardConfig
		steps []guardStep
	}{
		{"19 of 20 removed: held, then applied at confirm", on, []guardStep{
			{0, guardModel(up("web", 20), other), 20, false, 0},
			{time.Second, guardModel(up("web", 1), other), 20, true, dropHeld},
			{time.Second + confirm - time.Nanosecond, guardModel(up("web", 1), other), 20, true, 0},
			{time.Second + confirm, guardModel(up("web", 1), other), 1, false, dropApplied},
			{time.Second + 2*confirm, guardModel(up("web", 1), other), 1, false, 0},
		}},
		{"1 of 20 removed: applied at once", on, []guardStep{
			{0, guardModel(up("web", 20)), 20, false, 0},
			{time.Second, guardModel(up("web", 19)), 19, false, 0},
		}},
		{"exactly the threshold is applied, one more is held", on, []guardStep{
			{0, guardModel(up("web", 20)), 20, false, 0},
			{time.Second, guardModel(up("web", 10)), 10, false, 0},
			{2*time.Second + confirm, guardModel(up("web", 4)), 10, true, dropHeld},
		}},
		{"steps under the threshold within the window add up", on, []guardStep{
			{0, guardModel(up("web", 20)), 20, false, 0},
			{100 * time.Millisecond, guardModel(up("web", 17)), 17, false, 0},
			{200 * time.Millisecond, guardModel(up("web", 1)), 20, true, dropHeld},
			{200*time.Millisecond + confirm, guardModel(up("web", 1)), 1, false, dropApplied},
		}},
		{"steps under the threshold further apart than the window do not", on, []guardStep{
			{0, guardModel(up("web", 20)), 20, false, 0},
			{time.Second, guardModel(up("web", 11)), 11, false, 0},
			{2*time.Second + confirm, guardModel(up("web", 6)), 6, false, 0},
		}},
		{"recovery before the window clears the hold", on, []guardStep{
			{0, guardModel(up("web", 20)), 20, false, 0},
			{time.Second, guardModel(up("web", 1)), 20, true, dropHeld},
			{5 * time.Second, guardModel(up("web", 18)), 18, false, dropRecovered},
			{time.Second + confirm, guardModel(up("web", 18)), 18, false, 0},
		}},
		{"a further drop while held keeps the window", on, []guardStep{
			{0, guardModel(up("web", 20)), 20, false, 0},
			{time.Second, guardModel(up("web", 5)), 20, true, dropHeld},
			{3 * time.Second, guardModel(up("web", 1)), 20, true, 0},
			{time.Second + confirm, guardModel(up("web", 1)), 1, false, dropApplied},
		}},
		{"an instance added while held serves at once", on, []guardStep{
			{0, guardModel(up("web", 20)), 20, false, 0},
			{time.Second, guardModel(up("web", 1)), 20, true, dropHeld},
			{2 * time.Second, guardModel(withNew), 21, true, 0},
			{time.Second + confirm, guardModel(withNew), 2, false, dropApplied},
		}},
		{"instances turning critical count as removed", on, []guardStep{
			{0, guardModel(up("web", 20)), 20, false, 0},
			{time.Second, guardModel(guardService("web", 20, 1, discovery.HealthCritical)), 20, true, dropHeld},
			{time.Second + confirm, guardModel(guardService("web", 20, 1, discovery.HealthCritical)), 1, false, dropApplied},
		}},
		{"a deleted service is held, then removed", on, []guardStep{
			{0, guardModel(up("web", 20), other), 20, false, 0},
			{time.Second, guardModel(other), 20, true, dropHeld},
			{time.Second + confirm, guardModel(other), -1, false, dropApplied},
		}},
		{"a deleted service keeps an empty cluster while routed to", on, []guardStep{
			{0, modelWithConfig(guardModel(up("web", 20), other), referenced.Config), 20, false, 0},
			{time.Second, referenced, 20, true, dropHeld},
			{time.Second + confirm, referenced, 0, false, dropApplied},
			{time.Minute, referenced, 0, false, 0},
			{2 * time.Minute, guardModel(other), -1, false, 0},
		}},
		{"guard off at 100%", DropGuardConfig{MaxDrop: 1, Confirm: confirm}, []guardStep{
			{0, guardModel(up("web", 20)), 20, false, 0},
			{time.Second, guardModel(up("web", 1)), 1, false, 0},
			{2 * time.Second, guardModel(), -1, false, 0},
		}},
		{"zero confirmation applies at once", DropGuardConfig{MaxDrop: 0.5}, []guardStep{
			{0, guardModel(up("web", 20)), 20, false, 0},
			{time.Second, guardModel(up("web", 1)), 1, false, 0},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newDropGuard(tt.cfg)
			start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
			for i, st := range tt.steps {
				out, rep := g.apply(st.model, start.Add(st.at))
				if got := servedEndpoints(out, "web"); got != st.serving {
					t.Errorf("step %d (%s): web serves %d endpoints, want %d", i, st.at, got, st.serving)
				}
				if _, held := rep.holds["web"]; held != st.held {
					t.Errorf("step %d (%s): held = %v, want %v", i, st.at, held, st.held)
				}
				if got := eventFor(rep, "web"); got != st.event {
					t.Errorf("step %d (%s): event %v, want %v", i, st.at, got, st.event)
				}
				if got, want := servedEndpoints(out, "other"), servedEndpoints(st.model, "other"); got != want {
					t.Errorf("step %d (%s): other serves %d endpoints, want %d (untouched)", i, st.at, got, want)
				}
				if !slices.IsSortedFunc(out.Services, compareServices) {
					t.Errorf("step %d: services not sorted by name", i)
				}
			}
		})
	}
}

// modelWithConfig returns m with config entries cfg.
func modelWithConfig(m discovery.Model, cfg *discovery.ConfigEntries) discovery.Model {
	m.Config = cfg
	return m
}

// servedEndpoints returns the serving endpoints of a service of a model,
// or -1 when the model has no such service.
func servedEndpoints(m discovery.Model, name string) int {
	for _, s := range m.Services {
		if s.Name == name {
			return servingEndpoints(s.Instances)
		}
	}
	return -1
}

// eventFor returns the kind of a report's event for a service, or 0.
func eventFor(rep guardReport, service string) dropEventKind {
	for _, ev := range rep.events {
		if ev.service == service {
			return ev.kind
		}
	}
	return 0
}

// TestDropGuardHoldWindow checks what a held drop reports and when it is
// due, and that a later drop keeps the first one's window.
func TestDropGuardHoldWindow(t *testing.T) {
	g := newDropGuard(DropGuardConfig{MaxDrop: 0.5, Confirm: 3 * time.Second})
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	g.apply(guardModel(up("web", 20)), t0)
	if !g.next().IsZero() {
		t.Fatalf("nothing held, yet due at %s", g.next())
	}
	g.apply(guardModel(up("web", 5)), t0.Add(time.Second))
	_, rep := g.apply(guardModel(up("web", 1)), t0.Add(2*time.Second))
	want := HeldDrop{From: 20, To: 1, Since: t0.Add(time.Second), Until: t0.Add(4 * time.Second)}
	if got := rep.holds["web"]; got != want {
		t.Errorf("held drop %+v, want %+v", got, want)
	}
	if got := g.next(); !got.Equal(want.Until) {
		t.Errorf("due at %s, want %s", got, want.Until)
	}
}

// TestDropGuardDelta checks that a delta model stays consistent: a
// service the guard serves differently is named in Changed whenever the
// guard may have changed it, even when discovery did not.
func TestDropGuardDelta(t *testing.T) {
	g := newDropGuard(DropGuardConfig{MaxDrop: 0.5, Confirm: time.Second})
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	g.apply(guardModel(up("web", 20), up("other", 2)), t0)
	delta := func(changed []string, services ...discovery.Service) discovery.Model {
		m := guardModel(services...)
		m.Delta, m.Changed = true, changed
		return m
	}
	out, _ := g.apply(delta([]string{"web"}, up("web", 1), up("other", 2)), t0.Add(time.Millisecond))
	if servedEndpoints(out, "web") != 20 || !slices.Equal(out.Changed, []string{"web"}) {
		t.Fatalf("held: web serves %d, changed %v", servedEndpoints(out, "web"), out.Changed)
	}
	// Only "other" changed, yet web's hold expires in this pass.
	out, rep := g.apply(delta([]string{"other"}, up("web", 1), up("other", 3)), t0.Add(2*time.Second))
	if eventFor(rep, "web") != dropApplied || servedEndpoints(out, "web") != 1 {
		t.Fatalf("expiry: event %v, web serves %d", eventFor(rep, "web"), servedEndpoints(out, "web"))
	}
	if !slices.Equal(out.Changed, []string{"other", "web"}) {
		t.Errorf("changed %v, want [other web]", out.Changed)
	}
}

// TestDropGuardKeepsRoutedCluster checks, through Translate, that once a
// routed-to service is gone its cluster stays with no endpoints and the
// route that splits to it stays as configured, where without the guard
// the splitter would be rejected.
func TestDropGuardKeepsRoutedCluster(t *testing.T) {
	g := newDropGuard(DropGuardConfig{MaxDrop: 1})
	before := modelWithConfig(guardModel(up("web", 2), up("other", 2)), splitterTo("other", "web"))
	g.apply(before, time.Time{})
	gone := modelWithConfig(guardModel(up("other", 2)), before.Config)
	out, _ := g.apply(gone, time.Time{})
	for _, tt := range []struct {
		name     string
		m        discovery.Model
		rejected bool
	}{
		{"guarded", out, false},
		{"unguarded", gone, true},
	} {
		res, err := Translate(tt.m, Options{Flavour: FlavourGRPC})
		if err != nil {
			t.Fatal(err)
		}
		rejected := slices.ContainsFunc(res.Warnings, func(w string) bool { return strings.Contains(w, "rejected") })
		if rejected != tt.rejected {
			t.Errorf("%s: splitter rejected = %v, want %v (warnings %q)", tt.name, rejected, tt.rejected, res.Warnings)
		}
		if tt.rejected {
			continue
		}
		if _, _, err := Build(res); err != nil {
			t.Errorf("%s: %v", tt.name, err)
		}
		if !slices.ContainsFunc(res.Endpoints, func(r types.Resource) bool {
			la := r.(*endpointv3.ClusterLoadAssignment)
			return la.GetClusterName() == ClusterName("web") && len(la.GetEndpoints()) == 0
		}) {
			t.Errorf("%s: no empty assignment for cluster %q", tt.name, ClusterName("web"))
		}
	}
}
