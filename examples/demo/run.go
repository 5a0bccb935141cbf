package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/spf13/cobra"

	"github.com/switchyard/switchyard/internal/consulagent"
	"github.com/switchyard/switchyard/internal/echo"
	"github.com/switchyard/switchyard/internal/grpcxds"
)

// runConfig is everything `demo run` needs, filled from its flags.
type runConfig struct {
	// Switchyard and Consul are the paths of the two binaries.
	Switchyard, Consul string
	// RPCs is the number of RPCs per round; Round is how often a round starts.
	RPCs  int
	Round time.Duration
	// Baseline is the number of rounds before any health change.
	Baseline int
	// StartTimeout bounds each start-up wait: Consul checks passing,
	// Switchyard ready, the first RPC answered.
	StartTimeout time.Duration
	// Converge bounds how long traffic may take to follow a health change.
	Converge time.Duration
	// IDs are the echo instances to start; Failing is the one whose health
	// check is failed and restored.
	IDs     []string
	Failing string
	// SplitBackends are the instances of the weighted-split act's service,
	// each with its version; SplitSteps are the splitter settings it
	// writes, in order.
	SplitBackends map[string]string
	SplitSteps    []splitStep
	// SplitRPCs is the number of RPCs per round of the split act: a
	// round is also the sample each step is checked on, and the rate
	// bounds how precisely a step's arrival is timed.
	SplitRPCs int
	// SplitTolerance is how many percentage points a version's measured
	// share may be off its weight.
	SplitTolerance float64
	// RolloutSteps and RolloutInterval are the rollout v1 → v2 that
	// completes; RollbackSteps and RollbackInterval the one whose canary
	// fails at its first step, which must hold long enough for that.
	RolloutSteps, RollbackSteps       []int
	RolloutInterval, RollbackInterval time.Duration
}

// newRunCommand builds `demo run`.
func newRunCommand() *cobra.Command {
	cfg := runConfig{
		Switchyard: "bin/switchyard", Consul: "bin/consul",
		RPCs: 200, Round: time.Second, Baseline: 3,
		StartTimeout: 30 * time.Second, Converge: 20 * time.Second,
		IDs: []string{"echo-1", "echo-2", "echo-3"}, Failing: "echo-2",
		SplitBackends: map[string]string{"web-1": "v1", "web-2": "v1", "web-3": "v2"},
		SplitSteps: []splitStep{
			{{"v1", 90}, {"v2", 10}},
			{{"v1", 50}, {"v2", 50}},
			{{"v1", 0}, {"v2", 100}},
		},
		SplitRPCs: 1000, SplitTolerance: 5,
		RolloutSteps: []int{10, 50, 100}, RolloutInterval: 3 * time.Second,
		RollbackSteps: []int{20, 60, 100}, RollbackInterval: time.Minute,
	}
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run Consul, echo backends, Switchyard and proxyless gRPC clients, and show traffic follow health and a weighted split",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.RPCs < 1 || cfg.SplitRPCs < 1 || cfg.Round <= 0 || cfg.Baseline < 1 || cfg.StartTimeout <= 0 || cfg.Converge <= 0 || cfg.SplitTolerance <= 0 {
				return usageError{errors.New("--rpcs, --split-rpcs and --baseline-rounds must be at least 1, durations and --split-tolerance positive")}
			}
			return runDemo(cmd.Context(), cmd.OutOrStdout(), cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Switchyard, "switchyard", cfg.Switchyard, "path of the switchyard binary (`make build`)")
	f.StringVar(&cfg.Consul, "consul", cfg.Consul, "path of the consul binary (`make consul`)")
	f.IntVar(&cfg.RPCs, "rpcs", cfg.RPCs, "RPCs per round")
	f.DurationVar(&cfg.Round, "round", cfg.Round, "time between the starts of two rounds")
	f.IntVar(&cfg.Baseline, "baseline-rounds", cfg.Baseline, "rounds before echo-2's health check is failed")
	f.DurationVar(&cfg.StartTimeout, "start-timeout", cfg.StartTimeout, "bound on each start-up wait")
	f.DurationVar(&cfg.Converge, "converge-timeout", cfg.Converge, "bound on traffic following a health change or a split")
	f.IntVar(&cfg.SplitRPCs, "split-rpcs", cfg.SplitRPCs, "RPCs per round of the weighted-split act, and the sample each split is checked on")
	f.Float64Var(&cfg.SplitTolerance, "split-tolerance", cfg.SplitTolerance, "percentage points a version's measured share may be off its split weight")
	return cmd
}

