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
}

// externalTarget is a Switchyard and Consul that run already.
func externalTarget(cfg loadConfig) *target {
	return &target{xdsAddr: cfg.XDSAddr, consulAddr: cfg.ConsulAddr, adminAddr: cfg.AdminAddr,
		pid: cfg.SwitchyardPID, stop: func() error { return nil }}
}

// startTarget starts a Consul dev agent, registers the services, then
// starts `switchyard serve`, both on free loopback ports: registering first
// keeps Switchyard's watches from slowing the writes down, and Switchyard's
// start then loads the whole catalog at once. Both children get their own
// process group, so a Ctrl-C reaches only this tool, which then stops them;
// Pdeathsig kills them should it die first.
func startTarget(ctx context.Context, log *slog.Logger, cfg loadConfig) (*target, *churn, error) {
	agent, err := consulagent.Start(ctx, consulagent.Options{Binary: cfg.ConsulBin})
	if err != nil {
		return nil, nil, fmt.Errorf("start consul: %w", err)
	}
	ch, err := registerServices(ctx, log, cfg, agent.HTTPAddr)
	if err != nil {
		return nil, nil, errors.Join(err, agent.Stop())
	}
	t, err := startSwitchyard(ctx, cfg, agent.HTTPAddr)
	if err != nil {
		return nil, nil, errors.Join(err, agent.Stop())
	}
	stopSwitchyard := t.stop
	t.stop = func() error { return errors.Join(stopSwitchyard(), agent.Stop()) }
	log.Info("started", "consul", agent.HTTPAddr, "xds", t.xdsAddr, "admin", t.adminAddr, "switchyard_pid", t.pid)
	return t, ch, nil
}

// startSwitchyard runs `switchyard serve` against consulAddr, its output
// on this tool's stderr, and waits until /readyz answers 200.
func startSwitchyard(ctx context.Context, cfg loadConfig, consulAddr string) (*target, error) {
	p, err := serveproc.Start(serveproc.Options{
		Binary:     cfg.SwitchyardBin,
		ConsulAddr: consulAddr,
		Log:        os.Stderr,
		ExtraArgs:  append([]string{"--log-level", "warn"}, cfg.SwitchyardArgs...),
	})
	if err != nil {
		return nil, err
	}
	if err := p.WaitReady(ctx, readyTimeout); err != nil {
		return nil, errors.Join(err, p.Stop())
	}
	return &target{xdsAddr: p.XDSAddr, consulAddr: consulAddr, adminAddr: p.AdminAddr, pid: p.PID(), stop: p.Stop}, nil
}
