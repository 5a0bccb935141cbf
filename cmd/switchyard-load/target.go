package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/switchyard/switchyard/internal/consulagent"
	"github.com/switchyard/switchyard/internal/serveproc"
)

// readyTimeout bounds the wait for Switchyard's /readyz.
const readyTimeout = 60 * time.Second

// target is the Switchyard and Consul under measurement. pid and adminAddr
// are zero when unknown.
type target struct {
	xdsAddr, consulAddr, adminAddr string
	pid                            int
	stop                           func() error
	// beforeGrow, when set, prepares the target for proxies from..to-1
	// before the fleet grows to them (Consul: their registrations).
	beforeGrow func(ctx context.Context, from, to int) error
}

// externalTarget is a Switchyard and Consul that run already.
func externalTarget(cfg loadConfig) *target {
	return &target{xdsAddr: cfg.XDSAddr, consulAddr: cfg.ConsulAddr, adminAddr: cfg.AdminAddr,
		pid: cfg.SwitchyardPID, stop: func() error { return nil }}
}

// startTarget starts a Consul dev agent, registers the services, then
// starts the target: `switchyard serve`, or this tool's `serve` (the stock
// go-control-plane peer), both on free loopback ports, or, for Consul's own
// xDS server, the connect-proxies the fleet announces itself as.
// Registering first keeps the target's watches from slowing the writes
// down, and its start then loads the whole catalog at once. Every child
// gets its own process group, so a Ctrl-C reaches only this tool, which
// then stops them; Pdeathsig kills them should it die first.
func startTarget(ctx context.Context, log *slog.Logger, cfg loadConfig) (*target, *churn, error) {
	agent, err := consulagent.Start(ctx, consulagent.Options{Binary: cfg.ConsulBin, HCL: cfg.ConsulHCL})
	if err != nil {
		return nil, nil, fmt.Errorf("start consul: %w", err)
	}
	ch, err := registerServices(ctx, log, cfg, agent.HTTPAddr)
	if err != nil {
		return nil, nil, errors.Join(err, agent.Stop())
	}
	var t *target
	switch cfg.Target {
	case targetConsul:
		t, err = consulTarget(ctx, log, cfg, agent, ch)
		if err != nil {
			return nil, nil, errors.Join(err, agent.Stop())
		}
		log.Info("started", "consul", agent.HTTPAddr, "xds", t.xdsAddr, "consul_pid", t.pid)
		return t, ch, nil
	case targetGCP:
		t, err = startGCP(ctx, cfg, agent.HTTPAddr)
	default:
		t, err = startServe(ctx, cfg.SwitchyardBin, agent.HTTPAddr, append([]string{"--log-level", "warn"}, cfg.SwitchyardArgs...))
	}
	if err != nil {
		return nil, nil, errors.Join(err, agent.Stop())
	}
	stopChild := t.stop
	t.stop = func() error { return errors.Join(stopChild(), agent.Stop()) }
	log.Info("started", "consul", agent.HTTPAddr, "xds", t.xdsAddr, "admin", t.adminAddr, "pid", t.pid)
	return t, ch, nil
}

// startGCP starts this tool's hidden `serve` subcommand, the stock
// go-control-plane peer, as a child of its own.
func startGCP(ctx context.Context, cfg loadConfig, consulAddr string) (*target, error) {
	bin := cfg.LoadBin
	if bin == "" {
		var err error
		if bin, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("find the switchyard-load binary for the gcp peer: %w", err)
		}
	}
	return startServe(ctx, bin, consulAddr, []string{"--log-level", "warn", "--node-cluster", cfg.NodeCluster})
}

// startServe runs `<bin> serve` against consulAddr, its output on this
// tool's stderr, and waits until /readyz answers 200.
func startServe(ctx context.Context, bin, consulAddr string, args []string) (*target, error) {
	p, err := serveproc.Start(serveproc.Options{Binary: bin, ConsulAddr: consulAddr, Log: os.Stderr, ExtraArgs: args})
	if err != nil {
		return nil, err
	}
	if err := p.WaitReady(ctx, readyTimeout); err != nil {
		return nil, errors.Join(err, p.Stop())
	}
	return &target{xdsAddr: p.XDSAddr, consulAddr: consulAddr, adminAddr: p.AdminAddr, pid: p.PID(), stop: p.Stop}, nil
}
