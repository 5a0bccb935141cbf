package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"github.com/switchyard/switchyard/discovery"
	"github.com/switchyard/switchyard/internal/tlsfiles"
	"github.com/switchyard/switchyard/internal/xdssink"
	"github.com/switchyard/switchyard/rollout"
	"github.com/switchyard/switchyard/snapshot"
	"github.com/switchyard/switchyard/xds"
)

// app is one running Switchyard: discovery feeds the publisher, the publisher
// feeds the xDS server, and the admin server reports on all three.
type app struct {
	log       *slog.Logger
	source    *discovery.ConsulSource
	publisher *snapshot.Publisher
	xds       *xds.Server
	xdsLis    net.Listener
	adminLis  net.Listener
	admin     *http.Server
	// replica registers this Switchyard in Consul; nil with --register=false.
	replica *replica
	// rollouts drives rollouts; nil with --rollouts=false.
	rollouts *rollout.Controller
	// listenerPort is the port of the Envoy flavour's HTTP listener, whose
	// route configuration is named by it.
	listenerPort uint32
	// tokens keeps the Consul token of --consul-token-file current; nil
	// without one.
	tokens *discovery.TokenFile
}

// openTokenFile opens --consul-token-file, or returns nil without one.
func openTokenFile(cfg serveConfig, log *slog.Logger) (*discovery.TokenFile, error) {
	if cfg.ConsulTokenFile == "" {
		return nil, nil
	}
	tokens, err := discovery.OpenTokenFile(cfg.ConsulTokenFile, cfg.ConsulTokenPoll, log)
	if err != nil {
		return nil, fmt.Errorf("--consul-token-file: %w", err)
	}
	return tokens, nil
}

// xdsConfig is the xDS server's configuration, limits included.
func xdsConfig(cfg serveConfig, log *slog.Logger, reg prometheus.Registerer) xds.Config {
	l := cfg.XDSLimits
	return xds.Config{
		Logger: log, Registerer: reg, StaleAfter: cfg.StaleAfter, LoadReportInterval: cfg.LoadReportInterval,
		MaxConcurrentStreams: l.MaxStreamsPerConn, MaxMsgSize: l.MaxMsgSize, MinPingInterval: l.KeepaliveMinPing,
		MaxConnectionAge: l.MaxConnectionAge, ShutdownGrace: l.ShutdownGrace, MaxNewStreamsPerSecond: l.MaxNewStreamsPerSecond,
	}
}

