package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync/atomic"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"github.com/hashicorp/consul/api"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"

	"github.com/switchyard/switchyard/discovery"
	"github.com/switchyard/switchyard/snapshot"
)

// gcpConfig is the command line of the hidden `serve` subcommand: the
// stock go-control-plane peer that `run --target gcp` starts as a child.
type gcpConfig struct {
	ConsulAddr, XDSAddr, AdminAddr string
	// NodeCluster is the node.cluster of the simulated fleet: the peer
	// keys its one snapshot by node.cluster, so one snapshot serves all.
	NodeCluster  string
	ListenerPort uint32
	LogLevel     string
}

// gcpConsulMaxConns matches `switchyard serve`'s default --consul-max-conns,
// so both follow Consul the same way.
const gcpConsulMaxConns = discovery.DefaultMaxConns

// clusterHash keys go-control-plane's snapshot cache by node.cluster.
type clusterHash struct{}

// ID implements cachev3.NodeHash.
func (clusterHash) ID(n *corev3.Node) string { return n.GetCluster() }

// runGCP follows Consul with Switchyard's discovery, turns every model into
// a snapshot with the pure reference path (snapshot.Translate, then
// snapshot.Build) and serves it with a stock go-control-plane snapshot
// cache and server, state of the world and delta ADS, until ctx ends. It
// has no debounce: discovery's one-slot model channel is all the
// coalescing there is.
func runGCP(ctx context.Context, log *slog.Logger, cfg gcpConfig) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector())
	src, err := gcpSource(log, reg, cfg.ConsulAddr)
	if err != nil {
		return err
	}
	cache := cachev3.NewSnapshotCache(true, clusterHash{}, gcpLogger{log})
	xdsLis, err := net.Listen("tcp", cfg.XDSAddr)
	if err != nil {
		return fmt.Errorf("listen on --xds-addr: %w", err)
	}
	adminLis, err := net.Listen("tcp", cfg.AdminAddr)
	if err != nil {
		xdsLis.Close()
		return fmt.Errorf("listen on --admin-addr: %w", err)
	}
	var ready atomic.Bool
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return src.Run(gctx) })
	g.Go(func() error { return feedCache(gctx, log, cfg, src.Models(), cache, &ready) })
	g.Go(func() error { return serveGRPC(gctx, xdsLis, serverv3.NewServer(gctx, cache, nil)) })
	g.Go(func() error { return serveAdmin(gctx, adminLis, reg, &ready) })
	return g.Wait()
}

// gcpSource builds the discovery source as `switchyard serve` does.
func gcpSource(log *slog.Logger, reg prometheus.Registerer, consulAddr string) (*discovery.ConsulSource, error) {
	cc := api.DefaultConfig()
	cc.Address = consulAddr
	conns := &discovery.ConnCounter{}
	conns.Wrap(cc.Transport, gcpConsulMaxConns)
	client, err := api.NewClient(cc)
	if err != nil {
		return nil, fmt.Errorf("consul client: %w", err)
	}
	src, err := discovery.NewConsulSource(discovery.Config{Client: client, MaxConns: gcpConsulMaxConns,
		Conns: conns, Logger: log, Registerer: reg})
	if err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	return src, nil
}

// feedCache sets a snapshot for cfg.NodeCluster from every model; a model
// that does not translate or validate is logged and skipped, and the last
// good snapshot stays.
func feedCache(ctx context.Context, log *slog.Logger, cfg gcpConfig, models <-chan discovery.Model, cache cachev3.SnapshotCache, ready *atomic.Bool) error {
	opts := snapshot.Options{Flavour: snapshot.FlavourEnvoy, ListenerPort: cfg.ListenerPort}
	for {
		var m discovery.Model
		select {
		case <-ctx.Done():
			return nil
		case m = <-models:
		}
		res, err := snapshot.Translate(m, opts)
		if err != nil {
			log.Error("translate", "error", err)
			continue
		}
		snap, _, err := snapshot.Build(res)
		if err != nil {
			log.Error("build snapshot", "error", err)
			continue
		}
		if err := cache.SetSnapshot(ctx, cfg.NodeCluster, snap); err != nil {
			if ctx.Err() != nil {
				return nil // stopping: a response was cut short
			}
			log.Error("set snapshot", "error", err)
			continue
		}
		ready.Store(true)
	}
}

// serveGRPC serves ADS (state of the world and delta) with the options of
// go-control-plane's example server, until ctx ends.
func serveGRPC(ctx context.Context, lis net.Listener, srv serverv3.Server) error {
	gs := grpc.NewServer(
		grpc.MaxConcurrentStreams(1000000),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 30 * time.Second, Timeout: 5 * time.Second}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 30 * time.Second, PermitWithoutStream: true}),
	)
	discoveryv3.RegisterAggregatedDiscoveryServiceServer(gs, srv)
	errc := make(chan error, 1)
	go func() { errc <- gs.Serve(lis) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve xds: %w", err)
	case <-ctx.Done():
	}
	gs.Stop()
	<-errc
	return nil
}

// serveAdmin serves /readyz (200 once a snapshot is set) and /metrics
// (discovery's, among them switchyard_consul_connections) until ctx ends.
func serveAdmin(ctx context.Context, lis net.Listener, reg *prometheus.Registry, ready *atomic.Bool) error {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	// As on Switchyard's admin address: the load tool forces a collection
	// through the heap profile before it reads live memory.
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !ready.Load() {
			http.Error(w, "no snapshot yet", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { <-ctx.Done(); srv.Close() }()
	if err := srv.Serve(lis); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve admin: %w", err)
	}
	return nil
}

// gcpLogger adapts slog to go-control-plane's logger; its debug lines are
// dropped, since the cache logs one per watch.
type gcpLogger struct{ log *slog.Logger }

func (l gcpLogger) Debugf(string, ...any) {}

func (l gcpLogger) Infof(format string, args ...any) { l.log.Info(fmt.Sprintf(format, args...)) }

func (l gcpLogger) Warnf(format string, args ...any) { l.log.Warn(fmt.Sprintf(format, args...)) }

func (l gcpLogger) Errorf(format string, args ...any) { l.log.Error(fmt.Sprintf(format, args...)) }
