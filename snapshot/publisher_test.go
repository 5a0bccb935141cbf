package snapshot

import (
	"cmp"
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	gocmp "github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/switchyard/switchyard/discovery"
)

// recordingSink applies every update it is handed to a map per flavour, as
// the xds server does, checks the order of its changes, and refuses
// updates while fail is set.
type recordingSink struct {
	t     *testing.T
	mu    sync.Mutex
	fail  bool
	state map[Flavour]map[string]map[string]Change // type URL → name → change
	// updates counts accepted updates, and last is the latest one.
	updates map[Flavour]int
	last    map[Flavour]Update
}

func newRecordingSink(t *testing.T) *recordingSink {
	return &recordingSink{t: t, state: map[Flavour]map[string]map[string]Change{}, updates: map[Flavour]int{}, last: map[Flavour]Update{}}
}

func (s *recordingSink) Publish(u Update) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail {
		return errors.New("sink refuses")
	}
	order := map[string]int{resourcev3.ClusterType: 0, resourcev3.EndpointType: 1, resourcev3.ListenerType: 2, resourcev3.RouteType: 3}
	if !slices.IsSortedFunc(u.Changes, func(a, b Change) int {
		return cmp.Or(cmp.Compare(order[a.TypeURL], order[b.TypeURL]), strings.Compare(a.Name, b.Name))
	}) {
		s.t.Errorf("%s: changes out of order", u.Flavour)
	}
	if s.state[u.Flavour] == nil {
		s.state[u.Flavour] = map[string]map[string]Change{}
	}
	for _, c := range u.Changes {
		byName := s.state[u.Flavour][c.TypeURL]
		if byName == nil {
			byName = map[string]Change{}
			s.state[u.Flavour][c.TypeURL] = byName
		}
		_, had := byName[c.Name]
		switch {
		case c.Resource == nil && !had:
			s.t.Errorf("%s: removal of %s %q, which the sink does not hold", u.Flavour, c.TypeURL, c.Name)
		case c.Resource == nil:
			delete(byName, c.Name)
		case had && byName[c.Name].Hash == c.Hash:
			s.t.Errorf("%s: %s %q sent again unchanged", u.Flavour, c.TypeURL, c.Name)
		default:
			byName[c.Name] = c
		}
	}
	s.updates[u.Flavour]++
	s.last[u.Flavour] = u
	return nil
}

func (s *recordingSink) count(f Flavour) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.updates[f]
}

func (s *recordingSink) lastUpdate(f Flavour) Update {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last[f]
}

func (s *recordingSink) setFail(fail bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = fail
}

// checkHolds fails unless the sink holds exactly Translate and Build of m
// for flavour f: the same resources, per-resource hashes and versions.
func (s *recordingSink) checkHolds(t *testing.T, f Flavour, m discovery.Model) {
	t.Helper()
	res, err := Translate(m, Options{Flavour: f, ListenerPort: 10000})
	if err != nil {
		t.Fatal(err)
	}
	snap, v, err := Build(res)
	if err != nil {
		t.Fatal(err)
	}
	if err := snap.ConstructVersionMap(); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if got := s.last[f].Versions; got != v {
		t.Errorf("%s: versions %+v, want %+v", f, got, v)
	}
	for _, x := range xdsTypes {
		items := map[string]types.ResourceWithTTL{}
		hashes := map[string]string{}
		for name, c := range s.state[f][x.url] {
			items[name] = types.ResourceWithTTL{Resource: c.Resource}
			hashes[name] = c.Hash
		}
		if w := snap.Resources[x.typ].Items; !sameItems(w, items) {
			t.Errorf("%s %s: resources differ (-want +got):\n%s", f, x.url, gocmp.Diff(w, items, protocmp.Transform()))
		}
		if w := snap.VersionMap[x.url]; !maps.Equal(w, hashes) {
			t.Errorf("%s %s: hashes differ (-want +got):\n%s", f, x.url, gocmp.Diff(w, hashes))
		}
	}
}

