package xds

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	clusterservice "github.com/envoyproxy/go-control-plane/envoy/service/cluster/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	endpointservice "github.com/envoyproxy/go-control-plane/envoy/service/endpoint/v3"
	listenerservice "github.com/envoyproxy/go-control-plane/envoy/service/listener/v3"
	routeservice "github.com/envoyproxy/go-control-plane/envoy/service/route/v3"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
)

// Config configures the xDS server. Zero durations take the defaults shown.
type Config struct {
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// MaxConcurrentStreams bounds the streams of one connection (default 1000).
	MaxConcurrentStreams uint32
	// KeepaliveTime is how often an idle connection is pinged (default 30s);
	// KeepaliveTimeout how long a ping may go unanswered (default 10s).
	KeepaliveTime    time.Duration
	KeepaliveTimeout time.Duration
	// MinPingInterval is the most often a client may ping (default 10s).
	MinPingInterval time.Duration
	// MaxConnectionAge closes connections after about this long (default
	// 30m; gRPC adds ±10% jitter) so clients spread over replicas again.
	MaxConnectionAge time.Duration
	// ShutdownGrace is how long shutdown waits for streams (default 5s).
	ShutdownGrace time.Duration
}

// withDefaults fills in zero values.
func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	set := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	set(&c.KeepaliveTime, 30*time.Second)
	set(&c.KeepaliveTimeout, 10*time.Second)
	set(&c.MinPingInterval, 10*time.Second)
	set(&c.MaxConnectionAge, 30*time.Minute)
	set(&c.ShutdownGrace, 5*time.Second)
	if c.MaxConcurrentStreams == 0 {
		c.MaxConcurrentStreams = 1000
	}
	return c
}

// Server serves snapshots to xDS clients, one snapshot per group.
type Server struct {
	cfg       Config
	log       *slog.Logger
	metrics   *metrics
	caches    map[Kind]cachev3.SnapshotCache
	mux       *cachev3.MuxCache
	callbacks *callbacks

	// known holds every registered group, so that the per-request check
	// never waits for a Publish holding mu.
	known  sync.Map
	mu     sync.Mutex
	latest map[Kind]*cachev3.Snapshot
	groups map[Group]bool
	// tables hold the version table of the latest snapshot of each kind,
	// read by every resuming delta request without taking mu.
	tables map[Kind]*atomic.Pointer[versionTable]
}

// New returns a server; Serve starts it.
func New(cfg Config) *Server {
	cfg = cfg.withDefaults()
	log := cfg.Logger.With("component", "xds")
	s := &Server{
		cfg:     cfg,
		log:     log,
		metrics: newMetrics(cfg.Registerer),
		latest:  map[Kind]*cachev3.Snapshot{},
		groups:  map[Group]bool{},
		tables:  map[Kind]*atomic.Pointer[versionTable]{KindEnvoy: {}, KindGRPC: {}},
	}
	s.caches, s.mux = newCaches(cacheLogger{log: log})
	s.callbacks = newCallbacks(log, s.metrics, s.addGroup, s.versionTable)
	return s
}

// newCaches returns one snapshot cache per client kind and the mux that
// routes each request to its kind's cache. Envoy's cache runs in ADS mode: it
// answers a type only once the client has asked for every resource of it,
// and answers pending watches in type order, so a new cluster reaches an
// Envoy before the endpoints and routes that need it. gRPC clients ask only
// for what their routes reference, never for everything, so their cache must
// not wait for that.
func newCaches(log cacheLogger) (map[Kind]cachev3.SnapshotCache, *cachev3.MuxCache) {
	caches := map[Kind]cachev3.SnapshotCache{
		KindEnvoy: cachev3.NewSnapshotCache(true, groupHash{}, log),
		KindGRPC:  cachev3.NewSnapshotCache(false, groupHash{}, log),
	}
	mux := &cachev3.MuxCache{
		Classify:      func(r *cachev3.Request) string { return GroupOf(r.GetNode()).Kind.String() },
		ClassifyDelta: func(r *cachev3.DeltaRequest) string { return GroupOf(r.GetNode()).Kind.String() },
		Caches:        map[string]cachev3.Cache{},
	}
	for k, c := range caches {
		mux.Caches[k.String()] = c
	}
	return caches, mux
}