// runDemo starts everything, drives the traffic phases and stops everything
// again, whatever happens; ctx ends on SIGINT or SIGTERM. Anything that did
// not stop cleanly is part of the returned error, so a demo that leaves
// something behind never succeeds.
func runDemo(ctx context.Context, out io.Writer, cfg runConfig) (err error) {
	start := time.Now()
	for _, bin := range []string{cfg.Switchyard, cfg.Consul} {
		if err := checkExecutable(bin); err != nil {
			return err
		}
	}
	dir, err := os.MkdirTemp("", "switchyard-demo-")
	if err != nil {
		return fmt.Errorf("create log directory: %w", err)
	}
	var cl cleanups
	defer func() { err = errors.Join(err, cl.run(out)) }()

	fmt.Fprintf(out, "logs in %s\n", dir)
	agent, client, err := startConsul(ctx, out, cfg, filepath.Join(dir, "consul.log"), &cl)
	if err != nil {
		return err
	}
	backends, err := startBackends(ctx, out, client, serviceName, cfg.IDs, nil, &cl)
	if err != nil {
		return err
	}
	if err := waitPassing(ctx, client, serviceName, len(cfg.IDs), cfg.StartTimeout); err != nil {
		return fmt.Errorf("wait for the echo health checks: %w", err)
	}
	fmt.Fprintf(out, "consul: all %d echo instances passing\n", len(cfg.IDs))

	logPath := filepath.Join(dir, "switchyard.log")
	sy, err := startSwitchyard(cfg.Switchyard, agent.HTTPAddr, logPath)
	if err != nil {
		return err
	}
	cl.add("switchyard", sy.Stop)
	fmt.Fprintf(out, "switchyard: xDS on %s, admin on %s, log %s\n", sy.XDSAddr, sy.AdminAddr, logPath)
	if err := sy.WaitReady(ctx, cfg.StartTimeout); err != nil {
		return fmt.Errorf("%w (see %s)", err, logPath)
	}
	fmt.Fprintf(out, "switchyard: ready, %s into the demo\n", since(start))

	cc, err := grpcxds.Dial(grpcxds.BootstrapJSON(sy.XDSAddr, "demo-client", "demo"), "xds:///"+serviceName)
	if err != nil {
		return err
	}
	cl.add("grpc client", cc.Close)
	t := &traffic{out: out, cc: cc, cfg: cfg, service: serviceName, ids: cfg.IDs, start: start}
	if err := t.waitFirstAnswer(ctx); err != nil {
		return fmt.Errorf("%w (see %s)", err, logPath)
	}
	if err := t.phases(ctx, backends[cfg.Failing]); err != nil {
		return fmt.Errorf("%w (see %s)", err, logPath)
	}
	world, err := runSplit(ctx, out, client, sy.XDSAddr, cfg, start, &cl)
	if err != nil {
		return fmt.Errorf("%w (see %s)", err, logPath)
	}
	if err := runRollouts(ctx, client, world, cfg, agent.HTTPAddr); err != nil {
		return fmt.Errorf("%w (see %s)", err, logPath)
	}
	if err := runFleet(ctx, out, fleetSetup{client: client, bin: cfg.Switchyard,
		consulAddr: agent.HTTPAddr, xdsAddr: sy.XDSAddr, adminAddr: sy.AdminAddr, dir: dir}, &cl); err != nil {
		return fmt.Errorf("%w (see %s)", err, logPath)
	}
	return nil
}