func newTestPublisher(t *testing.T, sink Sink, reg prometheus.Registerer) *Publisher {
	t.Helper()
	p, err := NewPublisher(PublisherConfig{
		Sink: sink, Translate: Options{ListenerPort: 10000},
		Quiet: 20 * time.Millisecond, MaxDelay: 200 * time.Millisecond, Registerer: reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPublisherKeepsLastGoodAndSkipsUnchanged(t *testing.T) {
	sink := newRecordingSink(t)
	reg := prometheus.NewRegistry()
	p := newTestPublisher(t, sink, reg)
	good := mixedModel(t)

	p.publishModel(good)
	if !p.Status().Ready || sink.count(FlavourEnvoy) != 1 || sink.count(FlavourGRPC) != 1 {
		t.Fatalf("first model: ready=%v envoy=%d grpc=%d", p.Status().Ready, sink.count(FlavourEnvoy), sink.count(FlavourGRPC))
	}
	before := p.Status().Versions

	p.publishModel(mixedModel(t))
	if sink.count(FlavourEnvoy) != 1 {
		t.Errorf("identical model was published again")
	}
	if got := testutil.ToFloat64(p.metrics.unchanged.WithLabelValues("envoy")); got != 1 {
		t.Errorf("unchanged counter = %v, want 1", got)
	}

	bad := mixedModel(t)
	bad.Services[0].Instances[0].Port = 70000 // not a port: fails validation
	p.publishModel(bad)
	if sink.count(FlavourEnvoy) != 1 || sink.count(FlavourGRPC) != 1 {
		t.Errorf("invalid model reached the sink")
	}
	st := p.Status()
	if st.LastError == "" || st.Versions[FlavourEnvoy] != before[FlavourEnvoy] {
		t.Errorf("after a bad model: status %+v, want the old versions and an error", st)
	}
	if got := testutil.ToFloat64(p.metrics.failures.WithLabelValues("grpc")); got != 1 {
		t.Errorf("failure counter = %v, want 1", got)
	}
}

func TestPublisherCoalescesBursts(t *testing.T) {
	sink := newRecordingSink(t)
	p := newTestPublisher(t, sink, nil)
	ctx, cancel := context.WithCancel(context.Background())
	models := make(chan discovery.Model)
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, models) }()

	const burst = 20
	for i := range burst {
		m := mixedModel(t)
		m.Services[0].Instances[0].Port = 8000 + i
		models <- m
	}
	// The burst's last model comes into force, and the burst costs fewer
	// publishes than models: the first at once, the rest coalesced.
	want := mixedModel(t)
	want.Services[0].Instances[0].Port = 8000 + burst - 1
	wantVersions := buildVersions(t, want, FlavourEnvoy)
	waitFor(t, 5*time.Second, func() bool {
		return sink.count(FlavourEnvoy) > 0 &&
			sink.lastUpdate(FlavourEnvoy).Versions.Endpoints == wantVersions.Endpoints
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := sink.count(FlavourEnvoy); n >= burst/2 {
		t.Errorf("%d publishes for a burst of %d models: not coalesced", n, burst)
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestPublisherCoalescesDeltas sends a burst of models that each name only
// the one service they change, as discovery does: the publisher must carry
// every coalesced model's changes into the next build.
func TestPublisherCoalescesDeltas(t *testing.T) {
	sink := newRecordingSink(t)
	p := newTestPublisher(t, sink, nil)
	ctx, cancel := context.WithCancel(context.Background())
	models := make(chan discovery.Model)
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, models) }()

	m := benchModel(20, 2)
	models <- cloneModel(m)
	for i := range 10 {
		m.Services[i].Instances[0].Health = discovery.HealthCritical
		next := cloneModel(m)
		next.Changed, next.Delta = []string{m.Services[i].Name}, true
		models <- next
	}
	want := buildVersions(t, m, FlavourEnvoy)
	waitFor(t, 5*time.Second, func() bool {
		return sink.count(FlavourEnvoy) > 0 && sink.lastUpdate(FlavourEnvoy).Versions == want
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, f := range Flavours() {
		sink.checkHolds(t, f, m)
	}
}
