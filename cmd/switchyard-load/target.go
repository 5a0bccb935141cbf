package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/switchyard/switchyard/internal/consulagent"
)

const (
	// stopGrace is how long Switchyard gets after SIGTERM before SIGKILL.
	stopGrace = 5 * time.Second
	// readyTimeout bounds the wait for Switchyard's /readyz.
	readyTimeout = 60 * time.Second
	readyPoll    = 50 * time.Millisecond
)

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

// startSwitchyard runs `switchyard serve` against consulAddr and waits
// until /readyz answers 200.
func startSwitchyard(ctx context.Context, cfg loadConfig, consulAddr string) (*target, error) {
	xdsAddr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	adminAddr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	args := append([]string{"serve", "--consul-addr", consulAddr, "--xds-addr", xdsAddr,
		"--admin-addr", adminAddr, "--log-level", "warn"}, cfg.SwitchyardArgs...)
	cmd := exec.Command(cfg.SwitchyardBin, args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", cfg.SwitchyardBin, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	t := &target{xdsAddr: xdsAddr, consulAddr: consulAddr, adminAddr: adminAddr, pid: cmd.Process.Pid,
		stop: func() error { return stopProcess(cmd.Process.Pid, done) }}
	if err := waitReady(ctx, adminAddr, done); err != nil {
		return nil, errors.Join(err, t.stop())
	}
	return t, nil
}

// waitReady polls /readyz until it answers 200, the process exits or
// readyTimeout passes.
func waitReady(ctx context.Context, adminAddr string, exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	hc := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(readyPoll)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+adminAddr+"/readyz", nil)
		if err != nil {
			return fmt.Errorf("switchyard readiness: %w", err)
		}
		if resp, err := hc.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("switchyard not ready: %w", ctx.Err())
		case <-exited:
			return errors.New("switchyard exited during start")
		case <-tick.C:
		}
	}
}

// stopProcess sends SIGTERM to the process group of pid, SIGKILL after
// stopGrace, and waits until the process has been reaped.
func stopProcess(pid int, done <-chan struct{}) error {
	select {
	case <-done:
		return nil
	default:
	}
	if err := syscall.Kill(-pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("stop switchyard: %w", err)
	}
	select {
	case <-done:
		return nil
	case <-time.After(stopGrace):
	}
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill switchyard: %w", err)
	}
	select {
	case <-done:
		return fmt.Errorf("switchyard ignored SIGTERM for %s and was killed", stopGrace)
	case <-time.After(stopGrace):
		return fmt.Errorf("switchyard pid %d not reaped after SIGKILL", pid)
	}
}

// freeLoopbackAddr returns a 127.0.0.1 address whose port was free a moment
// ago; should another process take it first, Switchyard exits and
// waitReady says so.
func freeLoopbackAddr() (string, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	addr := lis.Addr().String()
	if err := lis.Close(); err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	return addr, nil
}
