package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"

	"github.com/switchyard/switchyard/discovery"
	"github.com/switchyard/switchyard/internal/xdssink"
	"github.com/switchyard/switchyard/snapshot"
	"github.com/switchyard/switchyard/xds"
)

// inProcess is Switchyard's pipeline wired in the test process, as `serve`
// wires it, with an admin listener that serves only /metrics.
type inProcess struct {
	xdsAddr, adminAddr string
}

// startInProcess runs discovery, publisher and xDS server against consulAddr
// until the test ends.
func startInProcess(t *testing.T, consulAddr string) inProcess {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := prometheus.NewRegistry()
	cc := api.DefaultConfig()
	cc.Address = consulAddr
	conns := &discovery.ConnCounter{}
	conns.Wrap(cc.Transport, 64)
	client, err := api.NewClient(cc)
	if err != nil {
		t.Fatal(err)
	}
	src, err := discovery.NewConsulSource(discovery.Config{Client: client, WaitTime: 30 * time.Second,
		MaxConns: 64, Conns: conns, Logger: log, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	srv := xds.New(xds.Config{Logger: log, Registerer: reg})
	pub, err := snapshot.NewPublisher(snapshot.PublisherConfig{Sink: xdssink.New(srv),
		Translate: snapshot.Options{ListenerPort: 10000}, Quiet: 50 * time.Millisecond, MaxDelay: 500 * time.Millisecond,
		Logger: log, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	xdsLis := listen(t)
	adminLis := listen(t)
	admin := &http.Server{Handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), ReadHeaderTimeout: time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return src.Run(gctx) })
	g.Go(func() error { return pub.Run(gctx, src.Models()) })
	g.Go(func() error { return srv.Serve(gctx, xdsLis) })
	g.Go(func() error {
		go func() { <-gctx.Done(); admin.Close() }()
		if err := admin.Serve(adminLis); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	t.Cleanup(func() {
		cancel()
		if err := g.Wait(); err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("switchyard: %v", err)
		}
	})
	return inProcess{xdsAddr: xdsLis.Addr().String(), adminAddr: adminLis.Addr().String()}
}

// listen binds a free loopback port.
func listen(t *testing.T) net.Listener {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return lis
}