// startConsul starts the dev agent, logging to logPath, and returns it with
// a client for it.
func startConsul(ctx context.Context, out io.Writer, cfg runConfig, logPath string, cl *cleanups) (*consulagent.Agent, *api.Client, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, nil, fmt.Errorf("create consul log: %w", err)
	}
	cl.add("consul log", logFile.Close)
	agent, err := consulagent.Start(ctx, consulagent.Options{Binary: cfg.Consul, Log: logFile})
	if err != nil {
		return nil, nil, fmt.Errorf("start consul: %w", err)
	}
	cl.add("consul", agent.Stop)
	c, err := agent.Client()
	if err != nil {
		return nil, nil, err
	}
	fmt.Fprintf(out, "consul: dev agent on %s, log %s\n", agent.HTTPAddr, logPath)
	return agent, c, nil
}

// startBackends starts the echo backends ids on loopback and registers each
// in Consul as an instance of service with a gRPC health check and, if
// versions has one for it, its version as Service.Meta.version.
func startBackends(ctx context.Context, out io.Writer, c *api.Client, service string, ids []string, versions map[string]string, cl *cleanups) (map[string]*echo.Backend, error) {
	backends := make(map[string]*echo.Backend, len(ids))
	for _, id := range ids {
		b, err := echo.Start("127.0.0.1:0", id)
		if err != nil {
			return nil, err
		}
		cl.add(id, func() error { b.Stop(); return nil })
		backends[id] = b
		reg := registration(service, id, "127.0.0.1", b.Port)
		version := ""
		if v, ok := versions[id]; ok {
			reg.Meta["version"] = v
			version = " version " + v
		}
		if err := c.Agent().ServiceRegisterOpts(reg, api.ServiceRegisterOpts{}.WithContext(ctx)); err != nil {
			return nil, fmt.Errorf("register %s in consul: %w", id, err)
		}
		fmt.Fprintf(out, "backend %s on %s, registered as %q%s with a gRPC health check\n", id, b.Addr, service, version)
	}
	return backends, nil
}

// checkExecutable fails with a hint when path is not an executable file.
func checkExecutable(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("%s: %w (build it with `make build` / `make consul`, or pass its path)", path, err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", path)
	}
	return nil
}

// since is the time elapsed from t, rounded for display.
func since(t time.Time) time.Duration {
	return time.Since(t).Round(100 * time.Millisecond)
}

// cleanups stops what the demo started, newest first.
type cleanups struct {
	steps []cleanupStep
}

type cleanupStep struct {
	name string
	fn   func() error
}

// add registers fn to run at cleanup under name.
func (c *cleanups) add(name string, fn func() error) {
	c.steps = append(c.steps, cleanupStep{name: name, fn: fn})
}

// run calls every registered step once, newest first, even after a step
// failed, and returns a cleanupError naming every step that failed.
func (c *cleanups) run(out io.Writer) error {
	if len(c.steps) == 0 {
		return nil
	}
	var failed []error
	for i := len(c.steps) - 1; i >= 0; i-- {
		if err := c.steps[i].fn(); err != nil {
			fmt.Fprintf(out, "cleanup: stop %s: %v\n", c.steps[i].name, err)
			failed = append(failed, fmt.Errorf("stop %s: %w", c.steps[i].name, err))
		}
	}
	c.steps = nil
	if len(failed) > 0 {
		fmt.Fprintf(out, "cleanup: %d step(s) failed; check for processes the demo left behind\n", len(failed))
		return cleanupError{errors.Join(failed...)}
	}
	fmt.Fprintln(out, "cleanup: everything the demo started is stopped")
	return nil
}

// cleanupError is a failure to stop something the demo started.
type cleanupError struct{ err error }

func (e cleanupError) Error() string { return "cleanup: " + e.err.Error() }
func (e cleanupError) Unwrap() error { return e.err }
