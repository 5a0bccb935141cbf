package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/switchyard/switchyard/internal/consulagent"
)

// liftedHCL is the Consul agent configuration of the consul-lifted run:
// Consul 1.14's cap on proxy snapshot updates per second (default 250,
// agent/config/default.go), lifted.
const liftedHCL = "xds { update_max_per_second = 1000000 }"

// benchTarget is one column of the comparison.
type benchTarget struct {
	Name     string   `json:"name"`
	Target   string   `json:"target"`
	Protocol string   `json:"protocol"`
	HCL      []string `json:"consul_hcl,omitempty"`
}

// benchTargets are every target the bench knows, in table order.
var benchTargets = []benchTarget{
	{Name: "switchyard-sotw", Target: targetSwitchyard, Protocol: "sotw"},
	{Name: "switchyard-delta", Target: targetSwitchyard, Protocol: "delta"},
	{Name: "gcp-sotw", Target: targetGCP, Protocol: "sotw"},
	{Name: "gcp-delta", Target: targetGCP, Protocol: "delta"},
	{Name: "consul-defaults", Target: targetConsul, Protocol: "delta"},
	{Name: "consul-lifted", Target: targetConsul, Protocol: "delta", HCL: []string{liftedHCL}},
}

// benchConfig is the command line of `switchyard-load bench`.
type benchConfig struct {
	Out, Micro, From           string
	Targets                    []string
	Streams, SlopeStreams      int
	Services, Instances        int
	Changes                    int
	SotWChanges                int
	SteadyRate                 float64
	SteadyChanges              int
	StalledPercent             float64
	StalledChanges             int
	WriteRate                  int
	SwitchyardBin, ConsulBin   string
	LoadBin                    string
	SyncTimeout, ChangeTimeout time.Duration
}

// defaultBenchConfig is the scenario of `make bench`.
func defaultBenchConfig() benchConfig {
	names := make([]string, len(benchTargets))
	for i, t := range benchTargets {
		names[i] = t.Name
	}
	return benchConfig{
		Out: "BENCHMARKS.md", Targets: names, Streams: 1000, SlopeStreams: 1500, Services: 1000, Instances: 10,
		Changes: 10, SotWChanges: 3, SteadyRate: 1000, SteadyChanges: 2000, StalledPercent: 1, StalledChanges: 5, WriteRate: 1500, SwitchyardBin: "bin/switchyard",
		SyncTimeout: 3 * time.Minute, ChangeTimeout: 15 * time.Second,
	}
}

// newBenchCommand builds `switchyard-load bench`.
func newBenchCommand(logOut io.Writer) *cobra.Command {
	bc := defaultBenchConfig()
	var verbose bool
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Run the side-by-side comparison of Switchyard, go-control-plane and Consul and write BENCHMARKS.md",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			level := slog.LevelWarn
			if verbose {
				level = slog.LevelInfo
			}
			log := slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: level})).With("component", "bench")
			return runBench(cmd.Context(), log, bc)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&bc.Out, "out", bc.Out, "Markdown file to write")
	fs.StringVar(&bc.Micro, "micro", bc.Micro, "file holding the Go micro-benchmark output, included raw")
	fs.StringVar(&bc.From, "from", bc.From, "run nothing: write --out from the raw results (the JSON block of an earlier BENCHMARKS.md, saved to a file) and --micro, e.g. after a change to the tables")
	fs.StringSliceVar(&bc.Targets, "targets", bc.Targets, "targets to run, in order")
	fs.IntVar(&bc.Streams, "streams", bc.Streams, "simulated Envoys")
	fs.IntVar(&bc.SlopeStreams, "slope-streams", bc.SlopeStreams, "grow the fleet to this many for memory per idle stream (0: off)")
	fs.IntVar(&bc.Services, "services", bc.Services, "services registered in Consul")
	fs.IntVar(&bc.Instances, "instances", bc.Instances, "instances per service")
	fs.IntVar(&bc.Changes, "changes", bc.Changes, "one-at-a-time single-endpoint changes")
	fs.IntVar(&bc.SotWChanges, "sotw-changes", bc.SotWChanges, "one-at-a-time changes against the state-of-the-world targets, each a push of every endpoint assignment to every stream")
	fs.Float64Var(&bc.SteadyRate, "steady-rate", bc.SteadyRate, "changes per second of the steady-churn phase")
	fs.IntVar(&bc.SteadyChanges, "steady-changes", bc.SteadyChanges, "changes of the steady-churn phase (0: off); run against the delta targets but Consul")
	fs.Float64Var(&bc.StalledPercent, "stalled-percent", bc.StalledPercent, "share of the streams stalled for --changes more changes (0: off)")
	fs.IntVar(&bc.StalledChanges, "stalled-changes", bc.StalledChanges, "changes with streams stalled")
	fs.IntVar(&bc.WriteRate, "write-rate", bc.WriteRate, "most Consul writes per second")
	fs.StringVar(&bc.SwitchyardBin, "switchyard", bc.SwitchyardBin, "switchyard binary")
	fs.StringVar(&bc.ConsulBin, "consul", bc.ConsulBin, "consul binary (default: bin/consul of the repository)")
	fs.StringVar(&bc.LoadBin, "load-bin", bc.LoadBin, "switchyard-load binary for the gcp peer (default: this one)")
	fs.DurationVar(&bc.SyncTimeout, "sync-timeout", bc.SyncTimeout, "bound of each initial sync")
	fs.DurationVar(&bc.ChangeTimeout, "change-timeout", bc.ChangeTimeout, "how long a change may take to reach every stream")
	fs.BoolVarP(&verbose, "verbose", "v", false, "log progress to stderr")
	return cmd
}

