package xds

import (
	"context"
	"crypto/tls"
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
	lrsv3 "github.com/envoyproxy/go-control-plane/envoy/service/load_stats/v3"
	routeservice "github.com/envoyproxy/go-control-plane/envoy/service/route/v3"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
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
	// MaxConnectionAgeGrace is how long the streams of a connection past
	// MaxConnectionAge may run on before it is closed (default 1m).
	MaxConnectionAgeGrace time.Duration
	// ShutdownGrace is how long shutdown waits for streams (default 5s).
	ShutdownGrace time.Duration
	// MaxMsgSize bounds each message received and sent, in bytes
	// (default DefaultMaxMsgSize).
	MaxMsgSize int
	// MaxNewStreamsPerSecond bounds the rate of new streams, with a burst
	// of one second's worth (default DefaultMaxNewStreamsPerSecond); a
	// stream over it waits its turn up to NewStreamWait (default
	// DefaultNewStreamWait), else it is refused with codes.Unavailable.
	MaxNewStreamsPerSecond float64
	NewStreamWait          time.Duration
	// MaxConcurrentSyncs bounds the streams sending a bulk sync (a first
	// sync, a resubscription) at once (default 100); SyncHold is how long
	// one may wait for its client's answers before another goes (default
	// 10s).
	MaxConcurrentSyncs int
	SyncHold           time.Duration
	// StaleAfter is how long a response may go unanswered before the
	// proxy's state for its type is STALE (default 10s).
	StaleAfter time.Duration
	// LoadReportInterval is how often clients are asked to send their
	// load reports (default 1s).
	LoadReportInterval time.Duration
	// TLS, when set, serves over TLS with this configuration, whose
	// GetConfigForClient may hand out new certificates and client CAs at
	// every handshake (see internal/tlsfiles); nil serves plaintext. A
	// refused handshake is logged with why.
	TLS *tls.Config
	// AuthzNodeIdentity refuses every stream whose node is not named by
	// its client certificate (the rule is in authz.go); it needs TLS with
	// verified client certificates.
	AuthzNodeIdentity bool
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
	set(&c.MaxConnectionAgeGrace, DefaultMaxConnectionAgeGrace)
	set(&c.ShutdownGrace, 5*time.Second)
	set(&c.NewStreamWait, DefaultNewStreamWait)
	if c.MaxMsgSize <= 0 {
		c.MaxMsgSize = DefaultMaxMsgSize
	}
	if c.MaxNewStreamsPerSecond <= 0 {
		c.MaxNewStreamsPerSecond = DefaultMaxNewStreamsPerSecond
	}
	set(&c.SyncHold, 10*time.Second)
	set(&c.StaleAfter, 10*time.Second)
	set(&c.LoadReportInterval, time.Second)
	if c.MaxConcurrentSyncs <= 0 {
		c.MaxConcurrentSyncs = 100
	}
	if c.MaxConcurrentStreams == 0 {
		c.MaxConcurrentStreams = 1000
	}
	return c
}

// Server serves Switchyard's resources to xDS clients over state of the
// world and delta, aggregated (ADS) or one type per stream. Every client
// of a kind is served the same resources; each resource version is
// encoded once and its bytes shared by every stream that sends it, and a
// change wakes only the streams subscribed to what changed. On the same
// port it serves load reporting (LRS) and sums what clients report (see
// Loads).
type Server struct {
	cfg     Config
	log     *slog.Logger
	metrics *metrics
	kinds   map[Kind]*kindState
	gate    *syncGate
	// throttle bounds the rate of new streams (limits.go).
	throttle *streamThrottle
	ids      atomic.Int64
	// done is closed when Serve's context ends, which ends every stream.
	done     chan struct{}
	doneOnce sync.Once

	mu sync.Mutex
	// fleets are the states of the Envoy fleets that have a profile, by
	// node.cluster (fleets.go); an Envoy of another cluster gets its kind's.
	fleets map[string]*kindState
	// groups counts the open streams of each client group; a group with
	// none left is forgotten.
	groups map[Group]int
	// proxies are the tracks of the streams whose node is known.
	proxies map[*proxyTrack]struct{}

	// loads sums the clients' load reports.
	loads      *loadTable
	lrsMetrics *lrsMetrics
	// refused counts refused connections and streams by reason.
	refused *prometheus.CounterVec
}

// New returns a server; Serve starts it.
func New(cfg Config) *Server {
	cfg = cfg.withDefaults()
	s := &Server{
		cfg:      cfg,
		log:      cfg.Logger.With("component", "xds"),
		metrics:  newMetrics(cfg.Registerer),
		kinds:    map[Kind]*kindState{KindEnvoy: newKindState(KindEnvoy), KindGRPC: newKindState(KindGRPC)},
		gate:     newSyncGate(cfg.MaxConcurrentSyncs, cfg.SyncHold),
		throttle: newStreamThrottle(cfg, cfg.Registerer),
		done:     make(chan struct{}),
		groups:   map[Group]int{},
		fleets:   map[string]*kindState{},
		proxies:  map[*proxyTrack]struct{}{},

		loads:      newLoadTable(maxLoadClusters),
		lrsMetrics: newLRSMetrics(cfg.Registerer),
		refused:    newRefusedCounter(cfg.Registerer),
	}
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(newFleetCollector(s))
	}
	return s
}

