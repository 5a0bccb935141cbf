package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"syscall"
	"time"
)

const (
	// stopGrace is how long a child gets after SIGTERM before SIGKILL.
	stopGrace = 5 * time.Second
	// reapTimeout bounds the wait for a killed child to be reaped.
	reapTimeout = 5 * time.Second
	// readyPoll is how often /readyz is asked while Switchyard starts.
	readyPoll = 100 * time.Millisecond
)

// switchyardProc is a `switchyard serve` child process on loopback ports.
type switchyardProc struct {
	// XDSAddr is where the xDS gRPC server listens.
	XDSAddr string
	// AdminAddr is where the admin HTTP server (/readyz) listens.
	AdminAddr string

	cmd  *exec.Cmd
	log  *os.File
	done chan struct{} // closed once the process has been reaped
}

// startSwitchyard runs bin as `switchyard serve` against consulAddr on two
// free loopback ports, writing its logs to logPath. The child gets its own
// process group, so a Ctrl-C in the terminal reaches only the demo, which
// then stops it in order; Pdeathsig kills it should the demo die first.
func startSwitchyard(bin, consulAddr, logPath string) (*switchyardProc, error) {
	xdsAddr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	adminAddr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("create switchyard log: %w", err)
	}
	cmd := exec.Command(bin, "serve",
		"--consul-addr", consulAddr,
		"--xds-addr", xdsAddr,
		"--admin-addr", adminAddr,
		"--log-level", "info",
		"--log-format", "text",
	)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	p := &switchyardProc{XDSAddr: xdsAddr, AdminAddr: adminAddr, cmd: cmd, log: logFile, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// waitReady polls /readyz until it answers 200, the process exits or
// timeout passes.
func (p *switchyardProc) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: time.Second}
	tick := time.NewTicker(readyPoll)
	defer tick.Stop()
	last := "no answer yet"
	for range int(timeout/readyPoll) + 1 {
		status, err := p.readyz(ctx, hc)
		switch {
		case err != nil:
			last = err.Error()
		case status == http.StatusOK:
			return nil
		default:
			last = fmt.Sprintf("status %d", status)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("switchyard not ready (last /readyz: %s): %w", last, ctx.Err())
		case <-p.done:
			return fmt.Errorf("switchyard exited during start: %v", p.cmd.ProcessState)
		case <-tick.C:
		}
	}
	return fmt.Errorf("switchyard not ready after %s (last /readyz: %s)", timeout, last)
}

// readyz asks /readyz once and returns the HTTP status.
func (p *switchyardProc) readyz(ctx context.Context, hc *http.Client) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.AdminAddr+"/readyz", nil)
	if err != nil {
		return 0, fmt.Errorf("build /readyz request: %w", err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("get /readyz: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, nil
}

// stop sends SIGTERM to the child's process group, SIGKILL after
// stopGrace, and waits until the child has been reaped.
func (p *switchyardProc) stop() error {
	defer p.log.Close()
	if p.exited() {
		return nil
	}
	pgid := p.cmd.Process.Pid
	if err := syscall.Kill(-pgid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("stop switchyard: %w", err)
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(stopGrace):
	}
	if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill switchyard: %w", err)
	}
	select {
	case <-p.done:
		return fmt.Errorf("switchyard ignored SIGTERM for %s and was killed", stopGrace)
	case <-time.After(reapTimeout):
		return fmt.Errorf("switchyard pid %d not reaped after SIGKILL", pgid)
	}
}

// exited reports whether the child has been reaped.
func (p *switchyardProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// freeLoopbackAddr returns a 127.0.0.1 address whose port was free a moment
// ago. Another process could take it before Switchyard binds it; Switchyard
// then exits and waitReady reports that.
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