// benchRun is one target's run: its report, or why there is none.
type benchRun struct {
	benchTarget
	Report      *report `json:"report,omitempty"`
	Error       string  `json:"error,omitempty"`
	WallSeconds float64 `json:"wall_seconds"`
}

// benchResults is everything BENCHMARKS.md is computed from.
type benchResults struct {
	Started     time.Time   `json:"started"`
	TookSeconds float64     `json:"took_seconds"`
	Machine     machineInfo `json:"machine"`
	Scenario    benchConfig `json:"scenario"`
	Runs        []benchRun  `json:"runs"`
	Micro       string      `json:"-"`
}

// machineInfo is the machine and the versions measured.
type machineInfo struct {
	CPUs              int    `json:"cpus"`
	CPUModel          string `json:"cpu_model"`
	Memory            string `json:"memory"`
	Go                string `json:"go"`
	GoControlPlane    string `json:"go_control_plane"`
	Consul            string `json:"consul"`
	SwitchyardVersion string `json:"switchyard"`
	// LoadStart and LoadEnd are /proc/loadavg before and after the runs:
	// the machine is shared, and the figures are only as quiet as it was.
	LoadStart string `json:"loadavg_start"`
	LoadEnd   string `json:"loadavg_end"`
}

// runBench runs every target in turn, each against a Consul of its own,
// and writes the Markdown. A target that fails is reported as such and the
// others still run.
func runBench(ctx context.Context, log *slog.Logger, bc benchConfig) error {
	if bc.From != "" {
		return rerender(bc)
	}
	res := &benchResults{Started: time.Now(), Scenario: bc, Machine: machine(bc)}
	micro, err := readMicro(bc.Micro)
	if err != nil {
		return err
	}
	res.Micro = micro
	for _, name := range bc.Targets {
		bt, ok := findBenchTarget(name)
		if !ok {
			return usageError{fmt.Errorf("--targets: unknown target %q", name)}
		}
		start := time.Now()
		r, err := benchOne(ctx, log, bc, bt)
		run := benchRun{benchTarget: bt, Report: r, WallSeconds: time.Since(start).Seconds()}
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			run.Error = err.Error()
			log.Warn("target failed", "target", name, "error", err)
		}
		log.Info("target done", "target", name, "took", time.Since(start).Round(time.Second))
		res.Runs = append(res.Runs, run)
	}
	res.TookSeconds = time.Since(res.Started).Seconds()
	res.Machine.LoadEnd = loadAverage()
	return writeBenchFile(bc.Out, res)
}

// writeBenchFile writes the Markdown of res to path.
func writeBenchFile(path string, res *benchResults) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return errors.Join(writeBenchMarkdown(f, res), f.Close())
}