// Apply puts an update in force for every client of one kind, connected or
// not: it encodes each change once, then wakes the streams subscribed to
// what differs from what was held. An update that cannot be encoded
// changes nothing. Changes are expected to be changes: a put at the
// version already held is encoded and then ignored.
func (s *Server) Apply(kind Kind, u Update) error {
	k, ok := s.kinds[kind]
	if !ok {
		return fmt.Errorf("apply: unknown client kind %d", kind)
	}
	if err := s.applyTo(k, u); err != nil {
		return fmt.Errorf("apply %s update: %w", kind, err)
	}
	return nil
}

// applyTo puts an update in force in one state, all of it or nothing.
func (s *Server) applyTo(k *kindState, u Update) error {
	start := time.Now()
	enc, err := encodeUpdate(u)
	if err != nil {
		return err
	}
	k.mu.Lock()
	wake := k.apply(enc, u.Versions)
	k.mu.Unlock()
	for st := range wake {
		st.track.changeSeen(u.Observed)
		st.signal()
	}
	s.metrics.encodes.Add(float64(len(enc)))
	s.metrics.applyTime.Observe(time.Since(start).Seconds())
	s.metrics.woken.Observe(float64(len(wake)))
	return nil
}

// addGroup counts a stream of a client group on its first request.
func (s *Server) addGroup(g Group) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.groups[g]++
	if s.groups[g] > 1 {
		return
	}
	s.metrics.groups.Set(float64(len(s.groups)))
	s.log.Info("new client group", "group", g.String())
}

// dropGroup uncounts a closed stream of a group, forgetting the group
// with its last stream.
func (s *Server) dropGroup(g Group) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.groups[g]--; s.groups[g] > 0 {
		return
	}
	delete(s.groups, g)
	s.metrics.groups.Set(float64(len(s.groups)))
	s.log.Info("client group gone: no stream left", "group", g.String())
}

// Groups returns the groups that have a stream open.
func (s *Server) Groups() []Group {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Group, 0, len(s.groups))
	for g := range s.groups {
		out = append(out, g)
	}
	return out
}

// Serve serves xDS on lis until ctx is done, then ends every stream, waits
// up to ShutdownGrace for handlers to return and closes the listener.
func (s *Server) Serve(ctx context.Context, lis net.Listener) error {
	// The limits (streams, message sizes, keepalive, connection age, rate
	// of new streams) are limitOptions, in limits.go; TLS and the node
	// identity check are securityOptions.
	opts := append(s.securityOptions(), s.limitOptions()...)
	gs := grpc.NewServer(append(opts, grpc.ForceServerCodecV2(newUnpooledCodec()))...)
	discoveryv3.RegisterAggregatedDiscoveryServiceServer(gs, adsService{s})
	clusterservice.RegisterClusterDiscoveryServiceServer(gs, cdsService{s: s})
	endpointservice.RegisterEndpointDiscoveryServiceServer(gs, edsService{s: s})
	listenerservice.RegisterListenerDiscoveryServiceServer(gs, ldsService{s: s})
	routeservice.RegisterRouteDiscoveryServiceServer(gs, rdsService{s: s})
	lrsv3.RegisterLoadReportingServiceServer(gs, lrsService{s: s})

	errc := make(chan error, 1)
	go func() { errc <- gs.Serve(lis) }()
	s.log.Info("serving xDS", "addr", lis.Addr().String(), "tls", s.cfg.TLS != nil, "authz_node_identity", s.cfg.AuthzNodeIdentity)
	select {
	case err := <-errc:
		s.doneOnce.Do(func() { close(s.done) })
		return fmt.Errorf("serve xds: %w", err)
	case <-ctx.Done():
	}
	s.doneOnce.Do(func() { close(s.done) })
	s.stop(gs)
	<-errc
	return nil
}

// securityOptions are the server's TLS credentials and node identity
// check, if configured.
func (s *Server) securityOptions() []grpc.ServerOption {
	var opts []grpc.ServerOption
	if s.cfg.TLS != nil {
		opts = append(opts, grpc.Creds(s.serverCreds(s.cfg.TLS)))
	}
	if s.cfg.AuthzNodeIdentity {
		opts = append(opts, grpc.ChainStreamInterceptor(s.authorizeStreams))
	}
	return opts
}

// stop shuts the gRPC server down, gracefully while that takes less than
// ShutdownGrace. The streams end on their own once done is closed.
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
