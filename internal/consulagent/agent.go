//go:build linux

package consulagent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/consul/api"
)

const (
	defaultStartTimeout = 30 * time.Second
	// startAttempts bounds the retries when another process takes one of the
	// chosen ports between choosing it and the agent binding it.
	startAttempts = 3
	// stopGrace is how long Stop waits after SIGTERM before SIGKILL.
	stopGrace = 5 * time.Second
	// reapTimeout bounds the wait for a killed process to be reaped.
	reapTimeout = 10 * time.Second
	// tailBytes is how much of the agent's output is kept for error reports.
	tailBytes = 16 << 10
	// pollInterval is how often the leader endpoint is polled during start.
	pollInterval = 50 * time.Millisecond
)

// errPortInUse marks a start that failed because a port was taken.
var errPortInUse = errors.New("port already in use")

// Options configure an agent. The zero value starts the binary found by
// Binary, discards its output and waits up to 30 seconds for a leader.
type Options struct {
	// Binary is the consul executable; empty means Binary().
	Binary string
	// Log receives the agent's stdout and stderr; nil discards them.
	Log io.Writer
	// StartTimeout bounds Start, retries included; zero means 30 seconds.
	StartTimeout time.Duration
	// HCL is extra agent configuration, each element passed as one -hcl
	// flag, for example to enable ACLs. Ports and addresses are Start's.
	HCL []string
}

// Agent is a running `consul agent -dev` bound to 127.0.0.1 on ports of its
// own, so any number of agents can run side by side.
type Agent struct {
	// HTTPAddr is the "127.0.0.1:port" address of the HTTP API.
	HTTPAddr string
	// GRPCAddr is the "127.0.0.1:port" address of the plaintext gRPC port,
	// where Consul's own xDS server listens.
	GRPCAddr string
	// NodeName is the agent's node name, unique per agent.
	NodeName string

	cmd  *exec.Cmd
	done chan struct{} // closed once the process has been reaped
	tail *tailBuffer
}

// Start runs a dev agent and returns once it has elected itself leader. It
// retries with fresh ports, up to three times, when a port was taken. The
// context bounds only the start; the agent runs until Stop or Kill.
func Start(ctx context.Context, opts Options) (*Agent, error) {
	bin := opts.Binary
	if bin == "" {
		var err error
		if bin, err = Binary(); err != nil {
			return nil, err
		}
	}
	timeout := opts.StartTimeout
	if timeout <= 0 {
		timeout = defaultStartTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var err error
	for range startAttempts {
		var a *Agent
		a, err = startOnce(ctx, bin, opts)
		if err == nil {
			return a, nil
		}
		if !errors.Is(err, errPortInUse) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("start consul agent after %d attempts: %w", startAttempts, err)
}

// startOnce starts one agent on freshly chosen ports and waits for a leader.
// On any failure the process is killed and reaped before returning.
func startOnce(ctx context.Context, bin string, opts Options) (*Agent, error) {
	p, err := freePorts()
	if err != nil {
		return nil, fmt.Errorf("start consul agent: %w", err)
	}
	a := &Agent{
		HTTPAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(p.HTTP)),
		GRPCAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(p.GRPC)),
		NodeName: "switchyard-dev-" + strconv.Itoa(p.HTTP),
		done:     make(chan struct{}),
		tail:     &tailBuffer{max: tailBytes},
	}
	var out io.Writer = a.tail
	if opts.Log != nil {
		out = io.MultiWriter(a.tail, opts.Log)
	}
	a.cmd = exec.Command(bin, agentArgs(p, a.NodeName, opts.HCL)...)
	a.cmd.Stdout, a.cmd.Stderr = out, out
	a.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := a.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() {
		_ = a.cmd.Wait()
		close(a.done)
	}()
	if err := a.waitLeader(ctx); err != nil {
		_ = a.Kill()
		if strings.Contains(a.tail.String(), "address already in use") {
			err = fmt.Errorf("%w: %w", errPortInUse, err)
		}
		return nil, fmt.Errorf("consul agent on %s: %w\nagent log tail:\n%s", a.HTTPAddr, err, a.LogTail())
	}
	return a, nil
}

// agentArgs are the command-line arguments of a loopback dev agent on p,
// followed by one -hcl flag per element of hcl.
func agentArgs(p ports, node string, hcl []string) []string {
	args := []string{
		"agent", "-dev",
		"-node", node,
		"-bind", "127.0.0.1",
		"-client", "127.0.0.1",
		"-http-port", strconv.Itoa(p.HTTP),
		"-grpc-port", strconv.Itoa(p.GRPC),
		"-dns-port", "-1",
		"-serf-lan-port", strconv.Itoa(p.SerfLAN),
		"-serf-wan-port", strconv.Itoa(p.SerfWAN),
		"-server-port", strconv.Itoa(p.Server),
		"-hcl", fmt.Sprintf("ports { grpc_tls = %d }", p.GRPCTLS),
	}
	for _, h := range hcl {
		args = append(args, "-hcl", h)
	}
	return args
}

