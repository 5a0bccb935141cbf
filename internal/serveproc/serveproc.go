//go:build linux

package serveproc

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
	// stopGrace is how long the child gets after SIGTERM before SIGKILL.
	stopGrace = 5 * time.Second
	// reapTimeout bounds the wait for a killed child to be reaped.
	reapTimeout = 5 * time.Second
	// readyPoll is how often /readyz is asked while Switchyard starts.
	readyPoll = 50 * time.Millisecond
	// readyzTimeout bounds one /readyz request.
	readyzTimeout = time.Second
)

// Options configure a `switchyard serve` child process.
type Options struct {
	// Binary is the switchyard executable.
	Binary string
	// ConsulAddr is the Consul HTTP address Switchyard watches.
	ConsulAddr string
	// LogPath is a file that receives the child's stdout and stderr; it is
	// created or truncated by Start. Empty means Log is used instead.
	LogPath string
	// Log receives the child's stdout and stderr when LogPath is empty; nil
	// discards them.
	Log io.Writer
	// ExtraArgs follow the address flags on the serve command line, for
	// example "--log-level", "warn".
	ExtraArgs []string
	// XDSAddr and AdminAddr, when set, are the addresses to serve on, for
	// example those of an earlier Proc to restart on the same ports; empty
	// means a free loopback port each.
	XDSAddr, AdminAddr string
}

// Proc is a running `switchyard serve` child process. It runs in a process
// group of its own, so a Ctrl-C in the terminal reaches only the parent,
// which then stops it in order; Pdeathsig kills it should the parent die
// first.
type Proc struct {
	// XDSAddr is the "127.0.0.1:port" address of the xDS gRPC server.
	XDSAddr string
	// AdminAddr is the "127.0.0.1:port" address of the admin HTTP server,
	// which serves /readyz.
	AdminAddr string

	cmd     *exec.Cmd
	logFile *os.File      // nil unless Options.LogPath was set
	done    chan struct{} // closed once the process has been reaped
}

// Start runs opts.Binary as `switchyard serve` against opts.ConsulAddr on
// opts.XDSAddr and opts.AdminAddr, or free loopback ports. It returns once the process has started; call
// WaitReady to wait until it serves, and Stop in every case.
func Start(opts Options) (*Proc, error) {
	xdsAddr, err := addrOrFree(opts.XDSAddr)
	if err != nil {
		return nil, err
	}
	adminAddr, err := addrOrFree(opts.AdminAddr)
	if err != nil {
		return nil, err
	}
	out, logFile, err := openLog(opts)
	if err != nil {
		return nil, err
	}
	cmd := serveCommand(opts, xdsAddr, adminAddr, out)
	if err := cmd.Start(); err != nil {
		closeLog(logFile)
		return nil, fmt.Errorf("start %s: %w", opts.Binary, err)
	}
	p := &Proc{XDSAddr: xdsAddr, AdminAddr: adminAddr, cmd: cmd, logFile: logFile, done: make(chan struct{})}
	go p.reap()
	return p, nil
}

// openLog returns the writer for the child's output and, when opts.LogPath
// is set, the file behind it, which Stop closes.
func openLog(opts Options) (io.Writer, *os.File, error) {
	if opts.LogPath == "" {
		if opts.Log == nil {
			return io.Discard, nil, nil
		}
		return opts.Log, nil, nil
	}
	f, err := os.Create(opts.LogPath)
	if err != nil {
		return nil, nil, fmt.Errorf("create switchyard log: %w", err)
	}
	return f, f, nil
}

// closeLog closes the log file, if any. A close error is dropped: the
// child has stopped writing, and nothing reads the file back here.
func closeLog(f *os.File) {
	if f != nil {
		_ = f.Close()
	}
}

// serveCommand builds the serve command line with the child in a process
// group of its own and Pdeathsig set.
func serveCommand(opts Options, xdsAddr, adminAddr string, out io.Writer) *exec.Cmd {
	args := append([]string{"serve",
		"--consul-addr", opts.ConsulAddr,
		"--xds-addr", xdsAddr,
		"--admin-addr", adminAddr,
	}, opts.ExtraArgs...)
	cmd := exec.Command(opts.Binary, args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	return cmd
}

// reap waits for the child to exit and then closes p.done.
func (p *Proc) reap() {
	_ = p.cmd.Wait()
	close(p.done)
}

// PID returns the child's process id, which is also its process group id.
func (p *Proc) PID() int {
	return p.cmd.Process.Pid
}

// ProcessState returns how the child exited, or nil while it has not been
// reaped.
func (p *Proc) ProcessState() *os.ProcessState {
	if !p.exited() {
		return nil
	}
	return p.cmd.ProcessState
}

// WaitReady polls /readyz until it answers 200, the process exits, ctx is
// done or timeout passes.
func (p *Proc) WaitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: readyzTimeout}
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
func (p *Proc) readyz(ctx context.Context, hc *http.Client) (int, error) {
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

// Stop sends SIGTERM to the child's process group, SIGKILL after a grace
// period of five seconds, and waits until the child has been reaped. It
// returns an error when SIGTERM was not enough or the child was not reaped
// in time, and nil when the child had exited already.
func (p *Proc) Stop() error {
	defer closeLog(p.logFile)
	if p.exited() {
		return nil
	}
	if err := p.signalGroup(syscall.SIGTERM); err != nil {
		return fmt.Errorf("stop switchyard: %w", err)
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(stopGrace):
	}
	return p.kill()
}

// Kill sends SIGKILL to the child's process group at once, as a crash
// would end it: nothing is released or deregistered. It waits a bounded
// time for the child to be reaped; call Stop afterwards all the same, to
// close the log file.
func (p *Proc) Kill() error {
	if err := p.signalGroup(syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill switchyard: %w", err)
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(reapTimeout):
		return fmt.Errorf("switchyard pid %d not reaped after SIGKILL", p.PID())
	}
}

// kill sends SIGKILL to the child's process group and waits a bounded time
// for the child to be reaped. It always returns an error, since it runs
// only after SIGTERM was ignored.
func (p *Proc) kill() error {
	if err := p.signalGroup(syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill switchyard: %w", err)
	}
	select {
	case <-p.done:
		return fmt.Errorf("switchyard ignored SIGTERM for %s and was killed", stopGrace)
	case <-time.After(reapTimeout):
		return fmt.Errorf("switchyard pid %d not reaped after SIGKILL", p.PID())
	}
}

// signalGroup sends sig to the child's process group. A group that is gone
// already is not an error.
func (p *Proc) signalGroup(sig syscall.Signal) error {
	err := syscall.Kill(-p.PID(), sig)
	if err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal process group %d: %w", p.PID(), err)
	}
	return nil
}

// exited reports whether the child has been reaped.
func (p *Proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// addrOrFree returns addr, or a free loopback address when it is empty.
func addrOrFree(addr string) (string, error) {
	if addr != "" {
		return addr, nil
	}
	return freeLoopbackAddr()
}

// freeLoopbackAddr returns a 127.0.0.1 address whose port was free a moment
// ago. Another process could take it before Switchyard binds it; Switchyard
// then exits and WaitReady reports that.
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