// Publish puts a snapshot in force for every group of one kind, and for the
// groups of that kind that connect later.
func (s *Server) Publish(kind Kind, snap *cachev3.Snapshot) error {
	snap, table, err := withVersionMap(snap)
	if err != nil {
		return fmt.Errorf("publish %s snapshot: %w", kind, err)
	}
	tables, ok := s.tables[kind]
	if !ok {
		return fmt.Errorf("publish: unknown client kind %d", kind)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latest[kind] = snap
	tables.Store(table)
	var errs []error
	for g := range s.groups {
		if g.Kind == kind {
			errs = append(errs, s.setSnapshot(g, snap))
		}
	}
	return errors.Join(errs...)
}

// addGroup registers a group on its first request and hands it the latest
// snapshot of its kind. The lock is held across SetSnapshot so that a
// concurrent Publish can never be overwritten by an older snapshot.
func (s *Server) addGroup(g Group) {
	if _, ok := s.known.Load(g); ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.groups[g] {
		return
	}
	s.groups[g] = true
	s.known.Store(g, true)
	s.metrics.groups.Set(float64(len(s.groups)))
	s.log.Info("new client group", "group", g.String())
	if snap := s.latest[g.Kind]; snap != nil {
		if err := s.setSnapshot(g, snap); err != nil {
			s.log.Error("set snapshot for new group", "group", g.String(), "error", err)
		}
	}
}

// setSnapshot hands a snapshot to the cache for one group.
func (s *Server) setSnapshot(g Group, snap *cachev3.Snapshot) error {
	if err := s.caches[g.Kind].SetSnapshot(context.Background(), g.String(), snap); err != nil {
		return fmt.Errorf("set snapshot for %s: %w", g, err)
	}
	return nil
}

// versionTable returns the version table of the latest snapshot of a kind,
// nil before the first.
func (s *Server) versionTable(k Kind) *versionTable {
	if p, ok := s.tables[k]; ok {
		return p.Load()
	}
	return nil
}

// Groups returns the groups seen so far.
func (s *Server) Groups() []Group {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Group, 0, len(s.groups))
	for g := range s.groups {
		out = append(out, g)
	}
	return out
}

// Serve serves xDS on lis until ctx is done, then stops every stream, waits
// up to ShutdownGrace for handlers to return and closes the listener.
func (s *Server) Serve(ctx context.Context, lis net.Listener) error {
	xdsServer := serverv3.NewServer(ctx, s.mux, s.callbacks)
	gs := grpc.NewServer(
		grpc.MaxConcurrentStreams(s.cfg.MaxConcurrentStreams),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			Time:                  s.cfg.KeepaliveTime,
			Timeout:               s.cfg.KeepaliveTimeout,
			MaxConnectionAge:      s.cfg.MaxConnectionAge,
			MaxConnectionAgeGrace: time.Minute,
		}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
			MinTime:             s.cfg.MinPingInterval,
			PermitWithoutStream: true,
		}),
	)
	discoveryv3.RegisterAggregatedDiscoveryServiceServer(gs, xdsServer)
	clusterservice.RegisterClusterDiscoveryServiceServer(gs, xdsServer)
	endpointservice.RegisterEndpointDiscoveryServiceServer(gs, xdsServer)
	listenerservice.RegisterListenerDiscoveryServiceServer(gs, xdsServer)
	routeservice.RegisterRouteDiscoveryServiceServer(gs, xdsServer)

	errc := make(chan error, 1)
	go func() { errc <- gs.Serve(lis) }()
	s.log.Info("serving xDS", "addr", lis.Addr().String())
	select {
	case err := <-errc:
		return fmt.Errorf("serve xds: %w", err)
	case <-ctx.Done():
	}
	s.stop(gs)
	<-errc
	return nil
}

// stop shuts the gRPC server down, gracefully while that takes less than
// ShutdownGrace. The xDS handlers end on their own once ctx is done.
func (s *Server) stop(gs *grpc.Server) {
	done := make(chan struct{})
	go func() {
		gs.GracefulStop()
		close(done)
	}()
	timer := time.NewTimer(s.cfg.ShutdownGrace)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		s.log.Warn("xds streams did not end in time; closing them", "grace", s.cfg.ShutdownGrace)
		gs.Stop()
		<-done
	}
}