// waitLeader polls /v1/status/leader until it names a leader, the process
// exits or ctx ends.
func (a *Agent) waitLeader(ctx context.Context) error {
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: time.Second}
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		if leader, err := a.leader(ctx, hc); err == nil && leader != "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for leader: %w", ctx.Err())
		case <-a.done:
			return fmt.Errorf("agent exited during start: %v", a.cmd.ProcessState)
		case <-tick.C:
		}
	}
}

// leader returns the address /v1/status/leader reports, "" while there is
// none.
func (a *Agent) leader(ctx context.Context, hc *http.Client) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+a.HTTPAddr+"/v1/status/leader", nil)
	if err != nil {
		return "", err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %d", resp.StatusCode)
	}
	return strings.Trim(strings.TrimSpace(string(body)), `"`), nil
}

// Stop asks the agent to shut down with SIGTERM, sends SIGKILL if it is still
// running five seconds later, and waits until it has exited. Calling it again,
// or after Kill, returns nil.
func (a *Agent) Stop() error {
	if a.exited() {
		return nil
	}
	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stop consul agent: %w", err)
	}
	grace := time.NewTimer(stopGrace)
	defer grace.Stop()
	select {
	case <-a.done:
		return nil
	case <-grace.C:
	}
	return a.Kill()
}

// Kill sends SIGKILL at once and waits until the agent has exited, for tests
// of "Consul died". Calling it again, or after Stop, returns nil.
func (a *Agent) Kill() error {
	if a.exited() {
		return nil
	}
	if err := a.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("kill consul agent: %w", err)
	}
	reap := time.NewTimer(reapTimeout)
	defer reap.Stop()
	select {
	case <-a.done:
		return nil
	case <-reap.C:
		return fmt.Errorf("kill consul agent: pid %d not reaped after %s", a.cmd.Process.Pid, reapTimeout)
	}
}

// exited reports whether the process has been reaped.
func (a *Agent) exited() bool {
	select {
	case <-a.done:
		return true
	default:
		return false
	}
}

// Client returns a Consul API client for the agent's HTTP address.
func (a *Agent) Client() (*api.Client, error) {
	c, err := api.NewClient(&api.Config{Address: a.HTTPAddr, Scheme: "http"})
	if err != nil {
		return nil, fmt.Errorf("consul client for %s: %w", a.HTTPAddr, err)
	}
	return c, nil
}

// LogTail returns the last few kilobytes the agent wrote to stdout and
// stderr.
func (a *Agent) LogTail() string {
	return a.tail.String()
}

// PID returns the agent's process id, so that a caller can read its CPU
// time and memory from /proc.
func (a *Agent) PID() int {
	return a.cmd.Process.Pid
}

// Pause stops the agent with SIGSTOP, as a hung process or a paused VM
// would: its sockets stay open and nothing answers. It returns once every
// thread of the agent is stopped: the signal takes effect asynchronously,
// and a thread running on another CPU could otherwise still answer a
// request sent just after. Call Resume before Stop, which cannot end a
// stopped agent gracefully.
func (a *Agent) Pause() error {
	if err := a.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		return fmt.Errorf("pause consul agent: %w", err)
	}
	return waitStopped(a.cmd.Process.Pid, 5*time.Second)
}

// waitStopped waits until every thread of process pid is in the stopped
// state ("T" in /proc/<pid>/task/<tid>/stat), polling for at most limit.
func waitStopped(pid int, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		stopped, err := allThreadsStopped(pid)
		if err != nil {
			return fmt.Errorf("pause consul agent: %w", err)
		}
		if stopped {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pause consul agent: threads of pid %d still running after %s", pid, limit)
		}
		time.Sleep(time.Millisecond)
	}
}

// allThreadsStopped reports whether every thread of pid is stopped.
func allThreadsStopped(pid int) (bool, error) {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return false, err
	}
	for _, task := range tasks {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stat", pid, task.Name()))
		if err != nil {
			// A thread that exited is not running.
			continue
		}
		// The state follows the command name, which is in parentheses
		// and may itself hold spaces or parentheses.
		i := strings.LastIndexByte(string(stat), ')')
		if i < 0 || i+2 >= len(stat) {
			return false, fmt.Errorf("unexpected /proc stat %q", stat)
		}
		if state := stat[i+2]; state != 'T' && state != 't' {
			return false, nil
		}
	}
	return true, nil
}

// Resume continues a paused agent with SIGCONT. Resuming an agent that
// runs is harmless.
func (a *Agent) Resume() error {
	if err := a.cmd.Process.Signal(syscall.SIGCONT); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("resume consul agent: %w", err)
	}
	return nil
}