// newApp wires the stages and binds both listeners, so that a caller knows
// the real addresses (for port 0) before Run.
func newApp(cfg serveConfig, log *slog.Logger) (*app, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	tokens, err := openTokenFile(cfg, log)
	if err != nil {
		return nil, err
	}
	conns := &discovery.ConnCounter{}
	client, err := discovery.NewClient(discovery.ClientOptions{Address: cfg.ConsulAddr, Tokens: tokens, Conns: conns, MaxConns: cfg.ConsulMaxConns})
	if err != nil {
		return nil, err
	}
	src, err := discovery.NewConsulSource(discovery.Config{
		Client: client, Datacenter: cfg.Datacenter, WaitTime: cfg.ConsulWait,
		MaxConns: cfg.ConsulMaxConns, Conns: conns,
		Logger: log, Registerer: reg,
	})
	if err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	maxDrop, err := rollout.ParsePercent(cfg.MaxEndpointDrop)
	if err != nil {
		return nil, fmt.Errorf("--max-endpoint-drop: %w", err)
	}
	xcfg := xdsConfig(cfg, log, reg)
	if xcfg.TLS, err = serverTLS(cfg.TLS, log, reg); err != nil {
		return nil, err
	}
	xcfg.AuthzNodeIdentity = cfg.TLS.AuthzNodeIdentity
	srv := xds.New(xcfg)
	pub, err := snapshot.NewPublisher(snapshot.PublisherConfig{
		Sink:      xdssink.New(srv),
		Translate: snapshot.Options{ListenerPort: cfg.EnvoyListenerPort, LoadReporting: cfg.LoadReporting},
		Quiet:     cfg.DebounceQuiet, MaxDelay: cfg.DebounceMax,
		Logger: log, Registerer: reg,
		DropGuard: snapshot.DropGuardConfig{MaxDrop: maxDrop, Confirm: cfg.DropConfirm},
		CertDir:   cfg.FleetCertDir, CertDirInterval: cfg.FleetCertInterval,
	})
	if err != nil {
		return nil, fmt.Errorf("publisher: %w", err)
	}
	a := &app{log: log, source: src, publisher: pub, xds: srv, listenerPort: cfg.EnvoyListenerPort, tokens: tokens}
	if a.xdsLis, err = net.Listen("tcp", cfg.XDSAddr); err != nil {
		return nil, fmt.Errorf("listen on --xds-addr: %w", err)
	}
	if a.adminLis, err = net.Listen("tcp", cfg.AdminAddr); err != nil {
		a.xdsLis.Close()
		return nil, fmt.Errorf("listen on --admin-addr: %w", err)
	}
	a.admin = &http.Server{Handler: a.adminHandler(reg), ReadHeaderTimeout: adminReadHeaderTimeout}
	// Registration and the rollout controller get a client of their own,
	// so that their requests (and the controller's lock, a blocking query
	// held while it leads) never wait for, or take, one of the
	// connections discovery's watches are budgeted.
	side, err := discovery.NewClient(discovery.ClientOptions{Address: cfg.ConsulAddr, Tokens: tokens})
	if err != nil {
		a.xdsLis.Close()
		a.adminLis.Close()
		return nil, err
	}
	if cfg.Register {
		if a.replica, err = newReplica(side, a.AdminAddr(), a.XDSAddr(), log); err != nil {
			a.xdsLis.Close()
			a.adminLis.Close()
			return nil, fmt.Errorf("replica registration: %w", err)
		}
	}
	if cfg.Rollouts {
		fleet := fleetView{app: a, consul: side, admin: adminClient{http: &http.Client{}}, log: log.With("component", "rollout")}
		if a.replica != nil {
			fleet.selfID = a.replica.reg.ID
		}
		if a.rollouts, err = newRolloutController(side, cfg, fleet, replicaID(a.AdminAddr()), log, reg); err != nil {
			a.xdsLis.Close()
			a.adminLis.Close()
			return nil, err
		}
	}
	return a, nil
}

// Run serves until ctx is done or a stage fails, then stops every stage.
func (a *app) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return a.source.Run(ctx) })
	g.Go(func() error { return a.publisher.Run(ctx, a.source.Models()) })
	g.Go(func() error { return a.xds.Serve(ctx, a.xdsLis) })
	g.Go(func() error { return a.serveAdmin(ctx) })
	if a.replica != nil {
		g.Go(func() error { return a.replica.Run(ctx) })
	}
	if a.rollouts != nil {
		g.Go(func() error { return a.rollouts.Run(ctx) })
	}
	if a.tokens != nil {
		g.Go(func() error { return a.tokens.Run(ctx) })
	}
	err := g.Wait()
	a.log.Info("switchyard stopped", "error", err)
	return err
}

// serverTLS returns the xDS server's reloading TLS configuration, or nil
// for plaintext.
func serverTLS(t serveTLS, log *slog.Logger, reg prometheus.Registerer) (*tls.Config, error) {
	if t.CertFile == "" {
		return nil, nil
	}
	r, err := tlsfiles.New(tlsfiles.Config{CertFile: t.CertFile, KeyFile: t.KeyFile, ClientCAFile: t.ClientCAFile, Logger: log, Registerer: reg})
	if err != nil {
		return nil, fmt.Errorf("xds tls: %w", err)
	}
	return r.ServerConfig(), nil
}

// XDSAddr is the bound xDS address.
func (a *app) XDSAddr() string { return a.xdsLis.Addr().String() }

// AdminAddr is the bound admin address.
func (a *app) AdminAddr() string { return a.adminLis.Addr().String() }
