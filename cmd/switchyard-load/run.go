package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// cleanupTimeout bounds deregistering the services from an external Consul.
const cleanupTimeout = 2 * time.Minute

// runLoad runs one scenario against the target the flags name and prints
// the report.
func runLoad(ctx context.Context, log *slog.Logger, cfg loadConfig, out io.Writer) (err error) {
	var (
		tgt *target
		ch  *churn
	)
	if cfg.Start {
		tgt, ch, err = startTarget(ctx, log, cfg)
	} else {
		tgt, ch, err = openExternal(ctx, log, cfg)
	}
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, tgt.stop()) }()
	r, err := measure(ctx, log, cfg, tgt, ch)
	if err != nil {
		return err
	}
	if cfg.JSON {
		return r.writeJSON(out)
	}
	return r.writeTable(out)
}

// openExternal registers the services in a running Consul; the target's
// stop deregisters them.
func openExternal(ctx context.Context, log *slog.Logger, cfg loadConfig) (*target, *churn, error) {
	tgt := externalTarget(cfg)
	ch, err := registerServices(ctx, log, cfg, tgt.consulAddr)
	if err != nil {
		return nil, nil, err
	}
	tgt.stop = func() error { return deregister(log, ch) }
	return tgt, ch, nil
}

// registerServices registers the scenario's services in the Consul at addr.
func registerServices(ctx context.Context, log *slog.Logger, cfg loadConfig, addr string) (*churn, error) {
	ch, err := newChurn(log, addr, churnConfig{prefix: cfg.ServicePrefix, services: cfg.Services,
		instances: cfg.Instances, writesPerSecond: cfg.WriteRate, writers: cfg.Writers,
		changed: cfg.seenServices(), connectNative: cfg.Target == targetConsul})
	if err != nil {
		return nil, err
	}
	return ch, ch.register(ctx)
}

// measure syncs the fleet, makes the changes and gathers the figures; the
// services are registered already.
func measure(ctx context.Context, log *slog.Logger, cfg loadConfig, tgt *target, ch *churn) (*report, error) {
	scfg := streamConfig{addr: tgt.xdsAddr, cluster: cfg.NodeCluster, minClusters: cfg.seenServices(), tracker: newTracker(),
		nodeID: func(i int) string { return proxyID(cfg, i) }}
	if cfg.Target == targetConsul {
		scfg.noRoutes, scfg.claService = true, consulClusterService
	}
	if cfg.StalledPercent > 0 {
		scfg.stalls = newStallSet()
	}
	if err := probe(ctx, log, cfg, scfg, ch); err != nil {
		return nil, err
	}
	f := newFleet(ctx, log, scfg, streamRunner(cfg.Protocol))
	defer f.close()
	cpu0, cpuErr := cpuOf(tgt.pid)
	f.grow(cfg.Streams)
	last, err := f.waitSynced(ctx, cfg.SyncTimeout)
	if err != nil {
		return nil, fmt.Errorf("initial sync: %w", err)
	}
	r := newReport(cfg)
	r.InitialSyncMS = ms(last.Sub(f.started))
	if cpu1, err := cpuOf(tgt.pid); cpuErr == nil && err == nil {
		v := cpu1 - cpu0
		r.InitialSyncCPUSeconds = &v
	}
	log.Info("fleet synced", "streams", cfg.Streams, "took", last.Sub(f.started).Round(time.Millisecond))
	r.ConsulConnections = consulConnections(ctx, log, tgt)
	if err := changePhase(ctx, log, cfg, tgt, f, ch, r); err != nil {
		return nil, err
	}
	return r, laterPhases(ctx, log, cfg, tgt, f, ch, r)
}

// laterPhases runs what follows the changes: stalled streams (first, so
// that no backlog of the steady churn inflates them), steady churn,
// memory. On failure, r keeps what was measured before.
func laterPhases(ctx context.Context, log *slog.Logger, cfg loadConfig, tgt *target, f *fleet, ch *churn, r *report) error {
	if cfg.StalledPercent > 0 {
		if err := stallPhase(ctx, log, cfg, f, ch, r); err != nil {
			return err
		}
	}
	if cfg.SteadyChanges > 0 {
		if err := steadyPhase(ctx, log, cfg, tgt, f, ch, r); err != nil {
			return err
		}
	}
	r.RSSBytes = rss(log, tgt.pid)
	if cfg.SlopeStreams > 0 {
		return rssSlope(ctx, cfg, tgt, f, r)
	}
	return nil
}

// streamRunner returns the stream implementation of protocol.
func streamRunner(protocol string) runStream {
	if protocol == "delta" {
		return runDelta
	}
	return runSotW
}

// probe waits, with one stream, until the target serves every registered
// instance of the services a proxy sees, so that the fleet's sync time
// measures serving, not Consul.
func probe(ctx context.Context, log *slog.Logger, cfg loadConfig, scfg streamConfig, ch *churn) error {
	start := time.Now()
	scfg.tracker = newTracker()
	scfg.nodeID = func(int) string { return probeID(cfg) }
	var all []*change
	for s := range cfg.seenServices() {
		c := newChange(-1, ch.serviceName(s), "", "", cfg.Instances, 1)
		scfg.tracker.add(c)
		all = append(all, c)
	}
	f := newFleet(ctx, log, scfg, streamRunner(cfg.Protocol))
	defer f.close()
	f.grow(1)
	deadline := time.NewTimer(cfg.SyncTimeout)
	defer deadline.Stop()
	for _, c := range all {
		select {
		case <-c.done:
		case err := <-f.errs:
			return fmt.Errorf("probe: %w", err)
		case <-deadline.C:
			return fmt.Errorf("probe: %s did not serve all %d instances of %s within %s", cfg.Target, cfg.Instances, c.service, cfg.SyncTimeout)
		case <-ctx.Done():
			return fmt.Errorf("probe: %w", ctx.Err())
		}
	}
	log.Info("the target serves every instance", "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// deregister removes the registered services from an external Consul.
func deregister(log *slog.Logger, ch *churn) error {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	start := time.Now()
	if err := ch.deregister(ctx); err != nil {
		return fmt.Errorf("clean up consul: %w", err)
	}
	log.Info("deregistered", "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// newReport starts a report with the scenario.
func newReport(cfg loadConfig) *report {
	return &report{Target: cfg.Target, ConsulHCL: cfg.ConsulHCL, Protocol: cfg.Protocol, Streams: cfg.Streams, Services: cfg.Services, Instances: cfg.Instances,
		Changes: cfg.Changes, Rate: cfg.Rate, PerChange: []changeResult{}}
}

// proxyID is the node id of simulated proxy i; for the consul target, also
// the id of its connect-proxy registration.
func proxyID(cfg loadConfig, i int) string { return fmt.Sprintf("%s-%d", cfg.NodePrefix, i) }

// probeID is the node id of the probe stream.
func probeID(cfg loadConfig) string { return cfg.NodePrefix + "-probe" }

// seenServices is how many services, the first ones, every proxy receives
// and the changes flip: all for Switchyard and go-control-plane, which
// send the whole catalog; the upstreams for a Consul proxy.
func (c loadConfig) seenServices() int {
	if c.Target == targetConsul {
		return min(consulUpstreams, c.Services)
	}
	return c.Services
}
