package snapshot

import (
	"context"
	"sync"
	"testing"
	"time"

	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/switchyard/switchyard/discovery"
)

// recordingSink remembers every snapshot it is handed.
type recordingSink struct {
	mu    sync.Mutex
	snaps map[Flavour][]*cachev3.Snapshot
}

func (s *recordingSink) Publish(f Flavour, snap *cachev3.Snapshot) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.snaps == nil {
		s.snaps = map[Flavour][]*cachev3.Snapshot{}
	}
	s.snaps[f] = append(s.snaps[f], snap)
	return nil
}

func (s *recordingSink) count(f Flavour) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.snaps[f])
}

func (s *recordingSink) last(f Flavour) *cachev3.Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snaps[f][len(s.snaps[f])-1]
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
	sink := &recordingSink{}
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
	sink := &recordingSink{}
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
			sink.last(FlavourEnvoy).GetVersion(resourcev3.EndpointType) == wantVersions.Endpoints
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