// rerender writes bc.Out from the results in bc.From; --micro, when
// given, replaces their micro-benchmark output.
func rerender(bc benchConfig) error {
	b, err := os.ReadFile(bc.From)
	if err != nil {
		return fmt.Errorf("read results: %w", err)
	}
	var res benchResults
	if err := json.Unmarshal(b, &res); err != nil {
		return fmt.Errorf("decode results %s: %w", bc.From, err)
	}
	if bc.Micro != "" {
		if res.Micro, err = readMicro(bc.Micro); err != nil {
			return err
		}
	}
	return writeBenchFile(bc.Out, &res)
}

// readMicro reads the micro-benchmark output, "" for no file.
func readMicro(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read micro-benchmarks: %w", err)
	}
	return string(b), nil
}

// findBenchTarget looks a target up by name.
func findBenchTarget(name string) (benchTarget, bool) {
	for _, t := range benchTargets {
		if t.Name == name {
			return t, true
		}
	}
	return benchTarget{}, false
}

// benchOne runs the scenario against one target. A failure after the
// first changes returns what was measured before it with the error.
func benchOne(ctx context.Context, log *slog.Logger, bc benchConfig, bt benchTarget) (r *report, err error) {
	cfg := defaultConfig()
	cfg.Start, cfg.Target, cfg.Protocol, cfg.ConsulHCL = true, bt.Target, bt.Protocol, bt.HCL
	cfg.SwitchyardBin, cfg.ConsulBin, cfg.LoadBin = bc.SwitchyardBin, bc.ConsulBin, bc.LoadBin
	cfg.Streams, cfg.SlopeStreams, cfg.Services, cfg.Instances = bc.Streams, bc.SlopeStreams, bc.Services, bc.Instances
	cfg.Changes, cfg.WriteRate = bc.Changes, bc.WriteRate
	cfg.StalledPercent, cfg.StalledChanges = bc.StalledPercent, bc.StalledChanges
	cfg.SyncTimeout, cfg.ChangeTimeout = bc.SyncTimeout, bc.ChangeTimeout
	if bt.Protocol == "sotw" {
		// A state-of-the-world change pushes every endpoint assignment
		// to every stream: more than a few, a steady churn or the
		// stalled phase do not fit the time budget.
		cfg.Changes, cfg.StalledPercent = bc.SotWChanges, 0
	} else if bt.Target != targetConsul {
		// Consul proxies have one upstream, whose changes go one at a
		// time.
		cfg.SteadyRate, cfg.SteadyChanges = bc.SteadyRate, bc.SteadyChanges
	}
	if err := cfg.validate(); err != nil {
		return nil, usageError{err}
	}
	log.Info("target", "name", bt.Name)
	tgt, ch, err := startTarget(ctx, log, cfg)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, tgt.stop()) }()
	return measure(ctx, log, cfg, tgt, ch)
}

// machine describes this machine and the versions measured.
func machine(bc benchConfig) machineInfo {
	m := machineInfo{CPUs: runtime.NumCPU(), Go: runtime.Version(), CPUModel: procField("/proc/cpuinfo", "model name"),
		Memory: procField("/proc/meminfo", "MemTotal"), LoadStart: loadAverage()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/envoyproxy/go-control-plane" {
				m.GoControlPlane = d.Version
			}
		}
	}
	consul := bc.ConsulBin
	if consul == "" {
		consul, _ = consulagent.Binary()
	}
	m.Consul = firstLine(consul, "version")
	m.SwitchyardVersion = firstLine(bc.SwitchyardBin, "version")
	return m
}

// procField returns the value of the first "key: value" line of a /proc
// file, or "unknown".
func procField(path, key string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "unknown"
	}
	for line := range strings.Lines(string(b)) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// firstLine runs bin with args and returns the first line of its output,
// or "unknown".
func firstLine(bin string, args ...string) string {
	if bin == "" {
		return "unknown"
	}
	out, err := exec.Command(bin, args...).Output()
	if err != nil {
		return "unknown"
	}
	line, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(line)
}

// loadAverage returns the 1, 5 and 15 minute load averages, or "unknown".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
